"""The database statements and commits an imported order costs, counted on the engine.

Why a test: on this path the CPU per order is mostly SQL statement overhead (about 100 µs of
SQLAlchemy per statement), so a statement added per order is a regression this catches. Counted over
a whole import through the simulators (index refresh, checkpoints and refunds included), one order
at a time so the count is the same on every run.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import event

from connector.history.importer import HistoricalImport
from connector.sync.transitions import Outcome


def _make_world(database_url: str, **options):
    """The import tests' world (tests/history/conftest.py), with more orders than its fixture."""
    spec = importlib.util.spec_from_file_location("history_worlds", Path(__file__).with_name("conftest.py"))
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module  # its dataclass looks its module up there
        spec.loader.exec_module(module)
    return module.make_world(database_url, **options)

# What an order created in X-Series costs (the import's own statements spread over its orders).
# Before the order path read its binding and each product's deletion one statement at a time, and
# customers and products with separate binding and index reads, this was above 19.
MAX_STATEMENTS_PER_ORDER = 15.6
MAX_COMMITS_PER_ORDER = 5.4


async def test_an_imported_order_costs_at_most_its_statements(database_url):
    world = _make_world(database_url, orders=150, seed=7)
    rt = await world.runtime()
    counts: Counter = Counter()

    def statement(conn, cursor, sql, params, context, executemany):
        counts["statements"] += 1

    def commit(conn):
        counts["commits"] += 1

    event.listen(rt.store.engine, "before_cursor_execute", statement)
    event.listen(rt.store.engine, "commit", commit)
    try:
        report = await HistoricalImport(rt, since=None, until=None, concurrency=1).run()
    finally:
        event.remove(rt.store.engine, "before_cursor_execute", statement)
        event.remove(rt.store.engine, "commit", commit)
        await rt.aclose()
        rt.store.close()
    created = report.cycle.outcomes[Outcome.CREATED]
    assert not report.cycle.failed and created >= 100, report.cycle.outcomes
    per_order = {kind: count / created for kind, count in counts.items()}
    assert per_order["statements"] <= MAX_STATEMENTS_PER_ORDER, per_order
    assert per_order["commits"] <= MAX_COMMITS_PER_ORDER, per_order
