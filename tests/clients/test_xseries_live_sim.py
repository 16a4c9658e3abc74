"""XSeriesClient end to end against the in-process X-Series simulator (no sockets, FakeClock)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from connector.clients.transport import RetryPolicy
from connector.clients.xseries import XSeriesClient
from connector.clients.xseries_models import CustomerCreate, ProductCreate
from connector.clients.xseries_sale_models import RegisterSale, RegisterSalePayment, RegisterSaleProduct
from connector.clock import FakeClock
from connector.sandbox.xseries import XSeriesSimulator
from connector.values import parse_rfc2822


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))


def connect(sim: XSeriesSimulator, clock: FakeClock, transport: httpx.AsyncBaseTransport | None = None,
            ) -> XSeriesClient:
    return XSeriesClient(
        domain_prefix=sim.domain_prefix, token=sim.token, api_url=sim.base_url,
        http_transport=transport or sim.transport(), clock=clock, retry=RetryPolicy(seed=3),
    )


@pytest.fixture
async def sim_and_client(clock: FakeClock):
    sim = XSeriesSimulator(clock=clock, sku_search_misses_hyphens=True)
    async with connect(sim, clock) as client:
        yield sim, client


async def test_reference_data(sim_and_client) -> None:
    sim, client = sim_and_client
    retailer = await client.retailer()
    assert retailer.tax_exclusive is True and retailer.currency.code == "USD"
    assert retailer.discount_product_id == sim.discount_product_id
    assert [o.id for o in await client.outlets()] == [sim.main_outlet_id]
    [register] = await client.registers()
    assert (register.id, register.outlet_id, register.invoice_prefix) == (
        sim.main_register_id, sim.main_outlet_id, "OS-")
    assert [u.id for u in await client.users()] == [sim.user_id]
    assert {p.name: p.id for p in await client.payment_types()}["Cash"] == sim.payment_type_ids["Cash"]
    taxes = {t.id: t for t in await client.taxes()}
    assert taxes[sim.default_tax_id].rate == Decimal("0.15")
    assert taxes[sim.no_tax_id].rate == Decimal(0)


async def test_create_product_then_find_it_by_sku(sim_and_client) -> None:
    sim, client = sim_and_client
    [plain] = await client.create_product(ProductCreate(
        name="Widget", sku="WID123", price_excluding_tax=Decimal("19.99"),
        inventory=[{"outlet_id": sim.main_outlet_id, "current_amount": Decimal(5)}]))
    [hyphen] = await client.create_product(ProductCreate(name="Room", sku="NGH-ROOM",
                                                         price_excluding_tax=Decimal("100")))
    shipping = await client.create_untracked_product(name="Shipping", sku="bc-shipping", handle="bc-shipping",
                                                     source_id="bc-shipping")
    assert [p.id for p in await client.find_products_by_sku("WID123")] == [plain]
    # The simulator reproduces the live hyphen quirk; the fallback still finds the product.
    assert [p.id for p in await client.find_products_by_sku("NGH-ROOM")] == [hyphen]
    assert await client.find_products_by_sku("NGH-ROO") == []
    [product] = await client.find_products_by_sku("WID123")
    assert product.price_excluding_tax == Decimal("19.99") and product.sku == "WID123"
    assert (await client.find_products_by_sku("bc-shipping"))[0].has_inventory is False
    [stock] = await client.inventory(plain)
    assert (stock.outlet_id, stock.level) == (sim.main_outlet_id, Decimal(5))

    ids = [p.id for page in [page async for page in client.iter_products()] for p in page.items]
    assert set(ids) >= {plain, hyphen, shipping}


async def test_create_customer_then_search_by_email(sim_and_client) -> None:
    _, client = sim_and_client
    created = await client.create_customer(CustomerCreate(
        first_name="Jane", last_name="Doe", email="Jane.Doe@example.com", physical_city="Auckland"))
    found = await client.search_customers_by_email("jane.doe@EXAMPLE.com")
    assert [c.id for c in found] == [created.id]
    assert await client.search_customers_by_email("john@example.com") == []


async def test_sale_create_find_and_void(sim_and_client) -> None:
    sim, client = sim_and_client
    product = sim.add_product(sku="W1", name="Widget", price_excluding_tax=Decimal("20"), inventory=10)
    customer = sim.add_customer(first_name="Jane", last_name="Doe", email="jane@example.com")
    at = datetime(2026, 3, 1, 11, 0, 0, tzinfo=timezone.utc)
    body = RegisterSale(
        register_id=sim.main_register_id, user_id=sim.user_id, customer_id=customer, sale_date=at,
        status="CLOSED", state="closed", invoice_number="OS-1484", source="BIGCOMMERCE",
        source_id="1484", note="BigCommerce order #1484",
        register_sale_products=[RegisterSaleProduct(
            product_id=product, quantity=Decimal(2), price=Decimal("20"), tax=Decimal("3"),
            tax_id=sim.default_tax_id, sequence=0)],
        register_sale_payments=[RegisterSalePayment(
            retailer_payment_type_id=sim.payment_type_ids["Credit Card"], amount=Decimal("46"),
            payment_date=at)],
    )
    sale = await client.create_sale_document(body.to_json())
    assert sale.status == "CLOSED" and sale.invoice_number == "OS-1484"
    assert sale.total_price == Decimal("40") and sale.total_tax == Decimal("6")
    assert sale.sale_date == at
    assert sim.stock(product) == Decimal(8)

    [found] = await client.find_sales_by_invoice_number("OS-1484")
    assert found.id == sale.id and found.source_id == "1484"
    assert found.payments[0].amount == Decimal("46")

    voided = await client.update_sale(body.model_copy(update={"id": sale.id, "status": "VOIDED",
                                                              "state": "voided"}))
    assert voided.id == sale.id and voided.status == "VOIDED"
    assert sim.stock(product) == Decimal(10)
    assert (await client.find_sales_by_invoice_number("OS-1484"))[0].status == "VOIDED"
    assert len(sim.request_log.matching("POST", "/api/register_sales")) == 2


class RecordingTransport(httpx.AsyncBaseTransport):
    """Remembers every answer's Retry-After, in order, next to the simulator's request log."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.retry_after: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.retry_after.append(response.headers.get("Retry-After"))
        return response


