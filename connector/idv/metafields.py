"""Real ID's verdicts read from the order metafields it writes (namespace `realid`, keys
`verification_status` and `check_id`, reference §13), once per cycle: the source every merchant has
(its webhooks exist only on its top plan).

One call per cycle: GET /v3/orders/metafields?namespace=realid&key:in=verification_status,check_id
&date_modified:min=<cursor − overlap>. A new check writes check_id, so the batch has it; a later
verdict of the same check does not, so the last check_id is remembered per order and an order whose
check was never seen is looked up on its own, once. Should BigCommerce refuse `key:in`, each key gets
its own call from then on. idv_metafield_seen makes the overlap's re-reads free; the cursor never
passes a verdict that failed for a reason that may pass (BigCommerce unreachable).

orders.v3.yml requires neither a metafield's id nor its dates; each use of its time says below what
it goes by when date_modified is missing (event_time, lower_bound), and idv_metafield_seen is keyed
by order, not by metafield id.
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
                 floor: datetime | None = None) -> None:
        self.bc = bc
        self.engine = engine
        self.store = store
        self.check_ids = SqlCheckIds(store)
        self.overlap = timedelta(seconds=overlap_seconds)
        self.floor = floor  # verdicts changed before it are not applied (resume.py), until a poll is done
        self.key_in = True  # False once BigCommerce refused key:in: then one call per key

    async def poll(self) -> PollReport:
        started = self.store.clock.now()
        since = max(filter(None, (self.store.cursor(CURSOR), self.floor)), default=started) - self.overlap
        report = PollReport()
        server_times: list[datetime] = []
        # Checked here too: another app's namespace or key must never be acted on.
        ours = [m for m in await self._read(since, server_times.append) if m.namespace == NAMESPACE and m.resource_type == "order"]
        rows = sorted((m for m in ours if m.key == STATUS_KEY), key=lambda m: (event_time(m, started), m.id or 0))
        checks = [CheckIdRead(m.resource_id, m.value.strip(), event_time(m, started))
                  for m in ours if m.key == CHECK_KEY and m.value.strip()]
        report.read, report.check_ids_read = len(rows), len(checks)
        self.check_ids.remember(checks)  # before the verdicts: a new check's verdict belongs to it
        known = self.check_ids.known({m.resource_id for m in rows})
        unsettled: datetime | None = None
        for row in rows:
            if self._handled(row, known.get(row.resource_id)):
                report.already_handled += 1
                continue
            order_id = row.resource_id
            stage = stage_of_metafield(row.value)
            if stage is None:
                log.warning("order %s: realid verification_status %r is not a known value; ignored",
                            order_id, row.value)
                report.unknown_values += 1
                self._mark(row, known.get(order_id))
                continue
            try:
                if order_id not in known:
                    known[order_id] = await self._look_up(order_id, report)
                decision = await self.engine.handle(CheckEvent(
                    order_id=order_id, event=row.value.strip().lower(), stage=stage, check_id=known[order_id],
                    occurred_at=event_time(row, started), source=Source.METAFIELD,
                ))
            except CredentialsError:
                raise
            except (NotFoundError, PermanentApiError, OrderValidationError) as exc:
                log.error("order %s: ID-verification verdict %r not applied, and retrying cannot help: %s",
                          order_id, row.value, exc)
                report.given_up[order_id] = str(exc)
                self._mark(row, known.get(order_id))
                continue
            except Exception as exc:  # noqa: BLE001 - BigCommerce unreachable, lease busy…: next cycle
                log.warning("order %s: ID-verification verdict %r not applied yet (next cycle): %s",
                            order_id, row.value, exc)
                report.failed[order_id] = str(exc)
                floor = lower_bound(row, since)
                unsettled = floor if unsettled is None else min(unsettled, floor)
                continue
            report.outcomes[decision.outcome] += 1
            self._mark(row, known.get(order_id))
        # BigCommerce stamps date_modified by its own clock: ours running ahead by more than the
        # overlap moved the cursor past verdicts recorded after the read (clock.read_until).
        # The newest change read vouches for itself (read_until) by its own stamp only: a metafield
        # without one vouches for nothing (its answer's Date would be a later page's, past the first's).
        until = read_until(started, server_times, max((m.stamp for m in ours if m.stamp), default=None))
        self.store.set_cursor(until if unsettled is None else min(unsettled, until), CURSOR)
        self.floor = None  # the cursor is past it now (by BigCommerce's clock: read_until)
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
                self.check_ids.remember([CheckIdRead(order_id, row.value.strip(),
                                                     event_time(row, self.store.clock.now()))])
                return row.value.strip()
        return None

    def _handled(self, row: Metafield, check_id: str | None) -> bool:
        """The same version of the order's verification_status as the one decided on: same id, value
        and stamp (date_modified, else date_created: that one does not move when the value changes,
        the value tells). With no stamp at all, same id and value: a repeat of the same value is then
        taken for a re-read. Deciding it would mostly find the check at that stage already (a
        duplicate, nothing written) at the cost of an order read and an audit entry every poll; what
        it misses is a new check reaching the same value unseen between two polls. Never by the
        answer's Date: that moves at each read, and every re-read would be decided again.
        A new check shows by its check_id (check_id: the order's as now known): a row decided for
        another check is new, so a new check failing again between two polls is not taken for a
        re-read. When either check_id is unknown, the rest decides alone."""
        with self.store.session() as s:
            seen = s.get(IdvMetafieldSeen, (self.store.pair, row.resource_id))
        return (seen is not None and seen.metafield_id == row.id and seen.value == row.value
                and seen.date_modified == row.stamp
                and (seen.check_id is None or check_id is None or seen.check_id == check_id))

    def _mark(self, row: Metafield, check_id: str | None) -> None:
        with self.store.session() as s:
            s.merge(IdvMetafieldSeen(pair=self.store.pair, bc_order_id=row.resource_id, metafield_id=row.id,
                                     value=row.value, date_modified=row.stamp, check_id=check_id))
            s.commit()


def event_time(metafield: Metafield, now: datetime) -> datetime:
    """When the metafield's value was set, to judge its event against the check's (occurred_at) and
    to order check_id reads: date_modified; else its answer's Date, a time at or after the value was
    set (BigCommerce's clock, which stamps date_modified); else date_created; else `now`, ours.
    The Date comes before date_created: a metafield is written once per order and updated at each step
    of each check, so date_created precedes the value, maybe by a whole check, and would have its
    verdict judged older than the check's earlier steps (stale: lost). A time too late at worst
    applies a copy that lags a webhook until Real ID's next write of the metafield."""
    return metafield.date_modified or metafield.answered_at or metafield.date_created or now


def lower_bound(metafield: Metafield, since: datetime) -> datetime:
    """A time at or before the metafield's date_modified, for the cursor to stay at while its verdict
    is unsettled (the next read, from there minus the overlap, lists it again): date_modified, else
    date_created; else `since`, the bound of the read that listed it by date_modified:min."""
    return metafield.stamp or since


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

