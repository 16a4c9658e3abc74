"""An interrupted import run again without --until resumes (review, item 6). Its default until is
"now" while the daemon has no cursor and sync.start_at is unset (the example config), and a run
resumed only the run of its exact range: every run again started over from the first order."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from connector.history.importer import HistoricalImport
from connector.store.import_runs import ImportRun


def runs(rt) -> list[ImportRun]:
    with rt.store.session() as s:
        return list(s.exec(select(ImportRun).order_by(ImportRun.id)))


async def test_an_import_without_until_resumes_the_unfinished_run_from_the_same_since(import_world):
    w = import_world
    rt = await w.runtime()
    rt.settings.sync.start_at = None  # the daemon has not run, no start_at: the default until is now
    try:
        stop, mirrored = asyncio.Event(), 0
        cycle = rt.cycle(stop_event=stop)
        inner = cycle.mirror_one

        async def stopping_at_the_20th(order, report):  # Ctrl-C while the 20th order is in hand
            nonlocal mirrored
            mirrored += 1
            if mirrored == 20:
                stop.set()
            return await inner(order, report)

        cycle.mirror_one = stopping_at_the_20th
        original, rt.cycle = rt.cycle, lambda *args, **kwargs: cycle
        first = await HistoricalImport(rt, since=None, until=None, stop_event=stop, checkpoint_every=5).run()
        rt.cycle = original
        assert first.interrupted

        w.clock.advance(30)  # run again 30 s later
        second = await HistoricalImport(rt, since=None, until=None).run()
        assert second.resumed_from is not None and second.until == first.until and not second.interrupted
        [run] = runs(rt)
        assert run.resumed == 1 and run.finished_at is not None

        # Finished, the next import without --until is a new run again (up to the new "now").
        w.clock.advance(30)
        third = await HistoricalImport(rt, since=None, until=None).run()
        assert third.resumed_from is None and third.until > first.until and len(runs(rt)) == 2
    finally:
        await rt.aclose()
        rt.store.close()
