"""The end-to-end "world": both simulators in-process on one FakeClock, a store, and the connector.

A World holds the simulated BigCommerce store and X-Series retailer, the Settings pointing at them,
and any number of Runtimes ("processes"), each with its own Store object and engine on the same
database. Time only moves when a test (or a client's backoff / pacing) moves it: cycle() advances
the clock a little first, so every change made before it has a date_modified inside its window.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from connector.clients.transport import RetryPolicy
from connector.clock import FakeClock
from connector.config import Settings
from connector.mapping.tables import DEFAULTS_DIR
from connector.runtime import Runtime
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.xseries import XSeriesSimulator
from connector import values
from connector.store.repository import Store
from connector.sync.cycle_report import CycleReport

START = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)

JANE = {"id": 1, "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com",
        "phone": "5125550101", "street_1": "12 Main Street", "city": "Austin", "state": "Texas",
        "zip": "78701", "country": "United States", "country_iso2": "US"}
OMAR = {"id": 2, "first_name": "Omar", "last_name": "Haddad", "email": "omar@example.com"}

# The POS catalogue every world starts with: sku → (name, ex-tax price, units at the main outlet).
POS_CATALOG = {
    "TEE-M": ("Organic Cotton Tee - M", Decimal("20.00"), 50),
    "TEE-L": ("Organic Cotton Tee - L", Decimal("20.00"), 50),
    "MUG-01": ("Ceramic Mug", Decimal("10.00"), 30),
    "BTL-07": ("Insulated Water Bottle", Decimal("24.00"), 20),
}


def line(sku: str = "TEE-M", quantity: int = 1, price: str | Decimal = "20.00", *, product_id: int = 111,
         variant_id: int = 0, name: str | None = None) -> dict[str, Any]:
    """One cart line for BigCommerceSimulator.add_order (price per unit, in the store's tax mode)."""
    return {"product_id": product_id, "variant_id": variant_id, "sku": sku, "name": name or f"Item {sku}",
            "unit_price": Decimal(str(price)), "quantity": quantity}


def cents(value: Any) -> Decimal:
    """An order's 4-place money figure to the cent, rounded half up like the sale plan does."""
    return values.cents(Decimal(str(value)))


def sale_total_inc(sale: dict) -> Decimal:
    return sum((li["quantity"] * (li["price"] + li["tax"]) for li in sale["line_items"]), Decimal(0))


def sale_total_tax(sale: dict) -> Decimal:
    return sum((li["quantity"] * li["tax"] for li in sale["line_items"]), Decimal(0))


def sale_paid(sale: dict) -> Decimal:
    return sum((p["amount"] for p in sale["payments"]), Decimal(0))


def lose_next_sale_answer(world) -> list[str]:
    """The next sale post (a sale, its void, or a return) lands but its answer is lost; the transport
    sends it once more. The list names the post whose answer was lost, once it was."""
    lost: list[str] = []

    def lose(method: str, path: str) -> bool:
        if method == "POST" and "register_sales" in path and not lost:
            lost.append(path)
            return True
        return False

    world.xs.faults.lose_response = lose
    return lost


class Crash(BaseException):
    """The process dies: nothing after this line of the connector runs."""


async def sale_sent_then_crashed(world, lines: list[dict], **order: Any) -> int:
    """An order whose sale reached X-Series, the process dying before the answer came: the binding
    stays pending (its updated_at: the send). The order's id."""
    import pytest

    order_id = world.add_order(lines, **order)
    runtime = await world.runtime()
    create_sale = runtime.xs.create_sale_document

    async def applied_then_crashed(body, **options):
        await create_sale(body, **options)
        raise Crash()

    runtime.xs.create_sale_document = applied_then_crashed
    with pytest.raises(Crash):
        await world.cycle()
    assert world.store.order_binding(order_id).pending_state == "closed"
    return order_id


def assert_sale_adds_up(sale: dict, order: dict) -> None:
    """The sale's lines carry the order's total and tax to the cent; a paid closed sale's payments
    carry its total; an on-account or voided sale has none. Units go at five decimals: the sale's
    totals are within half a cent of the order's (less than a cent is never lost or invented)."""
    total, tax = cents(order["total_inc_tax"]), cents(order["total_tax"])
    assert cents(sale_total_inc(sale)) == total, (order["id"], sale_total_inc(sale), total)
    assert cents(sale_total_tax(sale)) == tax, (order["id"], sale_total_tax(sale), tax)
    if sale["status"] == "CLOSED" and order["payment_status"] not in ("pending", "declined", "void"):
        assert sale_paid(sale) == total, (order["id"], sale_paid(sale), total)
    if sale["status"] in ("ONACCOUNT", "VOIDED"):
        assert sale["payments"] == []


@dataclass
class World:
    database_url: str
    tmp_path: Path
    clock: FakeClock
    bc: BigCommerceSimulator
    xs: XSeriesSimulator
    overlap_seconds: int = 300
    mappings_dir: Path = DEFAULTS_DIR
    concurrency: int = 4
    max_attempts: int = 5
    retry_seed: int = 11
    start_at: datetime = START - timedelta(hours=1)  # sync.start_at: the first window's start
    xseries_settings: dict[str, Any] = field(default_factory=dict)  # more keys of the xseries section
    pos_ids: dict[str, str] = field(default_factory=dict)  # sku → X-Series product id
    runtimes: list[Runtime] = field(default_factory=list)
    _main: Runtime | None = None

    # ---- wiring -------------------------------------------------------------------------------
    def settings(self, **sync: Any) -> Settings:
        return Settings.model_validate({
            "bigcommerce": {"store_hash": self.bc.store_hash, "access_token": self.bc.access_token,
                            "api_url": self.bc.base_url},
            "xseries": {"domain_prefix": self.xs.domain_prefix, "token": self.xs.token,
                        "api_url": self.xs.base_url, "outlet": "Main Outlet", "register": "Online Store",
                        **self.xseries_settings},
            "database_url": self.database_url,
            "mappings_dir": str(self.mappings_dir),
            "sync": {"start_at": self.start_at, "overlap_seconds": self.overlap_seconds,
                     "concurrency": self.concurrency, "max_attempts": self.max_attempts, **sync},
        })

    async def new_runtime(self, **sync: Any) -> Runtime:
        """Another "process": its own Store object and engine on the same database."""
        store = Store.open(self.database_url, clock=self.clock)
        runtime = await Runtime.start(
            self.settings(**sync), bc_transport=self.bc.transport(), xs_transport=self.xs.transport(),
            clock=self.clock, retry=RetryPolicy(seed=self.retry_seed + len(self.runtimes), base_delay=0.01),
            store=store,
        )
        self.runtimes.append(runtime)
        return runtime

    async def runtime(self) -> Runtime:
        if self._main is None:
            self._main = await self.new_runtime()
        return self._main

    @property
    def store(self) -> Store:
        assert self._main is not None, "start the runtime first (await world.runtime())"
        return self._main.store

    async def cycle(self, *, advance: float = 1.0, runtime: Runtime | None = None) -> CycleReport:
        """Let a little time pass, then run one sync cycle."""
        self.clock.advance(advance)
        runtime = runtime or await self.runtime()
        return await runtime.cycle().run()

    def launch(self, entry, settings: Settings, stop: asyncio.Event) -> asyncio.Task:
        """`order-sync run` (scheduler.daemon) or `serve` as a task on this world's simulators and
        clock, until `stop` is set."""
        return asyncio.create_task(entry(settings, stop, bc_transport=self.bc.transport(),
                                         xs_transport=self.xs.transport(), clock=self.clock,
                                         retry=RetryPolicy(seed=2, base_delay=0.01)))

    def pair_runtimes(self, store: Store):
        """A worker's PairRuntimes (order-sync worker) on this world's simulators and clock."""
        from connector.workers.tasks import PairRuntimes

        return PairRuntimes(self.settings(), store, asyncio.Event(), bc_transport=self.bc.transport(),
                            xs_transport=self.xs.transport(), clock=self.clock,
                            retry=RetryPolicy(seed=1, base_delay=0.01))

    async def close(self) -> None:
        for runtime in self.runtimes:
            await runtime.aclose()
            runtime.store.close()

    # ---- the merchant's side --------------------------------------------------------------------
    def add_order(self, lines: list[dict] | None = None, *, customer: dict | None = JANE,
                  status_id: int = 11, **kwargs: Any) -> int:
        return self.bc.add_order(customer=customer, lines=lines or [line()], status_id=status_id,
                                 **kwargs)["id"]

    def order(self, order_id: int) -> dict:
        return self.bc.order(order_id)

    def set_status(self, order_id: int, status_id: int, *, advance: float = 1.0) -> None:
        self.clock.advance(advance)
        self.bc.set_status(order_id, status_id)

    def edit_lines(self, order_id: int, lines: list[dict], *, advance: float = 1.0) -> None:
        """The merchant edits the order's lines in the control panel: its products and every money
        field become those of the same order placed with the new lines (priced by the simulator)."""
        self.clock.advance(advance)
        order = self.bc.orders[order_id]
        scratch = BigCommerceSimulator(clock=self.clock, tax_inclusive=self.bc.tax_inclusive)
        edited = scratch.add_order(customer=JANE, lines=lines, status_id=order["status_id"], order_id=order_id)
        for key, value in edited.items():
            if key != "items_shipped" and any(word in key for word in ("total", "tax", "cost", "discount")):
                order[key] = value
        self.bc.order_products[order_id] = scratch.products(order_id)
        self.bc.touch(order_id)

    # ---- what the POS holds --------------------------------------------------------------------
    def sales(self, order_id: int) -> list[dict]:
        return self.xs.sales_of_order(order_id)

    def sale(self, order_id: int) -> dict | None:
        sales = self.sales(order_id)
        assert len(sales) <= 1, f"order {order_id} has {len(sales)} sales"
        return sales[0] if sales else None

    def stock(self, sku: str) -> Decimal:
        return self.xs.stock(self.pos_ids[sku])

    def products_with_sku(self, sku: str) -> list[dict]:
        return [p for p in self.xs.products.values() if (p["sku"] or "").casefold() == sku.casefold()]

    def xs_writes(self) -> int:
        return len(self.xs.request_log.writes())


def make_world(database_url: str, tmp_path: Path, *, tax_inclusive: bool = False,
               xs_options: dict | None = None, catalog: bool = True, **options: Any) -> World:
    clock = FakeClock(START)
    bc = BigCommerceSimulator(clock=clock, tax_inclusive=tax_inclusive, quota=100_000)
    xs = XSeriesSimulator(clock=clock, rate_limit=100_000, tax_exclusive=not tax_inclusive,
                          **(xs_options or {}))
    world = World(database_url=database_url, tmp_path=tmp_path, clock=clock, bc=bc, xs=xs, **options)
    if catalog:
        for sku, (name, price, units) in POS_CATALOG.items():
            world.pos_ids[sku] = xs.add_product(sku=sku, name=name, price_excluding_tax=price, inventory=units)
    return world
