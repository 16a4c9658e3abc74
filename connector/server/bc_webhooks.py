"""POST /webhooks/bigcommerce/{pair} (issue 17, point 3), served by `order-sync serve` and, in the
embedded mode, by `order-sync run`: an order announced by BigCommerce is deferred at once (a job per
order, connector.server.deferral) instead of waiting for the next poll; polling stays the safety net.

A call must carry the X-Webhook-Secret that `webhooks register` gave the hook (compared in constant
time; 401 otherwise, and nothing is done). The payload holds only the order id (reference §12): the
order is read afresh. An event seen before (its scope, `hash`, time and order) defers nothing; an order already queued
is not queued twice. An event without its time or hash (W3 requires neither) is always deferred: its
hash may be the order's data alone, the same for each of its updates. The answer is 200 with no body, before the work. An event is
recorded as seen only once its job is queued: when the deferral itself fails (the job queue's
database down), nothing is recorded and the answer is 503: BigCommerce delivers the event again later.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Collection
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.runtime import Runtime
from connector.server.bodies import read_limited
from connector.server.deferral import Deferrer
from connector.server.hooks import SCOPES, SECRET_HEADER
from connector.server.metrics import PairMetrics
from connector.store.webhook_deliveries import BcWebhookDelivery

log = logging.getLogger("connector.server")

KEEP = timedelta(days=3)  # BigCommerce retries a delivery for about two days
MAX_BODY = 64 * 1024


class BigCommerceWebhooks:
    """The receiver: `deferrer` (connector.server.deferral) takes the orders it accepts; `metrics`,
    when given, counts the calls by outcome (order_sync_webhooks_total)."""

    def __init__(self, runtimes: dict[str, Runtime], deferrer: Deferrer, metrics: PairMetrics | None = None,
                 starting: Collection[str] = ()) -> None:
        self.runtimes = runtimes  # pair → Runtime (its settings hold the secret, its store the hashes)
        self.deferrer = deferrer
        self.metrics = metrics
        self.starting = starting  # pairs configured, still starting (APIs down, or waiting on their quota)

    def routes(self) -> list[Route]:
        return [Route("/webhooks/bigcommerce/{pair}", self.receive, methods=["POST"])]

    async def receive(self, request: Request) -> Response:
        pair = request.path_params["pair"]
        runtime = self.runtimes.get(pair)
        if runtime is None and pair in self.starting:
            # Not "no such pair": BigCommerce delivers the event again later, once the pair is up.
            return self._answer(pair, "starting", 503)
        if runtime is None:
            return Response(status_code=404)
        secret = runtime.settings.bigcommerce.webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        # An empty secret (a settings object built without the config's check) is no secret: it
        # would match a call carrying none.
        if (secret is None or not secret.get_secret_value()
                or not hmac.compare_digest(given.encode(), secret.get_secret_value().encode())):
            log.warning("BigCommerce webhook for pair %s refused: wrong or missing %s", pair, SECRET_HEADER)
            return self._answer(pair, "refused", 401)
        body = await read_limited(request, MAX_BODY)
        if body is None:
            log.warning("BigCommerce webhook for pair %s refused: the body is larger than %s bytes", pair, MAX_BODY)
            return self._answer(pair, "invalid", 413)
        try:
            event = _parse(body)
        except ValueError as exc:
            log.warning("BigCommerce webhook for pair %s refused: %s", pair, exc)
            return self._answer(pair, "invalid", 400)
        if event.scope not in SCOPES:
            return self._answer(pair, "ignored", 200)
        # Without a time (or a hash), a delivery sent again cannot be told from the order's next
        # update: defer both (a second read of the order) rather than drop the update.
        dedupe = event.created_at != 0 and event.digest != ""
        if dedupe and await asyncio.to_thread(self._seen, runtime, pair, event):
            return self._answer(pair, "duplicate", 200)
        try:
            deferred = await self.deferrer.defer(pair, event.order_id, event.scope)
        except Exception:  # noqa: BLE001 - whatever the queue's trouble, nothing was recorded: the retry is deferred
            log.exception("BigCommerce webhook for pair %s: order %s could not be deferred", pair, event.order_id)
            return self._answer(pair, "failed", 503)
        # Recorded only once its job is queued: a process dying in between leaves it unrecorded, and
        # BigCommerce's retry defers it again (at worst an order read twice, never an order missed).
        if dedupe:
            await asyncio.shield(asyncio.to_thread(self._record, runtime, pair, event))
        return self._answer(pair, "deferred" if deferred else "already_queued", 200)

    def _answer(self, pair: str, outcome: str, status: int) -> Response:
        if self.metrics is not None:
            self.metrics.webhooks.labels(pair=pair, outcome=outcome).inc()
        return Response(status_code=status)

    @staticmethod
    def _seen(runtime: Runtime, pair: str, event: Event) -> bool:
        """True when this event (its scope, hash, time and order) was deferred before."""
        with runtime.store.session() as s:
            return s.exec(select(BcWebhookDelivery).where(
                BcWebhookDelivery.pair == pair, BcWebhookDelivery.scope == event.scope,
                BcWebhookDelivery.hash == event.digest, BcWebhookDelivery.created_at == event.created_at,
                BcWebhookDelivery.bc_order_id == event.order_id)).first() is not None

    @staticmethod
    def _record(runtime: Runtime, pair: str, event: Event) -> None:
        """Remember a deferred event, so that BigCommerce delivering it again defers nothing."""
        store, now = runtime.store, runtime.store.clock.now()
        with store.session() as s:
            s.exec(delete(BcWebhookDelivery).where(BcWebhookDelivery.received_at < now - KEEP))
            s.add(BcWebhookDelivery(pair=pair, scope=event.scope, hash=event.digest, created_at=event.created_at,
                                    bc_order_id=event.order_id, received_at=now))
            try:
                s.commit()
            except IntegrityError:
                pass  # the same event, delivered twice at once, was recorded by the other call


class Event(NamedTuple):
    scope: str
    order_id: int
    digest: str  # the payload's `hash`, "" when absent
    created_at: int  # the payload's `created_at` (Unix seconds), 0 when absent


def _parse(body: bytes) -> Event:
    if len(body) > MAX_BODY:
        raise ValueError("the body is too large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
        raise ValueError("expected {scope, data: {id}, hash}")
    scope, order_id, digest = data.get("scope"), data["data"].get("id"), data.get("hash")
    if not isinstance(scope, str):
        raise ValueError("scope must be a string")
    if not isinstance(digest, str):
        digest = ""  # W3 requires no field of the callback: without a hash, no dedupe
    if isinstance(order_id, str) and order_id.isascii() and order_id.isdigit():
        order_id = int(order_id)  # W3 sends other resources' ids as strings: "250" is order 250
    if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id <= 0:
        raise ValueError("data.id must be a positive integer")
    created_at = data.get("created_at")
    if isinstance(created_at, bool) or not isinstance(created_at, int):
        created_at = 0  # not given, or not a number: such an event is never taken for a redelivery
    return Event(scope, order_id, digest, created_at)
