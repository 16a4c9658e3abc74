"""An interrupted import run again without --until resumes (review, item 6). Its default until is
"now" while the daemon has no cursor and sync.start_at is unset (the example config), and a run
resumed only the run of its exact range: every run again started over from the first order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from connector.history.importer import HistoricalImport
from connector.values import parse_rfc2822
from connector.store.import_runs import ImportRun


def runs(rt) -> list[ImportRun]:
    with rt.store.session() as s:
        return list(s.exec(select(ImportRun).order_by(ImportRun.id)))


async def interrupted_import(rt, *, at: int, until=None, checkpoint_every: int = 5):
    """An import stopped (Ctrl-C) while its `at`-th order is in hand."""
    stop, mirrored = asyncio.Event(), 0
    cycle = rt.cycle(stop_event=stop)
    inner = cycle.mirror_one

    async def stopping(order, report):
        nonlocal mirrored
        mirrored += 1
        if mirrored == at:
            stop.set()
        return await inner(order, report)

    cycle.mirror_one = stopping
    original, rt.cycle = rt.cycle, lambda *args, **kwargs: cycle
    try:
        report = await HistoricalImport(rt, since=None, until=until, stop_event=stop,
                                        checkpoint_every=checkpoint_every).run()
    finally:
        rt.cycle = original
    assert report.interrupted
    return report


async def test_an_import_without_until_resumes_the_unfinished_run_from_the_same_since(import_world):
    w = import_world
    rt = await w.runtime()
    rt.settings.sync.start_at = None  # the daemon has not run, no start_at: the default until is now
    try:
        first = await interrupted_import(rt, at=20)

        w.clock.advance(30)  # run again 30 s later
        second = await HistoricalImport(rt, since=None, until=None).run()
        # Resumed from its checkpoint and carried up to this run's now: the orders after the first
        # run's now are imported too.
        assert second.resumed_from is not None and second.until > first.until and not second.interrupted
        [run] = runs(rt)
        assert run.resumed == 1 and run.finished_at is not None

        # Finished, the next import without --until is a new run again (up to the new "now").
        w.clock.advance(30)
        third = await HistoricalImport(rt, since=None, until=None).run()
        assert third.resumed_from is None and third.until > first.until and len(runs(rt)) == 2
    finally:
        await rt.aclose()
        rt.store.close()


async def test_an_import_without_until_carries_a_narrower_unfinished_run_to_now(import_world):
    # An interrupted `--until` 57 days ago, then an import without --until (review): it resumed the
    # old run and stopped at its until, "done", leaving every order created since unimported.
    w = import_world
    rt = await w.runtime()
    rt.settings.sync.start_at = None
    try:
        early = w.clock.now() - timedelta(days=57)
        await interrupted_import(rt, at=3, until=early, checkpoint_every=1)

        second = await HistoricalImport(rt, since=None, until=None).run()
        assert second.resumed_from is not None and second.until == w.clock.now() and not second.interrupted
        later = [order_id for order_id, order in w.bc.orders.items() if parse_rfc2822(order["date_created"]) > early]
        assert later, "the seeded store has orders after the first run's until"
        # Each decided on (a binding: its sale, or recorded as not imported), none left unread.
        assert sorted(rt.store.order_bindings(later)) == sorted(later)
        [run] = runs(rt)
        assert run.finished_at is not None and run.until == second.until
    finally:
        await rt.aclose()
        rt.store.close()
