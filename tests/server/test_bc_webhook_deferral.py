"""Issue 17, point 3: what the BigCommerce webhook receiver hands its deferrer, counted by a test
double of the Deferrer interface (connector.server.deferral): an unsigned or wrongly signed call
defers nothing (401), a repeated `hash` defers nothing, an order already waiting is not queued
twice, and a deferral that fails releases the hash so that BigCommerce's retry is not a duplicate."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from connector.server.bc_webhooks import BigCommerceWebhooks
from connector.server.metrics import PairMetrics
from connector.server.ops import ops_app

SECRET = "s3cret"
URL = "/webhooks/bigcommerce/default"


class CountingDeferrer:
    """The Deferrer interface, recording each deferral; `fail` makes the next one raise."""

    def __init__(self) -> None:
        self.deferred: list[tuple[str, int, str]] = []
        self.waiting_orders: set[tuple[str, int]] = set()
        self.fail = False

    async def defer(self, pair: str, order_id: int, scope: str) -> bool:
        if self.fail:
            self.fail = False
            raise ConnectionError("the job queue's database is down")
        if (pair, order_id) in self.waiting_orders:
            return False
        self.waiting_orders.add((pair, order_id))
        self.deferred.append((pair, order_id, scope))
        return True

    def waiting(self) -> int:
        return len(self.waiting_orders)


def event(order_id: int, digest: str, scope: str = "store/order/created", created_at: int = 1561479335) -> dict:
    return {"scope": scope, "store_id": "1025646", "data": {"type": "order", "id": order_id},
            "hash": digest, "created_at": created_at, "producer": "stores/abc123"}


def outcomes(text: str) -> dict[str, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "order_sync_webhooks_total":
                found[sample.labels["outcome"]] = sample.value
    return found


async def test_only_signed_new_events_are_deferred_once_per_waiting_order(db_world):
    runtime = await db_world.runtime()
    runtime.settings.bigcommerce.webhook_secret = SecretStr(SECRET)
    deferrer = CountingDeferrer()
    metrics = PairMetrics({"default": runtime})
    app = ops_app({"default": runtime}, metrics, BigCommerceWebhooks({"default": runtime}, deferrer, metrics).routes())
    signed = {"X-Webhook-Secret": SECRET}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        for headers in ({}, {"X-Webhook-Secret": "wrong"}, {"X-Webhook-Secret": SECRET + "x"}):
            assert (await client.post(URL, json=event(7, "a" * 40), headers=headers)).status_code == 401
        assert deferrer.deferred == []

        first = await client.post(URL, json=event(7, "a" * 40), headers=signed)
        assert first.status_code == 200 and first.content == b""
        assert deferrer.deferred == [("default", 7, "store/order/created")]
        # The same event delivered again (same hash): answered 200, nothing deferred.
        assert (await client.post(URL, json=event(7, "a" * 40), headers=signed)).status_code == 200
        # A new event of the order while its job waits: the waiting job reads the order afresh.
        assert (await client.post(URL, json=event(7, "b" * 40, "store/order/updated"), headers=signed)).status_code == 200
        assert len(deferrer.deferred) == 1
        # Not an order scope order-sync registers; not for a pair it serves; not an event.
        assert (await client.post(URL, json=event(8, "c" * 40, "store/cart/created"), headers=signed)).status_code == 200
        assert (await client.post("/webhooks/bigcommerce/other", json=event(8, "d" * 40),
                                  headers=signed)).status_code == 404
        assert (await client.post(URL, content=b"{}", headers=signed)).status_code == 400
        assert len(deferrer.deferred) == 1

        # The queue is down: 503, and BigCommerce's retry of the same event is deferred then.
        deferrer.fail = True
        assert (await client.post(URL, json=event(9, "e" * 40), headers=signed)).status_code == 503
        assert (await client.post(URL, json=event(9, "e" * 40), headers=signed)).status_code == 200
        assert deferrer.deferred[1:] == [("default", 9, "store/order/created")]

        page = (await client.get("/metrics")).text
    assert outcomes(page) == {"refused": 3, "deferred": 2, "duplicate": 1, "already_queued": 1, "ignored": 1,
                              "invalid": 1, "failed": 1}


async def test_a_pair_without_a_webhook_secret_refuses_every_call(world):
    runtime = await world.runtime()
    assert runtime.settings.bigcommerce.webhook_secret is None
    deferrer = CountingDeferrer()
    app = ops_app({"default": runtime}, PairMetrics({"default": runtime}),
                  BigCommerceWebhooks({"default": runtime}, deferrer).routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        for headers in ({}, {"X-Webhook-Secret": ""}):
            assert (await client.post(URL, json=event(7, "a" * 40), headers=headers)).status_code == 401
    assert deferrer.deferred == []


async def test_a_pair_whose_webhook_secret_is_empty_refuses_every_call(world):
    """An empty secret would match an empty or missing header: it is no secret, so taken for unset."""
    runtime = await world.runtime()
    runtime.settings.bigcommerce.webhook_secret = SecretStr("")
    deferrer = CountingDeferrer()
    app = ops_app({"default": runtime}, PairMetrics({"default": runtime}),
                  BigCommerceWebhooks({"default": runtime}, deferrer).routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        for headers in ({}, {"X-Webhook-Secret": ""}):
            assert (await client.post(URL, json=event(7, "b" * 40), headers=headers)).status_code == 401
    assert deferrer.deferred == []


class ProcessKilled(BaseException):
    """The process dying mid-call: nothing in the receiver can catch it or clean up after it."""


class DyingOnceDeferrer(CountingDeferrer):
    def __init__(self) -> None:
        super().__init__()
        self.died = False

    async def defer(self, pair: str, order_id: int, scope: str) -> bool:
        if not self.died:
            self.died = True
            raise ProcessKilled()
        return await super().defer(pair, order_id, scope)


async def test_an_event_whose_process_died_before_its_job_was_queued_is_deferred_when_sent_again(db_world):
    """BigCommerce got no answer, so it delivers the event again: that must not be a duplicate."""
    runtime = await db_world.runtime()
    runtime.settings.bigcommerce.webhook_secret = SecretStr(SECRET)
    deferrer = DyingOnceDeferrer()
    app = ops_app({"default": runtime}, PairMetrics({"default": runtime}),
                  BigCommerceWebhooks({"default": runtime}, deferrer).routes())
    signed = {"X-Webhook-Secret": SECRET}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        with pytest.raises(ProcessKilled):
            await client.post(URL, json=event(250, "f" * 40), headers=signed)
        assert (await client.post(URL, json=event(250, "f" * 40), headers=signed)).status_code == 200
        assert deferrer.deferred == [("default", 250, "store/order/created")]
        # Once queued, the same event again is a duplicate: nothing more is deferred.
        deferrer.waiting_orders.clear()  # its job has run
        assert (await client.post(URL, json=event(250, "f" * 40), headers=signed)).status_code == 200
        assert len(deferrer.deferred) == 1


async def test_an_event_is_its_scope_hash_time_and_order_not_its_hash_alone(db_world):
    """The reference's samples give an order's created, updated and archived events one hash; a hash
    of the order alone would also give two of its updates one. Each is deferred (the order's job had
    started in between), and so is another order's event of the same second under that hash; only the
    same event delivered again is a duplicate."""
    runtime = await db_world.runtime()
    runtime.settings.bigcommerce.webhook_secret = SecretStr(SECRET)
    deferrer = CountingDeferrer()
    app = ops_app({"default": runtime}, PairMetrics({"default": runtime}),
                  BigCommerceWebhooks({"default": runtime}, deferrer).routes())
    same_hash = "dd70c0976e06b67aaf671e73f49dcb79230ebf9d"
    deliveries = [event(7, same_hash, "store/order/created", 1561479335),
                  event(7, same_hash, "store/order/updated", 1561479335),
                  event(7, same_hash, "store/order/updated", 1561479400),
                  event(7, same_hash, "store/order/updated", 1561479400),  # this one delivered again
                  event(8, same_hash, "store/order/updated", 1561479400)]  # another order, the same second
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        for delivery in deliveries:
            deferrer.waiting_orders.clear()  # the order's job started: a new event queues it again
            answer = await client.post(URL, json=delivery, headers={"X-Webhook-Secret": SECRET})
            assert answer.status_code == 200
    assert deferrer.deferred == [("default", 7, "store/order/created"), ("default", 7, "store/order/updated"),
                                 ("default", 7, "store/order/updated"), ("default", 8, "store/order/updated")]


async def test_events_without_created_at_are_each_deferred(db_world):
    """created_at is optional (reference §12: one docs example leaves it out) and the hash may be
    the order's data alone (the samples): without a time, two updates of an order look alike, and
    taking them for one delivery would drop every later update of it for days. Each is deferred
    (a delivery sent twice costs a second read of the order, nothing more)."""
    runtime = await db_world.runtime()
    runtime.settings.bigcommerce.webhook_secret = SecretStr(SECRET)
    deferrer = CountingDeferrer()
    app = ops_app({"default": runtime}, PairMetrics({"default": runtime}),
                  BigCommerceWebhooks({"default": runtime}, deferrer).routes())
    update = event(7, "dd70c0976e06b67aaf671e73f49dcb79230ebf9d", "store/order/updated")
    del update["created_at"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        for _ in range(2):
            deferrer.waiting_orders.clear()  # the order's job ran in between
            answer = await client.post(URL, json=update, headers={"X-Webhook-Secret": SECRET})
            assert answer.status_code == 200
    assert deferrer.deferred == [("default", 7, "store/order/updated")] * 2


async def test_an_order_id_sent_as_a_numeric_string_is_deferred(db_world):
    """W3 types data.id as an integer for orders but as a string for other resources (carts); a sender
    writing every id as a string must not get 400s until BigCommerce deactivates the hook."""
    runtime = await db_world.runtime()
    runtime.settings.bigcommerce.webhook_secret = SecretStr(SECRET)
    deferrer = CountingDeferrer()
    app = ops_app({"default": runtime}, PairMetrics({"default": runtime}),
                  BigCommerceWebhooks({"default": runtime}, deferrer).routes())
    as_text = event(7, "f" * 40)
    as_text["data"]["id"] = "7"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        assert (await client.post(URL, json=as_text, headers={"X-Webhook-Secret": SECRET})).status_code == 200
        for bad in ("7a", "-7", "", "0"):
            as_text["data"]["id"], as_text["hash"] = bad, bad + "x" * 40
            assert (await client.post(URL, json=as_text, headers={"X-Webhook-Secret": SECRET})).status_code == 400
    assert deferrer.deferred == [("default", 7, "store/order/created")]


async def test_an_event_without_hash_is_deferred(db_world):
    """W3's callback schema requires none of its fields: an event without `hash` is still an order
    announced by an authenticated caller (the secret header); it is deferred, not refused."""
    runtime = await db_world.runtime()
    runtime.settings.bigcommerce.webhook_secret = SecretStr(SECRET)
    deferrer = CountingDeferrer()
    app = ops_app({"default": runtime}, PairMetrics({"default": runtime}),
                  BigCommerceWebhooks({"default": runtime}, deferrer).routes())
    no_hash = event(7, "")
    del no_hash["hash"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        assert (await client.post(URL, json=no_hash, headers={"X-Webhook-Secret": SECRET})).status_code == 200
    assert deferrer.deferred == [("default", 7, "store/order/created")]


async def test_a_body_beyond_the_limit_is_refused_without_being_read_whole(world):
    """64 KiB is far beyond any event (a few hundred bytes): a larger body is refused with 413 as
    soon as the limit is passed, and the rest of the stream is never read."""
    runtime = await world.runtime()
    runtime.settings.bigcommerce.webhook_secret = SecretStr(SECRET)
    deferrer = CountingDeferrer()
    app = ops_app({"default": runtime}, PairMetrics({"default": runtime}),
                  BigCommerceWebhooks({"default": runtime}, deferrer).routes())
    sent = 0

    async def endless():  # 8 MiB in 1 MiB chunks: a reader that stops at the limit takes one or two
        nonlocal sent
        for _ in range(8):
            sent += 1
            yield b" " * (1 << 20)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        answer = await client.post(URL, content=endless(), headers={"X-Webhook-Secret": SECRET})
    assert answer.status_code == 413 and deferrer.deferred == [] and sent <= 2