class LoopClock:
    """A Clock on the event loop's own time, so concurrent sleeps overlap as they would for real
    (a FakeClock jumps time forward for everyone at each sleep, which would hide a worker that
    ignores another worker's 429)."""

    def __init__(self, start: datetime) -> None:
        self.loop = asyncio.get_running_loop()
        self.start = start
        self.base = self.loop.time()

    def monotonic(self) -> float:
        return self.loop.time() - self.base

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0))


@pytest.fixture
async def virtual_time():
    """Run the event loop on virtual time: when it would block waiting for a timer, time jumps to
    that timer instead (the technique of aiotools' VirtualClock). No real waiting."""
    loop = asyncio.get_running_loop()
    now = [loop.time()]
    selector = loop._selector  # type: ignore[attr-defined]
    real_select = selector.select

    def select(timeout=None):
        if timeout is not None and timeout > 0:
            now[0] += timeout
            timeout = 0
        return real_select(timeout)

    loop.time = lambda: now[0]  # type: ignore[method-assign]
    selector.select = select
    try:
        yield LoopClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))
    finally:
        del loop.time
        selector.select = real_select


async def test_nothing_is_sent_after_a_429_before_its_retry_after(virtual_time: LoopClock) -> None:
    clock = virtual_time
    sim = XSeriesSimulator(clock=clock, rate_limit=5, window_seconds=60)
    recording = RecordingTransport(sim.transport())
    async with connect(sim, clock, recording) as client:
        client.pacer.window_seconds = 60  # the client knows this store's window

        async def worker() -> None:
            for _ in range(4):
                await client.retailer()

        # Four workers share one client, so one quota and one pacer.
        await asyncio.gather(*(worker() for _ in range(4)))

    log = sim.request_log
    assert len(log) == len(recording.retry_after)
    limited = [i for i, entry in enumerate(log) if entry.status == 429]
    assert limited, "the test must actually hit the limit"
    for i in limited:
        reset = parse_rfc2822(recording.retry_after[i])
        assert all(later.at >= reset for later in log[i + 1:]), f"request sent before {reset}"
    # 16 calls with a limit of 5 a minute: spread over the windows, not hammered.
    assert sum(1 for entry in log if entry.status == 200) == 16
    assert len(limited) <= 4
    assert clock.monotonic() < 4 * 60 + 10  # and no longer than the quota requires
