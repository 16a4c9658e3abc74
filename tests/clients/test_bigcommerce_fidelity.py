"""What the BigCommerce client reads for sale fidelity (issue 15): fees (embedded, or fetched once when
the answer has a link), costs, tax classes, fulfilment details, and catalogue variants with their
option values. Against respx for exact calls, and against the simulator end to end."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
import respx

from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.bigcommerce_models import Order, OrderValidationError
from connector.clients.bigcommerce_v3_models import CatalogVariant
from connector.clients.transport import RetryPolicy
from connector.clock import FakeClock
from connector.errors import NotFoundError
from connector.sandbox.bigcommerce import BigCommerceSimulator

from test_bigcommerce_client import API, TOKEN, line, order

D = Decimal
UTC = timezone.utc
FEE = {"id": 1, "type": "custom_fee", "display_name_customer": "Package Protection",
       "display_name_merchant": "Package Protection Fee", "source": "v2", "base_cost": "2.5000",
       "cost_ex_tax": "2.5000", "cost_inc_tax": "3.0000", "cost_tax": "0.5000", "tax_class_id": 4}


def fee_link(order_id: int) -> dict:
    return {"url": f"{API}/v2/orders/{order_id}/fees", "resource": f"/orders/{order_id}/fees"}


@pytest.fixture
async def client():
    c = BigCommerceClient(store_hash="abc123", access_token=TOKEN, clock=FakeClock(), retry=RetryPolicy(seed=1))
    yield c
    await c.aclose()


# -- models ----------------------------------------------------------------------------------------


def test_order_fields_for_fidelity_are_parsed():
    parsed = Order.from_api(order(
        218, fees=[FEE], shipping_cost_tax_class_id=2, handling_cost_tax_class_id=None, wrapping_cost_tax_class_id=3,
        order_is_digital=True, customer_message="Ring twice", default_currency_code="EUR",
        lines=[line(65, 218, cost_price_ex_tax="12.3400")],
    ))
    (fee,) = parsed.fees
    assert parsed.fees_included
    assert (fee.display_name_merchant, fee.cost_ex_tax, fee.cost_inc_tax, fee.cost_tax, fee.tax_class_id) == (
        "Package Protection Fee", D("2.5"), D("3"), D("0.5"), 4)
    assert (parsed.shipping_cost_tax_class_id, parsed.handling_cost_tax_class_id,
            parsed.wrapping_cost_tax_class_id) == (2, None, 3)
    assert parsed.order_is_digital and parsed.customer_message == "Ring twice"
    assert parsed.default_currency_code == "EUR"
    assert parsed.lines[0].cost_price_ex_tax == D("12.34")
    assert parsed.lines[0].base_price == D("55.99")


def test_defaults_when_the_answer_says_nothing():
    data = order(218, lines=[line(65, 218)])
    for name in ("order_is_digital", "customer_message", "shipping_cost_tax_class_id"):
        data.pop(name, None)
    data["customer_message"] = None
    parsed = Order.from_api(data)
    assert (parsed.order_is_digital, parsed.customer_message, parsed.shipping_cost_tax_class_id) == (False, "", None)
    assert parsed.fees == [] and not parsed.fees_included
    assert parsed.lines[0].cost_price_ex_tax is None


def test_shipping_addresses_come_from_the_shipping_consignments():
    consignments = {
        "pickups": [{"id": 5, "pickup_method_id": 1, "line_items": [line(66, 218)]}],
        "shipping": [{"id": 99, "first_name": "Sam", "last_name": "Roe", "company": "", "street_1": "1 High St",
                      "street_2": "", "city": "Leeds", "state": "", "zip": "LS1 1AA", "country": "United Kingdom",
                      "country_iso2": "GB", "shipping_method": "Royal Mail 24", "line_items": [line(65, 218)]}],
    }
    parsed = Order.from_api(order(218, consignments=consignments, items_total=2,
                                  shipping_addresses={"url": "x", "resource": "/orders/218/shippingaddresses"}))
    (address,) = parsed.shipping_addresses
    assert (address.id, address.first_name, address.street_1, address.zip, address.country_iso2,
            address.shipping_method) == (99, "Sam", "1 High St", "LS1 1AA", "GB", "Royal Mail 24")
    assert [(li.id, li.consignment) for li in parsed.lines] == [(65, "shipping"), (66, "pickup")]
    assert not hasattr(address, "line_items")  # the lines are the order's, not kept twice
    linked = Order.from_api(order(218, consignments={"url": "x", "resource": "/orders/218/consignments"}))
    assert linked.shipping_addresses == []


def test_a_fee_without_its_amounts_names_the_order_and_the_field():
    broken = {key: value for key, value in FEE.items() if key != "cost_inc_tax"}
    with pytest.raises(OrderValidationError) as caught:
        Order.from_api(order(218, fees=[broken]))
    assert "218" in str(caught.value) and "fees.0.cost_inc_tax" in str(caught.value)


def test_catalog_variant_option_values_and_prices():
    variant = CatalogVariant.model_validate({
        "id": 383, "product_id": 192, "sku": "SMIT-1", "price": None, "calculated_price": 25, "cost_price": 12.5,
        "option_values": [{"id": 175, "label": "Grey", "option_id": 220, "option_display_name": "Color"}],
    })
    (value,) = variant.option_values
    assert (value.id, value.label, value.option_id, value.option_display_name) == (175, "Grey", 220, "Color")
    assert (variant.price, variant.calculated_price, variant.cost_price) == (None, D("25"), D("12.5"))


# -- fees: embedded, or one call --------------------------------------------------------------------


@respx.mock
async def test_embedded_fees_cost_no_call(client):
    respx.get(f"{API}/v2/orders").mock(return_value=httpx.Response(200, json=[order(1, fees=[FEE]), order(2, fees=[])]))
    fees_route = respx.get(url__regex=rf"{API}/v2/orders/\d+/fees").mock(return_value=httpx.Response(500))
    since, until = datetime(2019, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)  # around order()'s dates
    got = [o async for o in client.iter_orders_modified(since, until)]
    assert [[f.id for f in o.fees] for o in got] == [[1], []]
    assert all(o.fees_included for o in got) and fees_route.call_count == 0


@respx.mock
@pytest.mark.parametrize("answer", [{"fees": [FEE]}, [FEE]], ids=["spec-example-shape", "bare-array"])
async def test_a_fee_link_is_followed_once(client, answer):
    respx.get(f"{API}/v2/orders/218").mock(return_value=httpx.Response(200, json=order(218, fees=fee_link(218))))
    fees_route = respx.get(f"{API}/v2/orders/218/fees").mock(return_value=httpx.Response(200, json=answer))
    got = await client.get_order(218)
    assert fees_route.call_count == 1
    assert [f.cost_inc_tax for f in got.fees] == [D("3")] and got.fees_included
    assert [li.id for li in got.lines] == [65]  # the embedded lines are kept


@respx.mock
async def test_no_fees_answer_and_no_fees_field(client):
    respx.get(f"{API}/v2/orders/1").mock(return_value=httpx.Response(200, json=order(1, fees=fee_link(1))))
    respx.get(f"{API}/v2/orders/1/fees").mock(return_value=httpx.Response(204))
    assert (await client.get_order(1)).fees == []
    # An answer without any `fees` (an older store) is not a reason to call.
    respx.get(f"{API}/v2/orders/2").mock(return_value=httpx.Response(200, json=order(2)))
    fees_route = respx.get(f"{API}/v2/orders/2/fees").mock(return_value=httpx.Response(500))
    got = await client.get_order(2)
    assert got.fees == [] and not got.fees_included and fees_route.call_count == 0


@respx.mock
async def test_lines_and_fees_both_missing_are_both_fetched(client):
    respx.get(f"{API}/v2/orders/7").mock(return_value=httpx.Response(200, json=order(
        7, fees=fee_link(7), consignments={"url": "x", "resource": "/orders/7/consignments"}, shipping_address_count=0)))
    products = respx.get(f"{API}/v2/orders/7/products").mock(return_value=httpx.Response(200, json=[line(70, 7)]))
    fees_route = respx.get(f"{API}/v2/orders/7/fees").mock(return_value=httpx.Response(200, json={"fees": [FEE]}))
    got = await client.get_order(7)
    assert [li.id for li in got.lines] == [70] and [f.id for f in got.fees] == [1]
    assert products.call_count == fees_route.call_count == 1


ADDRESS = {"id": 51, "order_id": 7, "first_name": "Jane", "last_name": "Doe", "street_1": "1 Main St", "city": "Austin",
           "zip": "78701", "country": "United States", "shipping_method": "Flat Rate", "base_cost": "12.0000",
           "cost_inc_tax": "12.0000", "cost_tax": "0.9100", "cost_tax_class_id": 2,
           "shipping_quotes": {"url": "x", "resource": "/orders/7/shipping_addresses/51/shipping_quotes"}}


@respx.mock
@pytest.mark.parametrize("count", [1, "1", 1.0], ids=["int", "string", "float"])
async def test_shipping_addresses_are_read_when_the_consignments_are_not_embedded(client, count):
    # A server that leaves `consignments` a link (include ignored, §3) gives neither the lines nor the
    # addresses: both are read from their own lists, or the sale would lose its address and method.
    respx.get(f"{API}/v2/orders/7").mock(return_value=httpx.Response(200, json=order(
        7, consignments={"url": "x", "resource": "/orders/7/consignments"}, shipping_address_count=count)))
    respx.get(f"{API}/v2/orders/7/products").mock(return_value=httpx.Response(200, json=[line(70, 7)]))
    addresses = respx.get(f"{API}/v2/orders/7/shipping_addresses").mock(return_value=httpx.Response(200, json=[ADDRESS]))
    got = await client.get_order(7)
    (address,) = got.shipping_addresses
    assert (address.id, address.shipping_method, address.street_1, address.cost_inc_tax, address.cost_tax_class_id) == (
        51, "Flat Rate", "1 Main St", D("12"), 2)
    assert addresses.call_count == 1 and addresses.calls[0].request.url.params["limit"] == "250"


@respx.mock
async def test_an_order_shipping_nowhere_reads_no_shipping_addresses(client):
    respx.get(f"{API}/v2/orders/7").mock(return_value=httpx.Response(200, json=order(
        7, consignments={"url": "x", "resource": "/orders/7/consignments"}, shipping_address_count=0)))
    respx.get(f"{API}/v2/orders/7/products").mock(return_value=httpx.Response(200, json=[line(70, 7)]))
    assert (await client.get_order(7)).shipping_addresses == []


# -- catalogue ------------------------------------------------------------------------------------


@respx.mock
async def test_catalog_product_with_its_variants(client):
    product = respx.get(f"{API}/v3/catalog/products/192").mock(return_value=httpx.Response(200, json={
        "data": {"id": 192, "name": "Mitten", "sku": "SMIT", "price": 10, "tax_class_id": 2, "variants": [
            {"id": 381, "product_id": 192, "sku": "SMIT-1", "price": None,
             "option_values": [{"id": 171, "label": "L1", "option_id": 220, "option_display_name": "Color"}]}]},
        "meta": {}}))
    got = await client.catalog_product(192)
    assert (got.name, got.price, got.tax_class_id) == ("Mitten", D("10"), 2)
    assert product.calls[0].request.url.params["include"] == "variants"
    assert [(v.sku, v.option_values[0].label) for v in got.variants] == [("SMIT-1", "L1")]


@respx.mock
async def test_a_missing_catalog_product_is_not_found(client):
    respx.get(f"{API}/v3/catalog/products/5").mock(return_value=httpx.Response(
        404, json={"status": 404, "title": "The requested product was not found."}))
    with pytest.raises(NotFoundError):
        await client.catalog_product(5)


# -- end to end, against the simulator --------------------------------------------------------------


def simulated() -> tuple[BigCommerceSimulator, BigCommerceClient]:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    sim = BigCommerceSimulator(clock=clock, quota=10_000)
    client = BigCommerceClient(store_hash=sim.store_hash, access_token=sim.access_token, api_url=sim.base_url,
                               http_transport=sim.transport(), clock=clock)
    return sim, client


async def test_the_order_list_reads_fees_at_no_extra_call():
    sim, client = simulated()
    for i in range(260):
        sim.add_order(customer=None, tax_rate=D("0.2"), fees=[{"name": "Fee", "amount": D("0.10")}] if i % 2 else [],
                      lines=[{"sku": f"S{i}", "name": "Item", "unit_price": D("10"), "quantity": 1}],
                      date_created=datetime(2026, 1, 1, tzinfo=UTC) - timedelta(seconds=i))
    since, until = datetime(2025, 12, 31, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    got = [o async for o in client.iter_orders_modified(since, until)]
    await client.aclose()
    assert len(got) == 260 and sum(len(o.fees) for o in got) == 130
    assert all(o.fees_included and o.lines_included for o in got)
    calls = [r for r in sim.request_log if "/v2/" in r.path]
    assert len(calls) / len(got) <= 0.01


async def test_a_simulated_order_reads_back_whole():
    sim, client = simulated()
    shirt = sim.add_catalog_product(sku="OXF", name="Oxford Shirt", price=D("50"), variants=[
        {"sku": "OXF-L", "price": None, "option_values": [{"label": "L", "option_display_name": "Size"}]}])
    (large,) = shirt["variants"]
    order_id = sim.add_order(
        customer={"id": 3, "first_name": "Jane", "email": "jane@example.com"}, tax_rate=D("0.2"),
        lines=[{"product_id": shirt["id"], "variant_id": large["id"], "sku": "OXF-L", "name": "Oxford Shirt",
                "unit_price": D("50"), "quantity": 1, "cost_price": D("20"), "unit_discount": D("5")}],
        fees=[{"name": "Package Protection", "amount": D("2.5")}], shipping_ex_tax=D("4"),
        shipping_method="Royal Mail 24", customer_message="Ring twice", gift_certificate_amount=D("10"),
        default_currency_code="GBP", charge_tax_class_id=2,
    )["id"]
    got = await client.get_order(order_id)
    variants = (await client.catalog_product(shirt["id"])).variants
    await client.aclose()
    (item,) = got.lines
    assert (item.base_price, item.cost_price_ex_tax, [o.display_value for o in item.product_options]) == (
        D("50"), D("20"), ["L"])
    assert [(d.target, d.amount) for d in item.applied_discounts] == [("product", D("6"))]
    assert [(f.display_name_customer, f.cost_tax) for f in got.fees] == [("Package Protection", D("0.5"))]
    assert [a.shipping_method for a in got.shipping_addresses] == ["Royal Mail 24"]
    assert (got.customer_message, got.default_currency_code, got.gift_certificate_amount) == (
        "Ring twice", "GBP", D("10"))
    assert got.shipping_cost_tax_class_id == 2
    assert [(v.sku, [o.label for o in v.option_values]) for v in variants] == [("OXF-L", ["L"])]
    assert sum((li.total_inc_tax for li in got.lines), D(0)) + sum((f.cost_inc_tax for f in got.fees), D(0)) \
        + got.shipping_cost_inc_tax - got.discount_amount - got.coupon_discount == got.total_inc_tax
