"""Shared wiring of the ID-verification tests: the BigCommerce simulator on a FakeClock, the real
client, a store on SQLite, and the service assembled from Settings exactly as the CLI and the
daemon assemble it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import httpx

from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.transport import RetryPolicy
from connector.clock import FakeClock
from connector.config import Settings
from connector.idv.decision import Decision
from connector.idv.service import IdvService
from connector.idv.stages import CheckEvent, Source, stage_of_event
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.store.repository import Store

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
PROTECTED = (2, 3, 4, 5, 10, 14)
SECRET = "whsec-test-0123456789"
CUSTOMER = {"id": 1, "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"}


def cart_line(sku: str = "WINE-01", quantity: int = 1, price: str = "30.00") -> dict[str, Any]:
    return {"product_id": 111, "variant_id": 0, "sku": sku, "name": f"Item {sku}",
            "unit_price": Decimal(price), "quantity": quantity}


def settings_for(bc: BigCommerceSimulator, database_url: str, *, enabled: bool = True,
                 mappings_dir: Path | None = None, xs: Any = None, **idv: Any) -> Settings:
    """A pair on the simulators (`xs`: an XSeriesSimulator; none: its default address), ID
    verification `enabled` with these `idv` settings."""
    data: dict[str, Any] = {
        "bigcommerce": {"store_hash": bc.store_hash, "access_token": bc.access_token, "api_url": bc.base_url},
        "xseries": {"domain_prefix": xs.domain_prefix if xs else "mystore", "token": xs.token if xs else "xs-test-token",
                    "api_url": xs.base_url if xs else "http://xseries.sim",
                    "outlet": "Main Outlet", "register": "Online Store"},
        "database_url": database_url,
        "sync": {"start_at": START - timedelta(hours=1), "overlap_seconds": 300},
        "id_verification": {"enabled": enabled, "webhook_secret": SECRET, **idv},
    }
    if mappings_dir is not None:
        data["mappings_dir"] = str(mappings_dir)
    return Settings.model_validate(data)


class HookedTransport(httpx.AsyncBaseTransport):
    """The simulator's transport, with two things the tests need to see or do at the right instant:
    the order's status at the moment each PUT reaches the store, and a hook run after each answer
    (the merchant acting between two requests of the connector)."""

    def __init__(self, bc: BigCommerceSimulator) -> None:
        self.bc = bc
        self.inner = bc.transport()
        self.status_at_put: list[tuple[int, int, int]] = []  # (order id, status before, status sent)
        self.after: Callable[[httpx.Request], None] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and "/v2/orders/" in request.url.path:
            order_id = int(request.url.path.rsplit("/", 1)[1])
            sent = json.loads(request.content)["status_id"]
            self.status_at_put.append((order_id, self.bc.orders[order_id]["status_id"], sent))
        response = await self.inner.handle_async_request(request)
        if self.after is not None:
            self.after(request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class IdvWorld:
    tmp_path: Path
    clock: FakeClock = field(default_factory=lambda: FakeClock(START))
    bc: BigCommerceSimulator = None  # type: ignore[assignment]
    transport: HookedTransport = None  # type: ignore[assignment]
    store: Store = None  # type: ignore[assignment]
    client: BigCommerceClient = None  # type: ignore[assignment]
    service: IdvService | None = None

    def __post_init__(self) -> None:
        self.bc = BigCommerceSimulator(clock=self.clock, quota=100_000)
        self.transport = HookedTransport(self.bc)
        self.database_url = f"sqlite:///{self.tmp_path / 'idv.db'}"
        self.store = Store.open(self.database_url, clock=self.clock)
        self.client = BigCommerceClient(
            store_hash=self.bc.store_hash, access_token=self.bc.access_token, api_url=self.bc.base_url,
            http_transport=self.transport, clock=self.clock, retry=RetryPolicy(seed=3, base_delay=0.01),
        )

    def settings(self, **options: Any) -> Settings:
        return settings_for(self.bc, self.database_url, **options)

    async def start(self, **options: Any) -> IdvService:
        self.service = await IdvService.start(self.settings(**options), self.client, self.store)
        return self.service

    async def close(self) -> None:
        await self.client.aclose()
        self.store.close()

    # ---- the store's side ------------------------------------------------------------------
    def add_order(self, status_id: int = 11) -> int:
        return self.bc.add_order(customer=CUSTOMER, lines=[cart_line()], status_id=status_id)["id"]

    def status(self, order_id: int) -> int:
        return self.bc.orders[order_id]["status_id"]

    def puts(self) -> list[tuple[int, int]]:
        """(order id, status sent) of every status PUT the store received."""
        return [(int(r.path.rsplit("/", 1)[1]), r.body["status_id"])
                for r in self.bc.request_log.matching("PUT", "/v2/orders/")]

    # ---- events ----------------------------------------------------------------------------
    async def event(self, order_id: int, name: str, check_id: str | None = None, *,
                    at: datetime | None = None, source: Source = Source.WEBHOOK, advance: float = 1.0) -> Decision:
        self.clock.advance(advance)
        assert self.service is not None, "await world.start() first"
        return await self.service.engine.handle(CheckEvent(
            order_id=order_id, event=name, stage=stage_of_event(name), check_id=check_id,
            occurred_at=at or self.clock.now(), source=source,
        ))

    def audit(self, order_id: int | None = None) -> list:
        return [e for e in self.store.audit_entries(order_id) if e.action.startswith("idv_")]
