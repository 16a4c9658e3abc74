"""Real ID's verdicts read from the order metafields it writes, once per cycle.

Real ID records its latest check on each order as metafields in the `realid` namespace:
`verification_status` (pending, in_progress, in_review, verified, manually_approved, failed,
manually_rejected) and `check_id` (reference §13). Its webhooks exist only on its top plan, so this
poll is the source every merchant has.

One call per cycle in steady state: GET /v3/orders/metafields?namespace=realid&key=
verification_status&date_modified:min=<cursor − overlap> (the batch endpoint, all orders at once).
Only for a verdict not handled before is the order's check_id read (one more call per changed
order: the check_id metafield is not modified when a check's verdict changes, so the batch filter
would not return it). The overlap re-reads the last few minutes (1-second date_modified, late
commits); the idv_metafield_seen table makes a re-read free (no call, no second audit entry).
The cursor moves to the poll's start once every verdict read is settled, and never past one that
failed for a reason that may pass (BigCommerce unreachable): that one is read again next cycle.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import AsyncIterator, Protocol

from connector.clients.bigcommerce_models import Metafield, OrderValidationError
from connector.errors import CredentialsError, NotFoundError, PermanentApiError
from connector.idv.engine import IdvEngine
from connector.idv.stages import CheckEvent, Source, stage_of_metafield
from connector.store.repository import Store
from connector.store.tables import IdvMetafieldSeen

log = logging.getLogger("connector.idv.metafields")

NAMESPACE = "realid"
STATUS_KEY = "verification_status"
CHECK_KEY = "check_id"
CURSOR = "idv_metafields"


class MetafieldReader(Protocol):
    def iter_order_metafields(self, *, namespace: str | None = None, key: str | None = None,
                              modified_since: datetime | None = None) -> AsyncIterator[Metafield]: ...

    async def list_metafields_for_order(self, order_id: int, *, namespace: str | None = None,
                                        key: str | None = None) -> list[Metafield]: ...


@dataclass
class PollReport:
    since: datetime | None = None
    read: int = 0  # verification_status metafields returned by the batch call
    already_handled: int = 0  # re-read through the overlap, nothing to do
    unknown_values: int = 0  # a value Real ID does not document: logged, not acted on
    outcomes: Counter = field(default_factory=Counter)
    failed: dict[int, str] = field(default_factory=dict)  # order id → why (retried next cycle)
    given_up: dict[int, str] = field(default_factory=dict)  # order id → why (retrying cannot help)


class MetafieldPoller:
    def __init__(self, *, bc: MetafieldReader, engine: IdvEngine, store: Store, overlap_seconds: int,
                 start_at: datetime | None = None) -> None:
        self.bc = bc
        self.engine = engine
        self.store = store
        self.overlap = timedelta(seconds=overlap_seconds)
        self.start_at = start_at

    async def poll(self) -> PollReport:
        started = self.store.clock.now()
        cursor = self.store.cursor(CURSOR) or self.start_at or started
        report = PollReport(since=cursor - self.overlap)
        rows = [m async for m in self.bc.iter_order_metafields(
            namespace=NAMESPACE, key=STATUS_KEY, modified_since=report.since)]
        rows.sort(key=lambda m: (m.date_modified, m.id))
        report.read = len(rows)
        unsettled: datetime | None = None
        for row in rows:
            if row.namespace != NAMESPACE or row.key != STATUS_KEY or row.resource_type != "order":
                continue  # the filter should make this impossible; never act on another app's data
            if self._handled(row):
                report.already_handled += 1
                continue
            order_id = row.resource_id
            stage = stage_of_metafield(row.value)
            if stage is None:
                log.warning("order %s: realid verification_status %r is not a known value; ignored",
                            order_id, row.value)
                report.unknown_values += 1
                self._mark(row)
                continue
            try:
                check_id = await self._check_id(order_id)
                decision = await self.engine.handle(CheckEvent(
                    order_id=order_id, event=row.value.strip().lower(), stage=stage, check_id=check_id,
                    occurred_at=row.date_modified, source=Source.METAFIELD,
                ))
            except CredentialsError:
                raise
            except (NotFoundError, PermanentApiError, OrderValidationError) as exc:
                log.error("order %s: ID-verification verdict %r not applied, and retrying cannot help: %s",
                          order_id, row.value, exc)
                report.given_up[order_id] = str(exc)
                self._mark(row)
                continue
            except Exception as exc:  # noqa: BLE001 - BigCommerce unreachable, lease busy…: next cycle
                log.warning("order %s: ID-verification verdict %r not applied yet (next cycle): %s",
                            order_id, row.value, exc)
                report.failed[order_id] = str(exc)
                unsettled = row.date_modified if unsettled is None else min(unsettled, row.date_modified)
                continue
            report.outcomes[decision.outcome] += 1
            self._mark(row)
        self.store.set_cursor(started if unsettled is None else min(unsettled, started), CURSOR)
        return report

    async def _check_id(self, order_id: int) -> str | None:
        rows = await self.bc.list_metafields_for_order(order_id, namespace=NAMESPACE, key=CHECK_KEY)
        for row in rows:
            if row.namespace == NAMESPACE and row.key == CHECK_KEY and row.value.strip():
                return row.value.strip()
        return None

    def _handled(self, row: Metafield) -> bool:
        with self.store.session() as s:
            seen = s.get(IdvMetafieldSeen, row.id)
        return seen is not None and seen.date_modified == row.date_modified and seen.value == row.value

    def _mark(self, row: Metafield) -> None:
        with self.store.session() as s:
            s.merge(IdvMetafieldSeen(metafield_id=row.id, bc_order_id=row.resource_id, value=row.value,
                                     date_modified=row.date_modified))
            s.commit()


def summarize(report: PollReport) -> str:
    decided = ", ".join(f"{o.label} {n}" for o, n in sorted(report.outcomes.items(), key=lambda kv: kv[0].value))
    parts = [f"{report.read} verdict(s) read", f"{report.already_handled} already handled"]
    if decided:
        parts.append(decided)
    if report.unknown_values:
        parts.append(f"{report.unknown_values} unknown value(s)")
    if report.failed:
        parts.append(f"{len(report.failed)} to retry")
    if report.given_up:
        parts.append(f"{len(report.given_up)} given up")
    return "; ".join(parts)

