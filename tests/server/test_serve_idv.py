"""Issue 17, point 4: `order-sync serve` also answers the ID-verification webhook when ID verification
is on — at POST /webhooks/id-verification/{pair}, and at the old path for the default pair; a pair it
does not serve is 404 and nothing is written."""

from __future__ import annotations

import asyncio
import json

import httpx
from pydantic import SecretStr

from connector.clients.transport import RetryPolicy
from connector.idv.webhook import PATH, SIGNATURE_HEADER, signature_for
from connector.server.serve import serve
from sync_world import line
from served_sandbox import free_port, wait_until_healthy  # tests/sync, on the path

SECRET = "idv-secret"


async def test_serve_answers_the_id_verification_webhook_per_pair(world):
    port = free_port()
    settings = world.settings(interval_seconds=300)
    settings.server.port = port
    settings.id_verification.enabled = True
    settings.id_verification.webhook_secret = SecretStr(SECRET)
    first, second = world.add_order([line("TEE-M", 1)]), world.add_order([line("TEE-M", 1)])
    stop = asyncio.Event()
    running = asyncio.create_task(serve(settings, stop, bc_transport=world.bc.transport(),
                                        xs_transport=world.xs.transport(), clock=world.clock,
                                        retry=RetryPolicy(seed=2, base_delay=0.01)))

    def signed(order_id: int) -> tuple[bytes, dict]:
        body = json.dumps({"order_id": order_id, "event": "failed", "check_id": f"chk-{order_id}",
                           "occurred_at": world.clock.now().isoformat()}).encode()
        return body, {SIGNATURE_HEADER: signature_for(SECRET, body)}

    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_until_healthy(client, running, "serve did not answer")

            body, headers = signed(first)
            assert (await client.post(f"{PATH}/elsewhere", content=body, headers=headers)).status_code == 404
            assert world.order(first)["status_id"] == 11
            assert (await client.post(f"{PATH}/default", content=body, headers=headers)).status_code == 200
            assert world.order(first)["status_id"] == 6  # failed → Declined (the default rules)
            body, headers = signed(second)
            assert (await client.post(PATH, content=body, headers=headers)).status_code == 200
            assert world.order(second)["status_id"] == 6
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 10) == 0


async def test_run_with_its_server_on_serves_the_id_verification_webhook_on_the_shared_default_port(world):
    """`order-sync run`, one pair, ID verification on and its server on (server.enabled, or the
    console): id_verification.webhook_port and server.port both default to 8787. The daemon must
    start — the webhook is on its server (issue 17, point 4), old path included — not stop on
    'cannot listen' because it also tried to open the old webhook port a second time."""
    from connector.scheduler import daemon

    port = free_port()
    settings = world.settings(interval_seconds=300)
    settings.server.enabled, settings.server.port = True, port
    settings.id_verification.enabled = True
    settings.id_verification.webhook_secret = SecretStr(SECRET)
    settings.id_verification.webhook_port = port  # the same port, as the two defaults are
    order = world.add_order([line("TEE-M", 1)])
    stop = asyncio.Event()
    running = asyncio.create_task(daemon(settings, stop, bc_transport=world.bc.transport(),
                                         xs_transport=world.xs.transport(), clock=world.clock,
                                         retry=RetryPolicy(seed=2, base_delay=0.01)))
    body = json.dumps({"order_id": order, "event": "failed", "check_id": "chk-1",
                       "occurred_at": world.clock.now().isoformat()}).encode()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_until_healthy(client, running, "run's server did not answer")
            answer = await client.post(PATH, content=body, headers={SIGNATURE_HEADER: signature_for(SECRET, body)})
            assert answer.status_code == 200, answer.text
            assert world.order(order)["status_id"] == 6
            assert not running.done()
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 10) == 0
