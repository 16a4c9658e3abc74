"""Issue 17, point 3 (embedded mode): `order-sync run` answers BigCommerce's order webhooks and
mirrors the order at once; unsigned or wrongly signed calls get 401 and defer nothing; a repeated
`hash` defers nothing. Prints the p95 from webhook to sale (the benchmark's figure, not asserted)."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx

from connector.clients.transport import RetryPolicy
from connector.scheduler import daemon
from sync_world import line
from served_sandbox import free_port  # tests/sync, on the path


def payload(order_id: int, n: int, scope: str = "store/order/created") -> dict:
    return {"scope": scope, "store_id": "1025646", "data": {"type": "order", "id": order_id},
            "hash": f"{n:040x}", "created_at": 1561479335, "producer": "stores/abc123"}


async def test_webhooks_mirror_orders_at_once_and_refuse_wrong_secrets(world, monkeypatch):
    port = free_port()
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    settings = world.settings(interval_seconds=300)  # the poll would be 5 minutes away
    settings.server.enabled, settings.server.port = True, port
    settings.bigcommerce.webhook_secret = type(settings.xseries.token)("s3cret")
    stop = asyncio.Event()
    running = asyncio.create_task(daemon(settings, stop, bc_transport=world.bc.transport(),
                                         xs_transport=world.xs.transport(), clock=world.clock,
                                         retry=RetryPolicy(seed=2, base_delay=0.01)))
    url = f"http://127.0.0.1:{port}/webhooks/bigcommerce/default"
    try:
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 15
            while True:  # the first (immediate) cycle has run: the store has its cursor
                assert not running.done(), running.exception()
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)

            order_id = world.add_order([line("TEE-M", 1)])
            for headers in ({}, {"X-Webhook-Secret": "wrong"}):
                answer = await client.post(url, json=payload(order_id, 1), headers=headers)
                assert answer.status_code == 401
            await asyncio.sleep(0.3)
            assert world.sale(order_id) is None  # nothing was deferred

            delays = []
            for n in range(20):
                order_id = world.add_order([line("TEE-M", 1)])
                sent = time.monotonic()
                answer = await client.post(url, json=payload(order_id, 100 + n),
                                           headers={"X-Webhook-Secret": "s3cret"})
                assert answer.status_code == 200 and answer.content == b""
                while world.sale(order_id) is None:
                    assert time.monotonic() - sent < 10, "no sale after the webhook"
                    await asyncio.sleep(0.01)
                delays.append(time.monotonic() - sent)
            print(f"\nwebhook → sale: p95 {statistics.quantiles(delays, n=20)[18]:.3f} s over {len(delays)} orders")

            # The same event again (same hash): answered, but nothing deferred — the order is not
            # even read again. A new event of the same order is.
            def reads() -> int:
                return len([r for r in world.bc.request_log if r.path.endswith(f"/v2/orders/{order_id}")])

            before = reads()
            again = await client.post(url, json=payload(order_id, 119), headers={"X-Webhook-Secret": "s3cret"})
            assert again.status_code == 200
            await asyncio.sleep(0.3)
            assert reads() == before
            await client.post(url, json=payload(order_id, 120, "store/order/updated"),
                              headers={"X-Webhook-Secret": "s3cret"})
            for _ in range(100):
                if reads() > before:
                    break
                await asyncio.sleep(0.01)
            assert reads() == before + 1
            assert (await client.post(url, content=b"not json", headers={"X-Webhook-Secret": "s3cret"})).status_code == 400
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 10) == 0
