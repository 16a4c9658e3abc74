"""The webhook fast path keeps every event it answers for: a deferral cut off at shutdown leaves no
claim behind (BigCommerce's resend is deferred, not taken for a duplicate), and a refund event for an
order whose job already waits gets its own job (the order's job mirrors the order, not its refunds)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from connector.runtime import REFUND_SCOPE
from connector.server.bc_webhooks import BigCommerceWebhooks
from connector.server.deferral import InProcessDeferrer
from connector.server.metrics import PairMetrics
from connector.server.ops import ops_app

SECRET = "s3cret"
URL = "/webhooks/bigcommerce/default"


class CutOffDeferrer:
    def __init__(self) -> None:
        self.deferred = []
        self.cut = True

    async def defer(self, pair, order_id, scope):
        if self.cut:
            self.cut = False
            raise asyncio.CancelledError()  # the request task cancelled mid-deferral (shutdown)
        self.deferred.append((pair, order_id, scope))
        return True

    def states(self):
        return {"todo": 0}


async def test_redelivery_after_a_cut_off_deferral_is_deferred(world):
    runtime = await world.runtime()
    runtime.settings.bigcommerce.webhook_secret = SecretStr(SECRET)
    deferrer = CutOffDeferrer()
    hooks = BigCommerceWebhooks({"default": runtime}, deferrer, PairMetrics({"default": runtime}))
    app = ops_app({"default": runtime}, PairMetrics({"default": runtime}), hooks.routes())
    body = {"scope": "store/order/created", "data": {"type": "order", "id": 7}, "hash": "a" * 40,
            "created_at": 1561479335}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        with pytest.raises(asyncio.CancelledError):  # no answer: BigCommerce will deliver it again
            await client.post(URL, json=body, headers={"X-Webhook-Secret": SECRET})
        again = await client.post(URL, json=body, headers={"X-Webhook-Secret": SECRET})
    assert again.status_code == 200
    assert deferrer.deferred == [("default", 7, "store/order/created")], "the resend was taken for a duplicate"


class RecordingRuntime:
    def __init__(self):
        self.calls = []

    async def mirror_event(self, order_id, scope, stop_event=None):
        self.calls.append((order_id, scope))


async def test_a_refund_event_while_the_orders_job_waits_gets_its_own_job():
    runtime = RecordingRuntime()
    deferrer = InProcessDeferrer({"default": runtime})
    assert await deferrer.defer("default", 7, "store/order/updated") is True
    assert await deferrer.defer("default", 7, REFUND_SCOPE) is True
    assert await deferrer.defer("default", 7, REFUND_SCOPE) is False  # a second one: the first reads them all
    worker = asyncio.create_task(deferrer.work())
    while deferrer.queue.qsize():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    assert runtime.calls == [(7, "store/order/updated"), (7, REFUND_SCOPE)]
