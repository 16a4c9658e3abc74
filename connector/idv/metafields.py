"""Real ID's verdicts read from the order metafields it writes (namespace `realid`, keys
`verification_status` and `check_id`, reference §13), once per cycle: the source every merchant has
(its webhooks exist only on its top plan).

One call per cycle: GET /v3/orders/metafields?namespace=realid&key:in=verification_status,check_id
&date_modified:min=<cursor − overlap>. A new check writes check_id, so the batch has it; a later
verdict of the same check does not, so the last check_id is remembered per order and an order whose
check was never seen is looked up on its own, once. Should BigCommerce refuse `key:in`, each key gets
its own call from then on. idv_metafield_seen makes the overlap's re-reads free; the cursor never
passes a verdict that failed for a reason that may pass (BigCommerce unreachable).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.bigcommerce_models import OrderValidationError
from connector.clients.bigcommerce_v3_models import Metafield
from connector.clock import read_until
from connector.errors import CredentialsError, NotFoundError, PermanentApiError
from connector.idv.engine import IdvEngine
from connector.idv.ledger import CheckIdRead, SqlCheckIds
from connector.idv.stages import CheckEvent, Source, stage_of_metafield
from connector.store.repository import Store
from connector.store.idv_tables import IdvMetafieldSeen

log = logging.getLogger("connector.idv.metafields")

NAMESPACE = "realid"
STATUS_KEY = "verification_status"
CHECK_KEY = "check_id"
CURSOR = "idv_metafields"
BATCH_PATH = "/v3/orders/metafields"


@dataclass
class PollReport:
    read: int = 0  # verification_status metafields returned by the batch call
    check_ids_read: int = 0  # check_id metafields returned by the batch call (new checks)
    looked_up: int = 0  # orders whose check_id had to be read on its own (never seen before)
    already_handled: int = 0  # re-read through the overlap, nothing to do
    unknown_values: int = 0  # a value Real ID does not document: logged, not acted on
    outcomes: Counter = field(default_factory=Counter)
    failed: dict[int, str] = field(default_factory=dict)  # order id → why (retried next cycle)
    given_up: dict[int, str] = field(default_factory=dict)  # order id → why (retrying cannot help)


class MetafieldPoller:
    def __init__(self, *, bc: BigCommerceClient, engine: IdvEngine, store: Store, overlap_seconds: int,
                 start_at: datetime | None = None) -> None:
        self.bc = bc
        self.engine = engine
        self.store = store
        self.check_ids = SqlCheckIds(store)
        self.overlap = timedelta(seconds=overlap_seconds)
        self.start_at = start_at
        self.key_in = True  # False once BigCommerce refused key:in: then one call per key

    async def poll(self) -> PollReport:
        started = self.store.clock.now()
        since = (self.store.cursor(CURSOR) or self.start_at or started) - self.overlap
        report = PollReport()
        server_times: list[datetime] = []
        # Checked here too: another app's namespace or key must never be acted on.
        ours = [m for m in await self._read(since, server_times.append) if m.namespace == NAMESPACE and m.resource_type == "order"]
        rows = sorted((m for m in ours if m.key == STATUS_KEY), key=lambda m: (m.date_modified, m.id))
        checks = [CheckIdRead(m.resource_id, m.value.strip(), m.date_modified)
                  for m in ours if m.key == CHECK_KEY and m.value.strip()]
        report.read, report.check_ids_read = len(rows), len(checks)
        self.check_ids.remember(checks)  # before the verdicts: a new check's verdict belongs to it
        known = self.check_ids.known({m.resource_id for m in rows})
        unsettled: datetime | None = None
        for row in rows:
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
                if order_id not in known:
                    known[order_id] = await self._look_up(order_id, report)
                decision = await self.engine.handle(CheckEvent(
                    order_id=order_id, event=row.value.strip().lower(), stage=stage, check_id=known[order_id],
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
        # BigCommerce stamps date_modified by its own clock: ours running ahead by more than the
        # overlap moved the cursor past verdicts recorded after the read (clock.read_until).
        until = read_until(started, server_times, max((m.date_modified for m in ours), default=None))
        self.store.set_cursor(until if unsettled is None else min(unsettled, until), CURSOR)
        return report

    async def _read(self, since: datetime, on_server_time: Callable[[datetime], None]) -> list[Metafield]:
        keys = (STATUS_KEY, CHECK_KEY)
        if self.key_in:
            try:
                return [m async for m in self.bc.iter_order_metafields(namespace=NAMESPACE, keys=keys,
                                                                      modified_since=since,
                                                                      on_server_time=on_server_time)]
            except PermanentApiError as exc:
                if exc.status not in (400, 422):
                    raise
                # key:in is in the spec but unproven on a live store: fall back to one call per key.
                log.warning("BigCommerce refused key:in on %s (%s); reading %s with one call each from now on",
                            BATCH_PATH, exc, " and ".join(keys))
                self.key_in = False
        return [m for key in keys
                async for m in self.bc.iter_order_metafields(namespace=NAMESPACE, key=key, modified_since=since,
                                                             on_server_time=on_server_time)]

    async def _look_up(self, order_id: int, report: PollReport) -> str | None:
        """The check_id of an order whose check was never seen (it changed before the poll began)."""
        report.looked_up += 1
        for row in await self.bc.list_metafields_for_order(order_id, namespace=NAMESPACE, key=CHECK_KEY):
            if row.namespace == NAMESPACE and row.key == CHECK_KEY and row.value.strip():
                self.check_ids.remember([CheckIdRead(order_id, row.value.strip(), row.date_modified)])
                return row.value.strip()
        return None

    def _handled(self, row: Metafield) -> bool:
        with self.store.session() as s:
            seen = s.get(IdvMetafieldSeen, (self.store.pair, row.id))
        return seen is not None and seen.date_modified == row.date_modified and seen.value == row.value

    def _mark(self, row: Metafield) -> None:
        with self.store.session() as s:
            s.merge(IdvMetafieldSeen(pair=self.store.pair, metafield_id=row.id, bc_order_id=row.resource_id, value=row.value,
                                     date_modified=row.date_modified))
            s.commit()


def summarize(report: PollReport) -> str:
    decided = ", ".join(f"{o.label} {n}" for o, n in sorted(report.outcomes.items(), key=lambda kv: kv[0].value))
    optional = [  # each shown only when not zero
        (report.looked_up, f"{report.looked_up} check id(s) looked up"),
        (decided, decided),
        (report.unknown_values, f"{report.unknown_values} unknown value(s)"),
        (report.failed, f"{len(report.failed)} to retry"),
        (report.given_up, f"{len(report.given_up)} given up"),
    ]
    parts = [f"{report.read} verdict(s) read", f"{report.already_handled} already handled"]
    return "; ".join(parts + [text for shown, text in optional if shown])

