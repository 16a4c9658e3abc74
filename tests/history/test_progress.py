"""The import's progress (issue 6, Deliver 3): a live bar on a terminal (counts, rate, ETA from the
quotas), plain periodic log lines when the output is not a terminal. Time is a fake monotonic clock."""

from __future__ import annotations

import io
import logging
from types import SimpleNamespace

import pytest

from connector.history import progress as progress_module
from connector.history.importer import HistoricalImport, quota_seconds
from connector.history.progress import Progress


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.fixture
def now(monkeypatch):
    """A settable monotonic clock, seen only by the progress module."""
    clock = SimpleNamespace(t=1000.0)
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: clock.t))
    return clock


def test_a_terminal_gets_a_bar_redrawn_in_place_with_counts_rate_and_the_quota_eta(monkeypatch, now):
    stream = Stream(tty=True)
    monkeypatch.setattr(progress_module.sys, "stderr", stream)
    bar = Progress(10)
    now.t += 10
    bar.update(5, 1, eta_quota=90)
    assert stream.getvalue() == "\r[############------------] 5/10 orders (50%), 1 failed, 0.5/s, ETA 1:30    "
    now.t += 0.1  # sooner than the bar's redraw interval: not drawn again
    bar.update(6, 1)
    assert stream.getvalue().count("\r") == 1
    bar.finish()
    assert stream.getvalue().count("\r") == 2 and stream.getvalue().endswith("\n")
    assert "6/10 orders (60%)" in stream.getvalue()


def test_without_a_terminal_plain_log_lines_at_most_every_ten_seconds(monkeypatch, now, caplog):
    stream = Stream(tty=False)
    monkeypatch.setattr(progress_module.sys, "stderr", stream)
    caplog.set_level(logging.INFO, logger="connector.import")
    log = Progress(100)
    for step in range(1, 31):  # 30 updates, one a second
        now.t += 1
        log.update(step, 0, eta_quota=100 - step)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("import progress:")]
    # The first at once, then one every ten seconds.
    assert lines == ["import progress: [------------------------] 1/100 orders (1%), 0 failed, 1.0/s, ETA 1:39",
                     "import progress: [##----------------------] 11/100 orders (11%), 0 failed, 1.0/s, ETA 1:29",
                     "import progress: [#####-------------------] 21/100 orders (21%), 0 failed, 1.0/s, ETA 1:19"]
    assert stream.getvalue() == ""  # no bar, no carriage returns in a log file


class Recorded(Progress):
    def __init__(self) -> None:
        super().__init__(0)
        self.etas: list[float | None] = []

    def update(self, done, failed, eta_quota=None, *, force=False) -> None:
        self.etas.append(eta_quota)
        super().update(done, failed, eta_quota, force=force)


async def test_the_import_feeds_the_bar_its_total_and_an_eta_from_the_quotas(import_world):
    rt = await import_world.runtime()
    try:
        bar = Recorded()
        report = await HistoricalImport(rt, since=None, until=None, progress=bar).run()
        assert bar.total == report.total == len(import_world.bc.orders)
        assert bar.done == report.total and not report.interrupted
        # While orders remain, the ETA is what the remaining calls take at the two APIs' quotas.
        assert bar.etas[0] == quota_seconds(rt.xs.pacer, rt.bc.pacer, report.total, report.total / 250)
        estimates = [e for e in bar.etas if e is not None]
        assert estimates == sorted(estimates, reverse=True) and estimates[-1] == 0
    finally:
        await rt.aclose()
        rt.store.close()


class Counted(Progress):
    def __init__(self) -> None:
        super().__init__(0)
        self.counted: list[int] = []

    def update(self, done, failed, eta_quota=None, *, force=False) -> None:
        self.counted.append(done)
        super().update(done, failed, eta_quota, force=force)


@pytest.mark.parametrize("stop_after", [7, 23, 41])
async def test_a_resumed_import_counts_each_order_once(import_world, stop_after):
    """A resumed import reads again from a minute before its checkpoint, and orders after it may
    have ended before the stop: the bar never passes the total, and ends on it ("32/30" before)."""
    import asyncio

    from test_import import stopping

    rt = await import_world.runtime()
    try:
        stop, seen = asyncio.Event(), []
        first = HistoricalImport(rt, since=None, until=None, stop_event=stop, checkpoint_every=5, concurrency=4,
                                 progress=Recorded())
        with stopping(rt, stop, lambda order: seen.append(order) or len(seen) == stop_after):
            assert (await first.run()).interrupted
        assert first.progress.done <= len(seen)

        bar = Counted()
        report = await HistoricalImport(rt, since=None, until=None, progress=bar).run()
        assert not report.interrupted and report.resumed_from is not None
        assert bar.counted[-1] == report.total == len(import_world.bc.orders)
        assert max(bar.counted) == report.total and bar.counted == sorted(bar.counted)
    finally:
        await rt.aclose()
        rt.store.close()


def test_settled_counts_save_only_the_orders_before_the_checkpoint_and_skip_them_when_read_again():
    from datetime import datetime, timedelta, timezone

    from connector.history.progress import SettledCounts

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    first = SettledCounts(None)
    for i, failed in enumerate([False, True, False, False]):  # created t0, t0+1 s, t0+2 s, t0+3 s
        first.settled(t0 + timedelta(seconds=i), failed=failed)
    first.settled(None, done=False, failed=True)  # unreadable, no date: counted now, saved at once
    assert (first.done, first.failed) == (4, 2)
    # Stopped with the order of t0+2 s in flight elsewhere: the checkpoint is there; t0+3 s ended early.
    saved = first.at_checkpoint(t0 + timedelta(seconds=2))
    assert saved == (2, 2)

    resumed = SettledCounts(t0 + timedelta(seconds=2), *saved)
    for i in range(-60, 5):  # from a minute before the checkpoint: read again, then the rest
        resumed.settled(t0 + timedelta(seconds=i), failed=i == 1)
    assert (resumed.done, resumed.failed) == (2 + 3, 2)  # t0+2, t0+3 (again: its count was not saved), t0+4
