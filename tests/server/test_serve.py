"""Issue 17, point 3: `order-sync serve` in-process against the simulators (FakeClock world). It polls
nothing: a signed webhook makes the sale, a refused or repeated one does no work at all (the order is
not even read), and /readyz follows the cycles other processes record in the shared database."""

from __future__ import annotations

import asyncio
import time

import httpx
from pydantic import SecretStr
from sqlalchemy import text

from connector.clients.transport import RetryPolicy
from connector.server.serve import serve
from connector.workers.app import build_app
from connector.workers.tasks import PairRuntimes
from sync_world import line
from served_sandbox import free_port, wait_until_healthy  # tests/sync, on the path

SECRET = "s3cret"


def event(order_id: int, digest: str, scope: str = "store/order/created") -> dict:
    return {"scope": scope, "store_id": "1025646", "data": {"type": "order", "id": order_id},
            "hash": digest, "created_at": 1561479335, "producer": "stores/abc123"}


async def wait_for(condition, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


def jobs(world) -> list[tuple]:
    """procrastinate's mirror_order jobs: (task, order, status) (a worker also runs its periodic syncs)."""
    with world.store.engine.connect() as conn:
        rows = conn.execute(text("SELECT task_name, args, status::text FROM procrastinate_jobs"
                                 " WHERE task_name = 'order_sync.mirror_order' ORDER BY id"))
        return [(task, args.get("order_id"), status) for task, args, status in rows]


async def run_the_jobs(world, settings) -> None:
    """What an `order-sync worker` does with the queued jobs, here on the world's simulators."""
    runtimes = PairRuntimes(settings, world.store, asyncio.Event(), bc_transport=world.bc.transport(),
                            xs_transport=world.xs.transport(), clock=world.clock,
                            retry=RetryPolicy(seed=2, base_delay=0.01))
    app = build_app(settings)
    async with app.open_async():
        await asyncio.wait_for(app.run_worker_async(wait=False, install_signal_handlers=False,
                                                    additional_context={"runtimes": runtimes}), 60)
    await runtimes.aclose()


async def test_serve_mirrors_signed_webhooks_only_and_polls_nothing(db_world):
    """On SQLite serve mirrors the order itself; on PostgreSQL it defers a job for the workers."""
    world = db_world
    on_postgres = (await world.runtime()).store.engine.dialect.name == "postgresql"
    port = free_port()  # server.port from the configuration: serve is given no --port
    settings = world.settings(interval_seconds=300)
    settings.server.port = port
    settings.bigcommerce.webhook_secret = SecretStr(SECRET)
    stop = asyncio.Event()
    running = asyncio.create_task(serve(settings, stop, bc_transport=world.bc.transport(),
                                        xs_transport=world.xs.transport(), clock=world.clock,
                                        retry=RetryPolicy(seed=2, base_delay=0.01)))

    def order_reads(order_id: int) -> int:
        return len([r for r in world.bc.request_log if r.path.endswith(f"/v2/orders/{order_id}")])

    def order_lists() -> int:
        return len([r for r in world.bc.request_log if r.method == "GET" and r.path.endswith("/v2/orders")])

    url = f"http://127.0.0.1:{port}/webhooks/bigcommerce/default"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_until_healthy(client, running, "serve did not answer on server.port")
            started = order_lists()  # the start-up's lost-state check may read the newest order

            # serve runs no cycle: not ready until a worker (here: the world's runtime) records one.
            await asyncio.sleep(0.3)
            assert order_lists() == started
            not_yet = await client.get("/readyz")
            assert not_yet.status_code == 503 and "no cycle yet" in not_yet.json()["reasons"][0]
            await world.cycle()
            assert (await client.get("/readyz")).status_code == 200
            listed = order_lists()  # the world's cycle's

            order_id = world.add_order([line("TEE-M", 1)])
            for headers in ({}, {"X-Webhook-Secret": "wrong"}):
                assert (await client.post(url, json=event(order_id, "a" * 40), headers=headers)).status_code == 401
            await asyncio.sleep(0.3)
            assert world.sale(order_id) is None and order_reads(order_id) == 0

            answer = await client.post(url, json=event(order_id, "a" * 40), headers={"X-Webhook-Secret": SECRET})
            assert answer.status_code == 200 and answer.content == b""
            if on_postgres:  # a job for the workers: serve itself does not read the order
                assert jobs(world) == [("order_sync.mirror_order", order_id, "todo")]
                again = await client.post(url, json=event(order_id, "a" * 40), headers={"X-Webhook-Secret": SECRET})
                other = await client.post(url, json=event(order_id, "b" * 40), headers={"X-Webhook-Secret": SECRET})
                assert again.status_code == other.status_code == 200
                assert len(jobs(world)) == 1  # a repeated hash, or the order's job already waiting
                assert order_reads(order_id) == 0 and order_lists() == listed  # serve read nothing
                await run_the_jobs(world, settings)
                assert jobs(world) == [("order_sync.mirror_order", order_id, "succeeded")]
            await wait_for(lambda: world.sale(order_id) is not None, "no sale after the signed webhook")
            await wait_for(lambda: order_reads(order_id) == 1, "the order was not read once")

            writes = world.xs_writes()
            again = await client.post(url, json=event(order_id, "a" * 40), headers={"X-Webhook-Secret": SECRET})
            assert again.status_code == 200
            await asyncio.sleep(0.3)
            assert order_reads(order_id) == 1 and world.xs_writes() == writes and len(world.sales(order_id)) == 1
            if on_postgres:
                assert len(jobs(world)) == 1
            if not on_postgres:  # (there, the worker that ran the job also ran its pair's periodic sync)
                assert order_lists() == listed  # serve never polled
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 10) == 0
