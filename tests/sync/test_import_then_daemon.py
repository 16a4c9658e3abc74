"""import-history before the daemon ever ran, with the default config (no sync.start_at): the import
ends at its own "now", and the daemon's first run goes on from there, not from its own now (the
orders placed in between were in neither)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.commands import refuse_unsafe_first_run
from connector.errors import ConfigError
from connector.history.importer import HistoricalImport
from sync_world import line


async def import_then_wait(world, hours: float):
    """A past order, import-history (default until: its now), an order placed `hours` later."""
    world.start_at = None
    past = world.add_order([line("TEE-M")])
    world.clock.advance(3600)
    rt = await world.runtime()
    rt.settings.historical_import.enabled = True
    report = await HistoricalImport(rt, since=None, until=None).run()
    assert not report.interrupted and len(world.sales(past)) == 1
    world.clock.advance(60)
    between = world.add_order([line("MUG-01")])
    world.clock.advance(hours * 3600)
    return rt, report, between


async def test_the_daemons_first_run_goes_on_from_where_the_import_ended(db_world):
    rt, imported, between = await import_then_wait(db_world, 1)
    rt.settings.historical_import.enabled = False  # set back, as the import's message asks
    refuse_unsafe_first_run(rt.settings, rt.store)  # less than a day back: allowed

    report = await db_world.cycle()

    assert report.window_start <= imported.until
    assert len(db_world.sales(between)) == 1


async def test_a_first_run_more_than_a_day_after_the_import_is_refused_unless_enabled(world):
    rt, imported, between = await import_then_wait(world, 30)
    refuse_unsafe_first_run(rt.settings, rt.store)  # still enabled: it may reach back
    rt.settings.historical_import.enabled = False

    with pytest.raises(ConfigError) as refused:
        refuse_unsafe_first_run(rt.settings, rt.store)

    message = str(refused.value)
    assert f"--since {imported.until:%Y-%m-%dT%H:%M:%SZ}" in message and "sync.start_at" in message
    assert world.sales(between) == []
    # An explicit start_at is the operator's choice of where the daemon starts: not refused.
    rt.settings.sync.start_at = world.clock.now() - timedelta(hours=1)
    refuse_unsafe_first_run(rt.settings, rt.store)
