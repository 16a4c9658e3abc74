"""POST /webhooks/id-verification: signed ID-verification events, served by the daemon.

Body: JSON {"order_id": 123, "event": "started|submitted|passed|failed|approved|rejected",
"check_id": "chk_1", "occurred_at": "2026-01-01T12:00:00Z"}, signed in X-OrderSync-Signature:
sha256=<hex HMAC-SHA256 of the raw body, keyed with id_verification.webhook_secret>. occurred_at must
lie within ±webhook_tolerance_seconds; inside that window a byte-identical body is a replay (digests
are kept in the database, so restarts and several daemons agree). A refused delivery is not lost:
the metafield poll reads the verdict anyway.

Answers: 200 decided; 400 signed but malformed; 401 bad signature or occurred_at outside the window;
404 no such order (not recorded: it may be sent again); 409 replay; 413 body too large (counted while
it streams, never buffered); 503 BigCommerce unreachable (nothing recorded: send it again). Nothing is
written on any answer but 200.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connector.clock import Clock
from connector.errors import NotFoundError
from connector.idv.engine import IdvEngine
from connector.idv.stages import CheckEvent, Source, stage_of_event
from connector.logs import redact
from connector.server.bodies import read_limited
from connector.store.repository import Store
from connector.store.webhook_deliveries import IdvWebhookDelivery

# Longer than any pair's window (2 × webhook_tolerance_seconds, at most 12 h).
UNKNOWN_PAIR_KEEP = timedelta(hours=24)
log = logging.getLogger("connector.idv.webhook")

PATH = "/webhooks/id-verification"
SIGNATURE_HEADER = "X-OrderSync-Signature"
MAX_BODY_BYTES = 64 * 1024


def signature_for(secret: str, body: bytes) -> str:
    """The header value a sender puts on `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    scheme, _, given = (header or "").strip().partition("=")
    if scheme.strip().lower() != "sha256" or not given:
        return False
    expected = signature_for(secret, body).removeprefix("sha256=")
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("utf-8", "replace"))


class SqlDeliveryLog:
    """The store's pair's deliveries (one database holds a fleet's): a body another pair received
    is not a replay here."""

    def __init__(self, store: Store, configured: Collection[str] | None = None) -> None:
        self.store = store
        self.configured = configured  # the file's pairs (None: unknown)

    def claim(self, digest: str, now: datetime, keep: timedelta) -> bool:
        """True the first time `digest` is seen within `keep`; False for a replay."""
        received = IdvWebhookDelivery.received_at
        # Not another configured pair's: it may keep its deliveries longer (its own tolerance).
        expiring = and_(IdvWebhookDelivery.pair == self.store.pair, received < now - keep)
        if self.configured is not None:
            # A pair no longer configured receives nothing, so its own claims never expire its rows.
            # Only after a day: in a rolling change of the config file, a pair this process does not
            # know may be one the other deployment has just added and is still receiving for.
            expiring = or_(expiring, and_(IdvWebhookDelivery.pair.not_in(list(self.configured)),
                                          received < now - max(keep, UNKNOWN_PAIR_KEEP)))
        with self.store.session() as s:
            s.exec(delete(IdvWebhookDelivery).where(expiring))
            s.commit()
        try:
            with self.store.session() as s:
                s.add(IdvWebhookDelivery(pair=self.store.pair, digest=digest, received_at=now))
                s.commit()
            return True
        except IntegrityError:
            return False

    def release(self, digest: str) -> None:
        """Forget a delivery whose handling failed, so the sender may send it again."""
        with self.store.session() as s:
            s.exec(delete(IdvWebhookDelivery).where(IdvWebhookDelivery.pair == self.store.pair,
                                                    IdvWebhookDelivery.digest == digest))
            s.commit()


def parse_payload(body: bytes) -> tuple[int, str, str, datetime]:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    order_id = data.get("order_id")
    if isinstance(order_id, str) and order_id.isascii() and order_id.isdigit():
        order_id = int(order_id)  # "123": an id written as text, like check_id may be a number
    if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id <= 0:
        raise ValueError("order_id must be a positive integer")
    event = data.get("event")
    if not isinstance(event, str):
        raise ValueError("event must be a string")
    check_id = data.get("check_id")
    if isinstance(check_id, int) and not isinstance(check_id, bool):
        check_id = str(check_id)
    if not isinstance(check_id, str) or not check_id.strip():
        raise ValueError("check_id must be a non-empty string")
    occurred_at = data.get("occurred_at")
    if not isinstance(occurred_at, str):
        raise ValueError("occurred_at must be an ISO-8601 string with an offset")
    try:
        parsed = datetime.fromisoformat(occurred_at.strip())  # "Z" included, since Python 3.11
    except ValueError:
        raise ValueError("occurred_at must be an ISO-8601 string with an offset") from None
    if parsed.tzinfo is None:
        raise ValueError("occurred_at must carry its offset (e.g. 2026-01-01T12:00:00Z)")
    return order_id, event, check_id.strip(), parsed


class WebhookReceiver:
    def __init__(self, *, engine: IdvEngine, secret: str, tolerance_seconds: int, clock: Clock,
                 deliveries: SqlDeliveryLog) -> None:
        self.engine = engine
        self._secret = secret
        self.tolerance = timedelta(seconds=tolerance_seconds)
        self.clock = clock
        self.deliveries = deliveries

    def app(self) -> Starlette:
        return Starlette(routes=self.routes())

    def routes(self, pair: str = "default") -> list[Route]:
        """The webhook's path, and on order-sync's server its per-pair path (issue 17): the old
        path stays for the default pair."""
        async def for_pair(request: Request) -> JSONResponse:
            if request.path_params["pair"] != pair:
                return _refuse(404, "no such pair")
            return await self.receive(request)

        return [Route(PATH, self.receive, methods=["POST"]), Route(PATH + "/{pair}", for_pair, methods=["POST"])]

    async def receive(self, request: Request) -> JSONResponse:
        body = await read_limited(request, MAX_BODY_BYTES)
        if body is None:
            return _refuse(413, "body too large")
        if not signature_matches(self._secret, body, request.headers.get(SIGNATURE_HEADER)):
            log.warning("webhook refused: bad or missing %s", SIGNATURE_HEADER)
            return _refuse(401, "bad or missing signature")
        try:
            order_id, event_name, check_id, occurred_at = parse_payload(body)
            stage = stage_of_event(event_name)
        except ValueError as exc:
            return _refuse(400, str(exc))
        now = self.clock.now()
        if abs(now - occurred_at) > self.tolerance:
            log.warning("webhook refused: occurred_at %s is outside the ±%ss window", occurred_at.isoformat(),
                        int(self.tolerance.total_seconds()))
            return _refuse(401, "occurred_at is outside the accepted window")
        digest = hashlib.sha256(body).hexdigest()
        if not await run_in_threadpool(self.deliveries.claim, digest, now, 2 * self.tolerance):
            log.warning("webhook refused: replay of a delivery already received (order %s)", order_id)
            return _refuse(409, "this delivery was already received")
        event = CheckEvent(order_id=order_id, event=event_name.strip().lower(), stage=stage, check_id=check_id,
                           occurred_at=occurred_at, source=Source.WEBHOOK)
        try:
            decision = await self.engine.handle(event)
        except asyncio.CancelledError:  # stopping: the sender sends it again, which must not be a replay
            await asyncio.shield(run_in_threadpool(self.deliveries.release, digest))
            raise
        except NotFoundError:  # the order may show up later (or the sender fix its id): not decided
            await run_in_threadpool(self.deliveries.release, digest)
            return _refuse(404, f"order {order_id} not found")
        except Exception as exc:  # noqa: BLE001 - anything else: nothing was recorded, let the sender retry
            await run_in_threadpool(self.deliveries.release, digest)
            log.error("webhook for order %s not handled, answered 503: %s", order_id, exc)
            return _refuse(503, "BigCommerce could not be reached; send it again later")
        # The reason may quote BigCommerce's answer, which may echo our token: masked for the sender.
        return JSONResponse({
            "outcome": decision.outcome.value, "order_id": decision.order_id, "check_id": decision.check_id,
            "before": decision.before, "after": decision.after, "reason": redact(decision.reason),
        })


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
