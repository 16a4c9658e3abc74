from types import SimpleNamespace
import asyncio

import pytest

from connector import scheduler
from connector.errors import ConfigError, CredentialsError, TransientApiError


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
