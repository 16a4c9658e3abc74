"""POST /webhooks/bigcommerce/{pair} (issue 17, point 3), embedded mode: `order-sync run` answers
BigCommerce's order webhooks and mirrors the order in-process at once; polling stays the safety net.

A call must carry the X-Webhook-Secret that `webhooks register` gave the hook (compared in constant
time; 401 otherwise, and nothing is done). The payload holds only the order id (reference §12): the
order is read afresh. An event whose `hash` was seen before defers nothing; an order already queued
is not queued twice. The answer is 200 with no body, before the work.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.runtime import Runtime
from connector.server.hooks import SCOPES, SECRET_HEADER
from connector.store.tables import BcWebhookDelivery
from connector.sync.cycle import CycleReport
from connector.sync.refund_mirror import RefundMirror

log = logging.getLogger("connector.server")

KEEP = timedelta(days=3)  # BigCommerce retries a delivery for about two days
MAX_BODY = 64 * 1024


class BigCommerceWebhooks:
    def __init__(self, runtimes: dict[str, Runtime]) -> None:
        self.runtimes = runtimes  # pair → Runtime
        self.queue: asyncio.Queue[tuple[str, int, str]] = asyncio.Queue()
        self.queued: set[tuple[str, int]] = set()  # the per-order queueing lock

    def routes(self) -> list[Route]:
        return [Route("/webhooks/bigcommerce/{pair}", self.receive, methods=["POST"])]

    async def receive(self, request: Request) -> Response:
        pair = request.path_params["pair"]
        runtime = self.runtimes.get(pair)
        if runtime is None:
            return Response(status_code=404)
        secret = runtime.settings.bigcommerce.webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        if secret is None or not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
            log.warning("BigCommerce webhook for pair %s refused: wrong or missing %s", pair, SECRET_HEADER)
            return Response(status_code=401)
        body = await request.body()
        try:
            scope, order_id, digest = _parse(body[: MAX_BODY + 1])
        except ValueError as exc:
            log.warning("BigCommerce webhook for pair %s refused: %s", pair, exc)
            return Response(status_code=400)
        if scope in SCOPES and await asyncio.to_thread(self._claim, runtime, pair, scope, order_id, digest):
            if (pair, order_id) not in self.queued:
                self.queued.add((pair, order_id))
                self.queue.put_nowait((pair, order_id, scope))
        return Response(status_code=200)

    @staticmethod
    def _claim(runtime: Runtime, pair: str, scope: str, order_id: int, digest: str) -> bool:
        """True the first time this event (its hash) is seen."""
        store, now = runtime.store, runtime.store.clock.now()
        with store.session() as s:
            s.exec(delete(BcWebhookDelivery).where(BcWebhookDelivery.received_at < now - KEEP))
            s.add(BcWebhookDelivery(hash=digest, pair=pair, scope=scope, bc_order_id=order_id, received_at=now))
            try:
                s.commit()
            except IntegrityError:
                return False
        return True

    async def work(self) -> None:
        """Mirror queued orders one at a time until cancelled; a failure is the failed queue's."""
        while True:
            pair, order_id, scope = await self.queue.get()
            self.queued.discard((pair, order_id))
            runtime = self.runtimes[pair]
            try:
                order = await runtime.bc.get_order(order_id)
                await runtime.cycle().mirror_one(order, CycleReport())
                if scope == "store/order/refund/created":
                    async for refund in runtime.bc.iter_refunds(order_ids=(order_id,)):
                        await RefundMirror(runtime.deps()).mirror(refund)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next poll mirrors it; the receiver goes on
                log.warning("order %s: webhook mirror failed (%s); the next cycle tries again", order_id, exc,
                            extra={"order_id": order_id})


def _parse(body: bytes) -> tuple[str, int, str]:
    if len(body) > MAX_BODY:
        raise ValueError("the body is too large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
        raise ValueError("expected {scope, data: {id}, hash}")
    scope, order_id, digest = data.get("scope"), data["data"].get("id"), data.get("hash")
    if not isinstance(scope, str) or not isinstance(digest, str) or not digest:
        raise ValueError("scope and hash must be strings")
    if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id <= 0:
        raise ValueError("data.id must be a positive integer")
    return scope, order_id, digest
