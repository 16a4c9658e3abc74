from types import SimpleNamespace
import asyncio

import pytest

from connector import scheduler
from connector.errors import ConfigError, CredentialsError, TransientApiError

# A fake runtime's store: ID verification off and its poll never run, so its cycles record nothing.
NEVER_POLLED = SimpleNamespace(cursor=lambda name: None)


async def test_daemon_start_waits_out_an_api_outage_and_a_refused_token(monkeypatch, caplog):
    attempts = []

    async def state_kept(runtime):  # the lost-state check of a real runtime (tests/sync/test_reconcile.py)
        assert runtime == "runtime"

    monkeypatch.setattr(scheduler, "refuse_lost_state", state_kept)

    async def start(settings, **options):
        attempts.append(1)
        if len(attempts) == 1:
            raise TransientApiError("down", api="X-Series", method="GET", path="/api/2.0/outlets", status=503)
        if len(attempts) == 2:
            raise CredentialsError("token refused", api="BigCommerce", method="GET", path="/v2/orders", status=401)
        return "runtime"

    monkeypatch.setattr(scheduler.Runtime, "start", staticmethod(start))
    runtime = await scheduler._start_runtime(SimpleNamespace(pair="default"), asyncio.Event(), first_delay=0.01)
    assert runtime == "runtime" and len(attempts) == 3
    assert sum("cannot start yet" in r.message for r in caplog.records) == 2


async def test_daemon_start_stops_on_request_while_waiting(monkeypatch):
    async def start(settings, **options):
        raise TransientApiError("down", api="X-Series", method="GET", path="/", status=503)

    monkeypatch.setattr(scheduler.Runtime, "start", staticmethod(start))
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    assert await scheduler._start_runtime(SimpleNamespace(pair="default"), stop, first_delay=10) is None


async def test_bad_configuration_still_stops_the_daemon(monkeypatch):
    async def start(settings, **options):
        raise ConfigError("xseries.outlet: X-Series has no outlet 'Nope'")

    monkeypatch.setattr(scheduler.Runtime, "start", staticmethod(start))
    with pytest.raises(ConfigError):
        await scheduler._start_runtime(SimpleNamespace(pair="default"), asyncio.Event(), first_delay=0.01)


async def test_the_daemon_runs_one_cycle_at_a_time_and_coalesces_missed_runs(monkeypatch):
    """Issue 4, `order-sync run`: the configured interval, one cycle at a time, misfires coalesced.
    While a cycle is still running, runs that fall due are skipped rather than started alongside."""
    from datetime import datetime, timedelta, timezone

    schedulers = []

    class Recording(scheduler.AsyncIOScheduler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            schedulers.append(self)

    started, release = [], asyncio.Event()

    class SlowCycle:
        async def run(self):
            started.append(1)
            await release.wait()
            return SimpleNamespace(seen=0, written=0, failed={})

    async def aclose():
        pass

    view = SimpleNamespace(pair="default", sync=SimpleNamespace(interval_seconds=45), database_url="unused")
    settings = SimpleNamespace(server=SimpleNamespace(enabled=False), console=SimpleNamespace(enabled=False),
                               pair_settings=lambda: [view])
    runtime = SimpleNamespace(settings=view, store=NEVER_POLLED, bc=None, cycle=lambda stop_event=None: SlowCycle(),
                              aclose=aclose)

    async def start_runtime(view, stop, **options):
        return runtime

    async def no_id_verification(*args):
        return None

    monkeypatch.setattr(scheduler, "AsyncIOScheduler", Recording)
    monkeypatch.setattr(scheduler, "_start_runtime", start_runtime)
    monkeypatch.setattr(scheduler, "refuse_unsafe_first_run", lambda view, store: None)  # no real store
    monkeypatch.setattr(scheduler, "start_if_enabled", no_id_verification)
    stop = asyncio.Event()
    store = SimpleNamespace(close=lambda: None, for_pair=lambda pair: None)
    daemon = asyncio.create_task(scheduler.daemon(settings, stop, store=store))
    for _ in range(500):
        if started:
            break
        await asyncio.sleep(0.01)
    assert started == [1]  # the first cycle runs at start
    job = schedulers[0].get_job("sync:default")
    assert job.trigger.interval == timedelta(seconds=45)
    assert job.max_instances == 1 and job.coalesce is True
    for _ in range(3):  # runs falling due while the first cycle is still in hand
        job.modify(next_run_time=datetime.now(timezone.utc))
        await asyncio.sleep(0.05)
    assert started == [1]
    release.set()
    stop.set()
    assert await asyncio.wait_for(daemon, 10) == 0


async def test_daemon_waits_out_an_outage_of_the_id_verification_start_then_starts(monkeypatch, caplog):
    """README: at start-up the daemon waits out an API that is down. With ID verification on, its
    start reads BigCommerce's order statuses: a 503 there is waited out (the runtime closed and
    started again), not a fatal start-up error stopping every pair."""
    import functools

    cycles, closed, idv_attempts = [], [], []

    class Cycle:
        async def run(self):
            cycles.append(1)
            return SimpleNamespace(seen=0, written=0, failed={}, refunds_failed=[], summary=lambda: "ok")

    async def aclose():
        closed.append(1)

    view = SimpleNamespace(pair="default", sync=SimpleNamespace(interval_seconds=45), database_url="unused")
    settings = SimpleNamespace(server=SimpleNamespace(enabled=False), console=SimpleNamespace(enabled=False),
                               pair_settings=lambda: [view])

    async def start(settings, **options):
        return SimpleNamespace(settings=view, store=NEVER_POLLED, bc="bc", cycle=lambda stop_event=None: Cycle(),
                               aclose=aclose, idv_rules=None)

    async def state_kept(runtime):
        pass

    async def id_verification(view, bc, store, at_start):
        idv_attempts.append(1)
        if len(idv_attempts) < 3:
            raise TransientApiError("down", api="BigCommerce", method="GET", path="/v2/order_statuses", status=503)
        return None

    monkeypatch.setattr(scheduler.Runtime, "start", staticmethod(start))
    monkeypatch.setattr(scheduler, "refuse_lost_state", state_kept)
    monkeypatch.setattr(scheduler, "start_if_enabled", id_verification)
    monkeypatch.setattr(scheduler, "_start_runtime", functools.partial(scheduler._start_runtime, first_delay=0.01))
    monkeypatch.setattr(scheduler, "refuse_unsafe_first_run", lambda view, store: None)  # no real store
    stop = asyncio.Event()
    store = SimpleNamespace(close=lambda: None, for_pair=lambda pair: None)
    daemon = asyncio.create_task(scheduler.daemon(settings, stop, store=store))
    for _ in range(500):
        if cycles or daemon.done():
            break
        await asyncio.sleep(0.01)
    assert not daemon.done(), daemon.exception()  # still running: the outage was waited out
    assert cycles and len(idv_attempts) == 3
    assert len(closed) == 2  # each runtime whose ID-verification start failed was closed before the retry
    assert sum("cannot start yet" in r.message for r in caplog.records) == 2
    stop.set()
    assert await asyncio.wait_for(daemon, 10) == 0
