"""POST /webhooks/id-verification: signature, timestamp window, replays, and what gets written."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from datetime import timedelta

import httpx
from starlette.applications import Starlette
import pytest
from sqlmodel import select

from connector.idv.server import WebhookServer
from connector.idv.webhook import MAX_BODY_BYTES, PATH, SIGNATURE_HEADER, signature_for
from connector.store.idv_tables import IdvCheck
from idv_world import SECRET


def body_for(order_id: int, event: str = "failed", check_id: str = "chk-1", occurred_at=None) -> bytes:
    return json.dumps({"order_id": order_id, "event": event, "check_id": check_id,
                       "occurred_at": occurred_at}).encode()


@pytest.fixture
async def hook(world):
    await world.start(webhook_tolerance_seconds=300)
    receiver = world.service.webhook_receiver()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()),
                                 base_url="http://order-sync.local") as client:
        async def post(body: bytes, signature: str | None = "sign", **headers: str) -> httpx.Response:
            if signature == "sign":
                signature = signature_for(SECRET, body)
            if signature is not None:
                headers[SIGNATURE_HEADER] = signature
            return await client.post(PATH, content=body, headers={"Content-Type": "application/json", **headers})

        yield post


def nothing_recorded(world, order_id: int) -> bool:
    with world.store.session() as s:
        checks = s.exec(select(IdvCheck).where(IdvCheck.bc_order_id == order_id)).all()
    return world.puts() == [] and world.audit(order_id) == [] and checks == []


def order_requests(world) -> list:
    """Requests about orders (the start-up read of /v2/order_statuses aside)."""
    return world.bc.request_log.matching(contains="/orders")


async def test_signed_event_is_applied(world, hook):
    order = world.add_order(status_id=11)
    response = await hook(body_for(order, "started", occurred_at=world.clock.now().isoformat()))
    assert response.status_code == 200
    assert response.json()["outcome"] == "written" and response.json()["after"] == 12
    assert world.status(order) == 12
    [entry] = world.audit(order)
    assert json.loads(entry.detail)["source"] == "webhook"


async def test_an_event_whose_status_write_is_refused_is_answered_as_handled_not_503(world, hook):
    # A 422 on the PUT is final: a 503 would only have the sender retry what is refused again.
    order = world.add_order(status_id=11)
    inner = world.client.transport.client._transport

    class RefusePuts(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PUT":
                return httpx.Response(422, json={"status": 422, "title": "The status cannot be set"})
            return await inner.handle_async_request(request)

    world.client.transport.client._transport = RefusePuts()
    response = await hook(body_for(order, "failed", occurred_at=world.clock.now().isoformat()))
    assert response.status_code == 200 and response.json()["outcome"] == "refused"
    assert world.status(order) == 11 and [e.action for e in world.audit(order)] == ["idv_refused"]


@pytest.mark.parametrize("signature", [
    None,                                   # missing
    "sha256=" + "0" * 64,                   # wrong digest
    "sha1=abc",                             # wrong scheme
    "sha256=not-hex-at-all",                # not hex at all
])
async def test_bad_signature_is_401_and_nothing_is_written(world, hook, signature):
    order = world.add_order(status_id=11)
    response = await hook(body_for(order, occurred_at=world.clock.now().isoformat()), signature=signature)
    assert response.status_code == 401
    assert nothing_recorded(world, order) and order_requests(world) == []


async def test_signature_of_another_body_is_401(world, hook):
    order = world.add_order(status_id=11)
    now = world.clock.now().isoformat()
    signed = signature_for(SECRET, body_for(order, "passed", occurred_at=now))
    response = await hook(body_for(order, "failed", occurred_at=now), signature=signed)
    assert response.status_code == 401 and nothing_recorded(world, order)


async def test_secret_of_another_sender_is_401(world, hook):
    order = world.add_order(status_id=11)
    body = body_for(order, occurred_at=world.clock.now().isoformat())
    response = await hook(body, signature=signature_for("someone-else", body))
    assert response.status_code == 401 and nothing_recorded(world, order)


@pytest.mark.parametrize("offset", [timedelta(seconds=-301), timedelta(hours=-3), timedelta(seconds=301)])
async def test_timestamp_outside_the_window_is_401_and_nothing_is_written(world, hook, offset):
    order = world.add_order(status_id=11)
    response = await hook(body_for(order, occurred_at=(world.clock.now() + offset).isoformat()))
    assert response.status_code == 401
    assert "window" in response.json()["error"]
    assert nothing_recorded(world, order) and order_requests(world) == []


async def test_timestamp_at_the_edge_of_the_window_is_accepted(world, hook):
    order = world.add_order(status_id=11)
    response = await hook(body_for(order, occurred_at=(world.clock.now() - timedelta(seconds=299)).isoformat()))
    assert response.status_code == 200 and world.status(order) == 6


async def test_replayed_identical_body_is_refused_within_the_window(world, hook):
    order = world.add_order(status_id=11)
    body = body_for(order, "failed", occurred_at=world.clock.now().isoformat())
    assert (await hook(body)).status_code == 200
    world.bc.set_status(order, 11)  # the merchant puts it back; a replay must not undo that
    world.clock.advance(60)
    replay = await hook(body)
    assert replay.status_code == 409
    assert world.puts() == [(order, 6)] and world.status(order) == 11
    assert len(world.audit(order)) == 1


async def test_signed_but_malformed_is_400_and_nothing_is_written(world, hook):
    order = world.add_order(status_id=11)
    now = world.clock.now().isoformat()
    for body in (b"not json", b"[1, 2]",
                 json.dumps({"order_id": order, "event": "exploded", "check_id": "c", "occurred_at": now}).encode(),
                 json.dumps({"order_id": order, "event": "failed", "occurred_at": now}).encode(),
                 json.dumps({"order_id": "x", "event": "failed", "check_id": "c", "occurred_at": now}).encode(),
                 json.dumps({"order_id": order, "event": "failed", "check_id": "c",
                             "occurred_at": "2026-03-02T09:00:00"}).encode()):  # no offset
        assert (await hook(body)).status_code == 400, body
    assert nothing_recorded(world, order)


async def test_bigcommerce_down_answers_503_and_the_same_delivery_is_accepted_later(world, hook):
    from connector.sandbox.faults import FaultConfig

    order = world.add_order(status_id=11)
    body = body_for(order, occurred_at=world.clock.now().isoformat())
    world.bc.faults.reconfigure(FaultConfig(share_5xx=1.0))
    response = await hook(body)
    assert response.status_code == 503 and nothing_recorded(world, order)
    world.bc.faults.reconfigure(FaultConfig())
    assert (await hook(body)).status_code == 200 and world.status(order) == 6


async def test_webhook_is_not_offered_without_a_secret_or_when_disabled(world):
    service = await world.start(webhook_secret=None)
    assert service.webhook_receiver() is None
    service = await world.start(enabled=False)
    assert service.webhook_receiver() is None


async def test_embedded_server_serves_the_webhook_on_localhost(world):
    await world.start()
    order = world.add_order(status_id=11)
    server = WebhookServer(world.service.webhook_receiver().app(), "127.0.0.1", 0)
    await server.start()
    try:
        body = body_for(order, "started", occurred_at=world.clock.now().isoformat())
        async with httpx.AsyncClient() as client:
            response = await client.post(f"http://127.0.0.1:{server.port}{PATH}", content=body,
                                         headers={SIGNATURE_HEADER: signature_for(SECRET, body)})
        assert response.status_code == 200 and world.status(order) == 12
    finally:
        await server.stop()


def test_a_port_in_use_is_a_configuration_error():
    from connector.errors import ConfigError

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(ConfigError, match="cannot listen"):
            WebhookServer(lambda scope, receive, send: None, "127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


async def test_a_chunked_body_past_the_limit_is_refused_while_it_streams(world):
    """256 MiB sent chunked (no Content-Length): 413 after the limit, the rest never read."""
    await world.start()
    order = world.add_order(status_id=11)
    chunk, total = 64 * 1024, 256 * 1024 * 1024
    yielded = 0

    async def endless_body():
        nonlocal yielded
        piece = b"x" * chunk
        while yielded < total:
            yielded += chunk
            yield piece

    app = world.service.webhook_receiver().app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://order-sync.local") as client:
        response = await client.post(PATH, content=endless_body(), headers={SIGNATURE_HEADER: "sha256=" + "0" * 64})
    assert response.status_code == 413
    assert yielded <= MAX_BODY_BYTES + chunk  # what the generator gave: the limit plus the chunk that crossed it
    assert nothing_recorded(world, order)


class HeldDeliveries:
    """The real replay store behind a lock the test holds: its database write has to wait."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.waiting = threading.Event()
        self.steps: list[str] = []
        self.got_the_lock: bool | None = None

    def claim(self, digest, now, keep) -> bool:
        self.waiting.set()
        # Bounded, so a claim that blocks the loop (the ticker can never free it) ends the test.
        self.got_the_lock = self.lock.acquire(timeout=5)
        try:
            self.steps.append("claimed")
            return self.inner.claim(digest, now, keep)
        finally:
            if self.got_the_lock:
                self.lock.release()

    def release(self, digest) -> None:
        self.inner.release(digest)


