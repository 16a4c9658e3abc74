"""Issue 17, point 4: /healthz, /readyz and /metrics — readiness follows the cycles (503 while an
API is down, 200 again after), and the metrics parse and match the audit log."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from connector.errors import ApiError
from connector.sandbox.faults import FaultConfig
from connector.scheduler import daemon
from connector.server.deferral import InProcessDeferrer
from connector.server.metrics import PairMetrics
from connector.server.ops import ops_app
from sync_world import line
from served_sandbox import free_port  # tests/sync, on the path


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a /metrics page, read by prometheus-client's parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_readiness_follows_the_cycles_and_metrics_match_the_audit_log(db_world):
    world = db_world
    runtime = await world.runtime()
    metrics = PairMetrics({"default": runtime})
    app = ops_app({"default": runtime}, metrics)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ops") as client:
        assert (await client.get("/healthz")).status_code == 200
        not_yet = await client.get("/readyz")
        assert not_yet.status_code == 503 and "no cycle yet" in not_yet.json()["reasons"][0]

        kept = world.add_order([line("TEE-M", 2)])
        cancelled = world.add_order([line("MUG-01", 1, "10.00")])
        world.add_order([line("TEE-L", 1)], default_currency_code="EUR")  # parked: failed + an exception
        await world.cycle()
        world.set_status(cancelled, 5)
        await world.cycle()
        assert (await client.get("/readyz")).status_code == 200

        page = await client.get("/metrics")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
        found = samples(page.text)
        audit = [e.action for e in runtime.store.audit_entries()]
        for action, name in (("create_sale", "created"), ("void_sale", "voided")):
            key = ("order_sync_orders_mirrored_total", (("action", name), ("pair", "default")))
            assert found[key] == audit.count(action) > 0
        assert found[("order_sync_orders_failed", (("pair", "default"),))] == 1
        assert found[("order_sync_exceptions", (("pair", "default"),))] == 1
        posts = found[("order_sync_api_requests_total", (("api", "xseries"), ("pair", "default"), ("status", "200")))]
        assert posts == sum(1 for r in world.xs.request_log if r.status == 200)
        assert ("order_sync_api_quota_remaining", (("api", "xseries"), ("pair", "default"))) in found
        assert found[("order_sync_lag_seconds", (("pair", "default"),))] >= 0
        assert kept in {int(s["source_id"]) for s in world.xs.sales.values()}

        # BigCommerce goes down: cycles fail; past 3 intervals without a good one, not ready.
        world.bc.faults.reconfigure(FaultConfig(share_5xx=1.0))
        for _ in range(4):
            with pytest.raises(ApiError):
                await world.cycle(advance=60)
        down = await client.get("/readyz")
        assert down.status_code == 503 and "last cycle error" in down.json()["reasons"][0]
        world.bc.faults.reconfigure(FaultConfig())
        await world.cycle()
        assert (await client.get("/readyz")).status_code == 200


async def test_the_daemon_serves_health_readiness_and_cycle_durations(db_world):
    """`order-sync run` on SQLite, and on PostgreSQL as one process (issue 17: it stays possible)."""
    world = db_world
    port = free_port()
    settings = world.settings(interval_seconds=1)
    settings.server.enabled, settings.server.port = True, port
    world.add_order([line("TEE-M", 1)])
    stop = asyncio.Event()
    running = world.launch(daemon, settings, stop)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 15
            while True:
                assert not running.done(), running.exception()
                assert time.monotonic() < deadline, "no cycle observed"
                try:
                    found = samples((await client.get("/metrics")).text)
                except httpx.TransportError:
                    found = {}
                if found.get(("order_sync_cycle_seconds_count", (("pair", "default"),)), 0) >= 1:
                    break
                await asyncio.sleep(0.05)
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 10) == 0


async def test_lag_is_now_minus_the_oldest_change_not_mirrored_and_jobs_count_the_queue(world):
    """order_sync_lag_seconds grows while nothing is mirrored and is held by an order still failed
    (the cursor passed it); order_sync_jobs{state} is the embedded mode's webhook queue."""
    runtime = await world.runtime()
    metrics = PairMetrics({"default": runtime})
    deferrer = InProcessDeferrer({"default": runtime})
    metrics.jobs = deferrer.states

    def scrape(name: str, **labels: str) -> float:
        found = samples(generate_latest(metrics.registry).decode())
        return found[(name, tuple(sorted(labels.items())))]

    assert scrape("order_sync_lag_seconds", pair="default") == 0  # before the first cycle
    world.add_order([line("TEE-M")])
    await world.cycle()
    assert scrape("order_sync_lag_seconds", pair="default") == 0  # everything up to now mirrored
    world.clock.advance(120)  # no cycle for two minutes: changes since then are not mirrored
    assert scrape("order_sync_lag_seconds", pair="default") == 120
    world.add_order([line("TEE-L")], default_currency_code="EUR")  # fails (parked, an exception)
    await world.cycle()
    failed_at = world.store.failures()[0].first_failed_at
    await world.cycle(advance=600)
    assert world.store.cursor() == world.clock.now()  # the cursor went on past the failed order…
    assert scrape("order_sync_lag_seconds", pair="default") == (world.clock.now() - failed_at).total_seconds() == 600

    assert scrape("order_sync_jobs", state="todo") == 0
    assert await deferrer.defer("default", 1, "store/order/created")
    assert await deferrer.defer("default", 2, "store/order/created")
    assert not await deferrer.defer("default", 1, "store/order/updated")  # already waiting
    assert scrape("order_sync_jobs", state="todo") == 2


def test_a_pair_still_starting_is_not_said_to_have_its_apis_down():
    """Start-up may be waiting on a quota with every answer a 200: /readyz must not say the APIs do
    not answer, only that the pair is starting and where to look."""
    from connector.server.ops import readiness

    (reason,) = readiness({}, expected=["north"])
    assert reason.startswith("pair north: still starting (") and reason.endswith("see the log)")
    assert "do not answer" not in reason and "quota" in reason
    refused = readiness({}, expected=["south"], refused={"south": "its settings are wrong"})
    assert refused == ["pair south: its settings are wrong"]
