"""connector.interrupts in process: what a stop does to waits, to the command and to the orders in
hand. The signals themselves, exit codes and the 5 s contract are tested on real processes in
tests/reliability/test_interrupts_signals.py; here the stop is begun by hand (no signal reaches pytest).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import pytest

from connector import interrupts
from connector.clock import SYSTEM_CLOCK, FakeClock
from connector.history.importer import HistoricalImport
from connector.logs import setup_logging
from connector.store.import_runs import ImportRun
from connector.values import parse_any_date
from sqlmodel import select
from sync_world import START, line


async def test_a_stop_cuts_short_the_system_clock_waits_and_refuses_new_ones():
    scope = interrupts.StopScope(grace=60)
    with scope.active():
        assert interrupts.stop_event() is scope.event
        waiting = [asyncio.create_task(SYSTEM_CLOCK.sleep(600)) for _ in range(3)]
        await asyncio.sleep(0)  # they are all waiting now
        scope.signum = 2
        scope.begin_stop()
        for task in waiting:
            with pytest.raises(interrupts.Stopping):
                await task  # at once: the test would otherwise wait 10 minutes
        with pytest.raises(interrupts.Stopping):
            await SYSTEM_CLOCK.sleep(1)  # a wait that starts after the stop does not start
        assert scope.event.is_set()
        await FakeClock().sleep(600)  # simulated time is the tests' own: untouched


async def test_outside_a_command_waits_are_plain_sleeps():
    assert interrupts.stop_event() is not interrupts.stop_event()  # a fresh one nobody sets
    await SYSTEM_CLOCK.sleep(0.001)


async def test_the_grace_cancels_the_command_when_orders_in_hand_outlast_it():
    """An order waiting on something the stop cannot cut short (a lease another process holds)
    keeps the command only for the grace."""
    scope = interrupts.StopScope(grace=0.05)
    in_hand_finished = asyncio.Event()

    async def command() -> None:
        try:
            await asyncio.sleep(600)  # not a clock wait: only cancellation ends it
        finally:
            in_hand_finished.set()

    with scope.active():
        scope.main = asyncio.create_task(command())
        await asyncio.sleep(0)
        scope.signum = 15
        scope.begin_stop()
        with pytest.raises(asyncio.CancelledError):
            await scope.main
    assert in_hand_finished.is_set()


async def test_the_acknowledgement_is_a_json_line_when_logs_are_json(capfd):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging("json", "ERROR")  # even at ERROR: a person pressed Ctrl-C and must hear back
    try:
        scope = interrupts.StopScope(grace=60)
        scope.signum = 2
        with scope.active():
            scope.begin_stop()
        err = capfd.readouterr().err.strip().splitlines()
        entry = json.loads(err[-1])
        assert "Ctrl-C: stopping after the orders in hand" in entry["message"]
        assert entry["level"] == "warning"
    finally:
        root.handlers[:], root.level = handlers, level


def stop_at(cycle, order_id: int, stop: asyncio.Event):
    """Wrap cycle.mirror_one: at `order_id` the stop arrives while the order waits for the API,
    so that order raises Stopping as its cut-short wait would; the others go on."""
    inner = cycle.mirror_one

    async def mirror_one(order, report):
        if order.id == order_id:
            stop.set()
            await asyncio.sleep(0)
            raise interrupts.Stopping()
        await asyncio.sleep(0.01)  # the others are still in hand when the stop arrives
        return await inner(order, report)

    cycle.mirror_one = mirror_one
    return cycle


async def test_a_cycle_stopped_mid_batch_lets_the_batch_finish_and_keeps_the_cursor(world):
    ids = [world.add_order([line("TEE-M")], customer=None, date_created=START - timedelta(minutes=30 - i))
           for i in range(6)]
    runtime = await world.runtime()
    stop = asyncio.Event()
    cycle = stop_at(runtime.cycle(stop_event=stop), ids[2], stop)
    world.clock.advance(1)
    report = await cycle.run()

    assert not report.completed and not report.failed  # a stop is no failure of the order
    assert world.store.cursor() is None  # the batch is not settled: the cursor did not move
    assert world.store.last_cycle("sync").outcome == "stopped"
    assert world.sale(ids[2]) is None
    # The orders already in hand finished before the cycle returned (none runs on after it); the
    # ones after the stop did not start.
    assert report.outcomes.total() == 2
    assert [world.sale(i) is not None for i in ids] == [True, True, False, False, False, False]

    report = await world.cycle()
    assert report.completed and all(len(world.sales(i)) == 1 for i in ids)


async def test_an_import_stopped_mid_order_resumes_from_before_that_order(world):
    ids = [world.add_order([line("TEE-M")], customer=None, date_created=START - timedelta(days=2, minutes=30 - i))
           for i in range(12)]
    runtime = await world.runtime()
    stop = asyncio.Event()
    importer = HistoricalImport(runtime, since=None, until=START, concurrency=3, stop_event=stop)
    original = runtime.cycle
    runtime.cycle = lambda stop_event=None: stop_at(original(stop_event=stop_event), ids[4], stop)
    report = await importer.run()
    runtime.cycle = original

    assert report.interrupted and not report.cycle.failed
    assert world.sale(ids[4]) is None
    with world.store.session() as s:
        run = s.exec(select(ImportRun)).one()
    created = world.bc.orders[ids[4]]["date_created"]
    assert run.finished_at is None and run.checkpoint is not None
    assert run.checkpoint.replace(tzinfo=None) <= _naive(created)  # never past the stopped order

    again = await HistoricalImport(runtime, since=None, until=START).run()
    assert not again.interrupted and again.resumed_from is not None
    assert all(len(world.sales(i)) == 1 for i in ids)


def _naive(value):
    return (parse_any_date(value) if isinstance(value, str) else value).replace(tzinfo=None)