async def test_the_replay_store_does_not_block_the_event_loop(world):
    await world.start()
    order = world.add_order(status_id=11)
    receiver = world.service.webhook_receiver()
    receiver.deliveries = deliveries = HeldDeliveries(receiver.deliveries)
    body = body_for(order, "failed", occurred_at=world.clock.now().isoformat())
    deliveries.lock.acquire()  # the database is busy
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()),
                                 base_url="http://order-sync.local") as client:
        headers = {SIGNATURE_HEADER: signature_for(SECRET, body)}
        post = asyncio.create_task(client.post(PATH, content=body, headers=headers))
        while not deliveries.waiting.is_set():
            await asyncio.sleep(0)
        for n in range(3):  # the loop runs other tasks while the write waits
            await asyncio.sleep(0)
            deliveries.steps.append(f"tick {n}")
        deliveries.lock.release()
        response = await post
    assert deliveries.got_the_lock is True
    assert deliveries.steps == ["tick 0", "tick 1", "tick 2", "claimed"]
    assert response.status_code == 200 and world.status(order) == 6


async def test_the_webhook_also_answers_on_its_per_pair_path(world):
    """Issue 17: on order-sync's server the webhook is POST /webhooks/id-verification/{pair}; the old
    path stays for the default pair."""
    await world.start()
    receiver = world.service.webhook_receiver()
    order = world.add_order(status_id=11)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=Starlette(routes=receiver.routes("default"))),
                                 base_url="http://order-sync.local") as client:
        body = body_for(order, "started", occurred_at=world.clock.now().isoformat())
        headers = {SIGNATURE_HEADER: signature_for(SECRET, body)}
        assert (await client.post(f"{PATH}/elsewhere", content=body, headers=headers)).status_code == 404
        assert world.status(order) == 11
        assert (await client.post(f"{PATH}/default", content=body, headers=headers)).status_code == 200
        assert world.status(order) == 12


async def test_an_order_id_sent_as_a_numeric_string_is_applied(world, hook):
    """BigCommerce order ids are integers; a sender that writes them as strings ("123") is not
    refused: only digits are read, anything else is still 400."""
    order = world.add_order(status_id=11)
    now = world.clock.now().isoformat()
    response = await hook(json.dumps({"order_id": str(order), "event": "started", "check_id": "chk-1",
                                      "occurred_at": now}).encode())
    assert response.status_code == 200 and response.json()["order_id"] == order
    assert world.status(order) == 12
    for bad in (f"{order}.0", f" {order}", "-1", "0", "١٢"):
        response = await hook(json.dumps({"order_id": bad, "event": "started", "check_id": "chk-1",
                                          "occurred_at": now}).encode())
        assert response.status_code == 400
