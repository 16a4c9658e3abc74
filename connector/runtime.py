"""Assembly at the edge: settings → clients, store, mapping tables, resolved X-Series references.

The CLI, the scheduler, the demo and the tests all build the connector here. Transports can be
injected to run against the simulators; otherwise both clients use httpx's own transport.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import timedelta

import httpx

from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.transport import RetryPolicy
from connector.clients.xseries import XSeriesClient
from connector.clients.xseries_pacer import XSeriesPacer
from connector.clock import SYSTEM_CLOCK, Clock
from connector.config import Settings
from connector.errors import ConfigError
from connector.idv.rules import RulesAtStart
from connector.mapping.identity import order_content_hash
from connector.mapping.register_sale import PosRefs
from connector.mapping.tables import MappingTables
from connector.store.repository import Store
from connector.sync.cycle import SyncCycle
from connector.sync.cycle_report import CycleReport
from connector.sync.go_live import GoLive
from connector.sync.mirror_deps import MirrorDeps
from connector.sync.pos_refs import resolve_pos_refs
from connector.sync.refund_mirror import RefundMirror
from connector.sync.transitions import up_to_date

# BigCommerce's scope of a refund: the order's refunds are mirrored too (as BigCommerceWebhooks does).
REFUND_SCOPE = "store/order/refund/created"


@dataclass
class Runtime:
    settings: Settings
    store: Store
    bc: BigCommerceClient
    xs: XSeriesClient
    tables: MappingTables
    refs: PosRefs
    owns_store: bool = False  # opened here (no store= given): aclose closes it; a given one is shared
    idv_rules: RulesAtStart | None = None  # id_verification.yaml as read at start (what the console shows)

    @classmethod
    async def start(cls, settings: Settings, *, bc_transport: httpx.AsyncBaseTransport | None = None,
                    xs_transport: httpx.AsyncBaseTransport | None = None, clock: Clock = SYSTEM_CLOCK,
                    retry: RetryPolicy | None = None, store: Store | None = None,
                    xs_window_seconds: float | None = None) -> "Runtime":
        if settings.refusal:  # a variable of the pair's own section unset (config.load_settings)
            raise ConfigError(settings.refusal)
        tables = MappingTables.load(settings.mappings_path())
        idv_rules = RulesAtStart.read(settings.mappings_path())  # refused by the ID-verification start, if on
        owns_store = store is None
        store = (store.for_pair(settings.pair) if store is not None
                 else Store.open(settings.database_url, clock=clock, pair=settings.pair))
        bc = BigCommerceClient(
            store_hash=settings.bigcommerce.store_hash,
            access_token=settings.bigcommerce.access_token.get_secret_value(),
            api_url=settings.bigcommerce.api_url, http_transport=bc_transport, clock=clock, retry=retry,
        )
        xs = XSeriesClient(
            domain_prefix=settings.xseries.domain_prefix,
            token=settings.xseries.token.get_secret_value(),
            api_url=settings.xseries.base_url, http_transport=xs_transport, clock=clock, retry=retry,
            # The quota window is 5 minutes on real stores; simulators may compress it.
            pacer=XSeriesPacer(clock=clock, window_seconds=xs_window_seconds) if xs_window_seconds else None,
        )
        try:
            refs = await resolve_pos_refs(xs, settings.xseries, tables.payments, tables.taxes)
        except BaseException:
            await asyncio.gather(bc.aclose(), xs.aclose())
            if owns_store:
                store.close()
            raise
        return cls(settings=settings, store=store, bc=bc, xs=xs, tables=tables, refs=refs, owns_store=owns_store,
                   idv_rules=idv_rules)

    def deps(self) -> MirrorDeps:
        return MirrorDeps(
            store=self.store, xs=self.xs, bc=self.bc, refs=self.refs, statuses=self.tables.statuses,
            payments=self.tables.payments, specials=self.tables.specials, on_edit=self.settings.sync.on_edit,
            restock=self.settings.refunds.restock, walk_in_customer=self.settings.xseries.walk_in_customer,
            lost_write_settle=timedelta(seconds=self.settings.sync.lost_write_settle_seconds),
            id_checks=self.settings.id_verification.enabled,
            go_live=None if self.settings.historical_import.enabled else self.go_live,
        )

    @functools.cached_property
    def go_live(self) -> GoLive:
        """Read once per runtime (not per order): it never moves once the first cycle started."""
        return GoLive(self.store, start_at=self.settings.sync.start_at,
                      overlap=timedelta(seconds=self.settings.sync.overlap_seconds))

    def cycle(self, stop_event: asyncio.Event | None = None) -> SyncCycle:
        s = self.settings.sync
        return SyncCycle(
            self.deps(), self.bc, overlap_seconds=s.overlap_seconds, start_at=s.start_at,
            max_attempts=s.max_attempts, concurrency=s.concurrency, stop_event=stop_event,
        )

    async def mirror_event(self, order_id: int, scope: str, stop_event: asyncio.Event | None = None) -> CycleReport:
        """Mirror the order a webhook event names (read afresh: the event says only which order),
        with its refunds when the event is a refund's. The report's `failed` names the order when it
        failed (recorded in the failed queue, which retries it)."""
        order = await self.bc.get_order(order_id)
        cycle = self.cycle(stop_event)
        # As a cycle does first: products and customers made in X-Series since the last
        # cycle (up to an interval ago) are known, else the order would create them again
        # and be refused ("SKU already in use"). One empty page per feed in steady state, but
        # a storm of events for one order paid two X-Series requests each: an order bound and
        # unchanged (mirror_one's first look) writes nothing, so it needs no index; nor does one
        # left to the historical import (a bulk change of old orders: one event each).
        binding = self.store.order_binding(order.id)
        past = binding is None and cycle.d.go_live is not None and cycle.d.go_live.refusal(order) is not None
        if not up_to_date(binding, order_content_hash(order)) and not past:
            await cycle.index.refresh()
        report = CycleReport()
        await cycle.mirror_one(order, report)
        if scope == REFUND_SCOPE:
            async for refund in self.bc.iter_refunds(order_ids=(order_id,)):
                await RefundMirror(self.deps()).mirror(refund)
        return report

    async def aclose(self) -> None:
        try:
            await asyncio.gather(self.bc.aclose(), self.xs.aclose())
        finally:
            if self.owns_store:
                self.store.close()
