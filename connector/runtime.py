"""Assembly at the edge: settings → clients, store, mapping tables, resolved X-Series references.

The CLI, the scheduler, the demo and the tests all build the connector here, so there is exactly
one way the pieces are put together. Transports can be injected to run against the simulators;
otherwise both clients talk over the HTTP/1.1 engine (connector.clients.http11_engine), which
ApiTransport drives directly, without httpx in between: about half the client CPU per request
of the aiohttp engine (0.14 against 0.30 ms with 16 requests in flight, under uvloop).
http_engine="aiohttp" (the fallback, and the measured comparison) and "httpx" (httpx's own
engine) remain selectable.
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass

import httpx

from connector.clients.aiohttp_transport import AiohttpTransport
from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.direct_engine import DirectEngine
from connector.clients.http11_engine import Http11Engine
from connector.clients.transport import RetryPolicy
from connector.clients.xseries import XSeriesClient
from connector.clients.xseries_pacer import XSeriesPacer
from connector.clock import SYSTEM_CLOCK, Clock
from connector.config import Settings
from connector.mapping.register_sale import PosRefs
from connector.mapping.tables import MappingTables
from connector.store.repository import Store
from connector.sync.cycle import SyncCycle
from connector.sync.order_mirror import MirrorDeps
from connector.sync.pos_refs import resolve_pos_refs

# Engines ApiTransport drives directly, one instance (one connection pool) per API.
_DIRECT_ENGINES: dict[str, type[DirectEngine]] = {"http11": Http11Engine, "aiohttp": AiohttpTransport}
HTTP_ENGINES = frozenset({*_DIRECT_ENGINES, "httpx"})


@dataclass
class Runtime:
    settings: Settings
    store: Store
    bc: BigCommerceClient
    xs: XSeriesClient
    tables: MappingTables
    refs: PosRefs

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        bc_transport: httpx.AsyncBaseTransport | DirectEngine | None = None,
        xs_transport: httpx.AsyncBaseTransport | DirectEngine | None = None,
        clock: Clock = SYSTEM_CLOCK,
        retry: RetryPolicy | None = None,
        store: Store | None = None,
        xs_window_seconds: float | None = None,
        http_engine: str = "http11",
    ) -> "Runtime":
        if http_engine not in HTTP_ENGINES:
            raise ValueError(f"http_engine must be one of {sorted(HTTP_ENGINES)}, not {http_engine!r}")
        engine = _DIRECT_ENGINES.get(http_engine)
        if engine is not None:
            # One engine (one connection pool) per API. Given a direct engine, ApiTransport skips
            # httpx; "httpx" leaves httpx.AsyncClient on its default engine.
            bc_transport = bc_transport or engine()
            xs_transport = xs_transport or engine()
        tables = MappingTables.load(settings.mappings_path())
        store = store or Store.open(settings.database_url, clock=clock)
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
            refs = await resolve_pos_refs(xs, settings.xseries, tables.payments)
        except BaseException:
            await asyncio.gather(bc.aclose(), xs.aclose())
            raise
        # What exists now (modules, settings, tables, clients, pools) lives as long as the process.
        # Frozen, the cyclic collector stops rescanning it at every older-generation collection
        # during a long import: about half its cost (≈ 25 µs per order, issue 6's CPU budget).
        gc.freeze()
        return cls(settings=settings, store=store, bc=bc, xs=xs, tables=tables, refs=refs)

    def deps(self) -> MirrorDeps:
        return MirrorDeps(
            store=self.store, xs=self.xs, refs=self.refs, statuses=self.tables.statuses,
            payments=self.tables.payments, specials=self.tables.specials,
        )

    def cycle(self, stop_event: asyncio.Event | None = None) -> SyncCycle:
        s = self.settings.sync
        return SyncCycle(
            self.deps(), self.bc, overlap_seconds=s.overlap_seconds, start_at=s.start_at,
            max_attempts=s.max_attempts, concurrency=s.concurrency, stop_event=stop_event,
        )

    async def aclose(self) -> None:
        await asyncio.gather(self.bc.aclose(), self.xs.aclose())
