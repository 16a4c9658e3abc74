"""The simulated store's richer orders (issue 15): fees, tenders, discounts by target, coupons, mixed
tax rates, tax-inclusive pricing, costs, variant options, pickup and digital consignments."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.clock import FakeClock
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.values import cents

D = Decimal
V2 = "/stores/abc123/v2"
V3 = "/stores/abc123/v3"
LINES_AND_FEES = {"include": "consignments.line_items,fees", "consignment_structure": "object"}
JANE = {"id": 7, "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"}


def line(sku: str, price: str, quantity: int = 1, **extra) -> dict:
    return {"product_id": 111, "variant_id": 5, "sku": sku, "name": f"Item {sku}",
            "unit_price": D(price), "quantity": quantity, **extra}


def new_sim(**kwargs) -> BigCommerceSimulator:
    return BigCommerceSimulator(clock=FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc)), **kwargs)


async def get(sim: BigCommerceSimulator, path: str, **params) -> httpx.Response:
    async with httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url,
                                 headers={"X-Auth-Token": "bc-test-token", "Accept": "application/json"}) as client:
        return await client.get(path, params=params)


def money(data: dict, name: str) -> Decimal:
    return D(str(data[name]))


def assert_adds_up(order: dict, lines: list[dict], fees: list[dict]) -> None:
    """BigCommerce's identities between an order, its lines and its fees."""
    for kind in ("ex_tax", "inc_tax"):
        assert money(order, f"subtotal_{kind}") == sum(money(li, f"total_{kind}") for li in lines)
    off = money(order, "discount_amount") + money(order, "coupon_discount")
    charges = sum(money(order, f"{c}_cost_inc_tax") for c in ("shipping", "handling", "wrapping"))
    fees_inc = sum((money(f, "cost_inc_tax") for f in fees), D(0))
    assert money(order, "total_inc_tax") == money(order, "subtotal_inc_tax") + charges + fees_inc - off
    assert sum(money(li, "discounted_total_inc_tax") for li in lines) == money(order, "subtotal_inc_tax") - off
    for li in lines:
        assert money(li, "discounted_total_inc_tax") == money(li, "total_inc_tax") - sum(
            (money(d, "amount") for d in li["applied_discounts"]), D(0))
    assert money(order, "total_tax") == money(order, "total_inc_tax") - money(order, "total_ex_tax")
    for fee in fees:
        assert money(fee, "cost_tax") == money(fee, "cost_inc_tax") - money(fee, "cost_ex_tax")


# ------------------------------------------------------------------ fees

async def test_fees_are_embedded_only_with_include_fees_and_served_on_their_own():
    sim = new_sim()
    order_id = sim.add_order(customer=JANE, lines=[line("A", "40.00")], tax_rate=D("0.20"), fees=[
        {"name": "Package Protection", "amount": D("2.50")},
        {"name": "Eco fee", "amount": D("0.10"), "tax_rate": D(0), "tax_class_id": 3, "merchant_name": "Eco levy"},
    ])["id"]
    plain = (await get(sim, f"{V2}/orders/{order_id}")).json()
    assert plain["fees"] == {"url": f"{sim.v2_url}/orders/{order_id}/fees", "resource": f"/orders/{order_id}/fees"}
    embedded = (await get(sim, f"{V2}/orders/{order_id}", **LINES_AND_FEES)).json()
    listed = (await get(sim, f"{V2}/orders", **LINES_AND_FEES)).json()[0]
    alone = (await get(sim, f"{V2}/orders/{order_id}/fees")).json()
    assert embedded["fees"] == listed["fees"] == alone["fees"]
    protection, eco = embedded["fees"]
    assert (protection["display_name_customer"], protection["cost_ex_tax"], protection["cost_tax"],
            protection["cost_inc_tax"], protection["tax_class_id"]) == ("Package Protection", "2.5000", "0.5000",
                                                                         "3.0000", None)
    assert (eco["display_name_merchant"], eco["cost_tax"], eco["cost_inc_tax"], eco["tax_class_id"]) == (
        "Eco levy", "0.0000", "0.1000", 3)
    assert money(embedded, "total_inc_tax") == D("48.00") + D("3.00") + D("0.10")
    assert_adds_up(embedded, sim.products(order_id), embedded["fees"])


async def test_an_order_without_fees_embeds_an_empty_array():
    sim = new_sim()
    order_id = sim.add_order(customer=JANE, lines=[line("A", "10.00")])["id"]
    assert (await get(sim, f"{V2}/orders/{order_id}", include="fees")).json()["fees"] == []
    assert (await get(sim, f"{V2}/orders/{order_id}/fees")).json() == {"fees": []}
    assert (await get(sim, f"{V2}/orders/999/fees")).status_code == 404


# ------------------------------------------------------------------ tenders

def test_gift_certificates_and_store_credit_are_tenders_inside_the_total():
    sim = new_sim()
    plain = sim.add_order(customer=JANE, lines=[line("A", "100.00")], tax_rate=D(0))
    split = sim.add_order(customer=JANE, lines=[line("A", "100.00")], tax_rate=D(0),
                          gift_certificate_amount=D("30.00"), store_credit_amount=D("20.00"))
    assert split["total_inc_tax"] == plain["total_inc_tax"] == "100.0000"
    assert (split["gift_certificate_amount"], split["store_credit_amount"]) == ("30.0000", "20.0000")
    assert (plain["gift_certificate_amount"], plain["store_credit_amount"]) == ("0.0000", "0.0000")
    # More than the total is what a store never makes; a test may plant it to check the refusal.
    planted = sim.add_order(customer=JANE, lines=[line("A", "10.00")], gift_certificate_amount="50")
    assert (planted["gift_certificate_amount"], planted["total_inc_tax"]) == ("50.0000", "11.0000")


# ------------------------------------------------------------------ discounts and coupons

async def test_order_level_discount_and_coupon_are_spread_by_price_ex_tax_over_mixed_rates():
    sim = new_sim()
    order = sim.add_order(
        customer=JANE, tax_rate=D("0.20"), discount=D("6.00"), coupons=[{"code": "SAVE4", "amount": D("4.00")}],
        lines=[line("STD", "30.00"), line("BOOK", "10.00", 2, tax_rate=D("0.05")), line("KIDS", "40.00", tax_rate=D(0))],
    )
    lines = sim.products(order["id"])
    # weights 30 : 20 : 40 → the manual 6.00 as 2.00 / 1.33 / 2.67, the coupon as 1.33 / 0.89 / 1.78
    manual = [next(d for d in li["applied_discounts"] if d["id"] == "manual-discount") for li in lines]
    coupon = [next(d for d in li["applied_discounts"] if d["code"] == "SAVE4") for li in lines]
    assert [d["amount"] for d in manual] == ["2.0000", "1.3300", "2.6700"]
    assert [d["amount"] for d in coupon] == ["1.3300", "0.8900", "1.7800"]
    assert {d["target"] for d in manual + coupon} == {"order"}
    assert (order["discount_amount"], order["coupon_discount"]) == ("6.0000", "4.0000")
    # each share's ex-tax part comes off at its own line's rate
    expected_ex = D("90.00") - sum(D(m["amount"]) / (1 + r) for m, r in zip(manual + coupon, [D("0.2"), D("0.05"), D(0)] * 2))
    assert abs(D(order["total_ex_tax"]) - expected_ex) <= D("0.0006")
    assert_adds_up(order, lines, [])
    (listed,) = (await get(sim, f"{V2}/orders/{order['id']}/coupons")).json()
    assert (listed["code"], listed["discount"], listed["type"], listed["order_id"]) == ("SAVE4", 4.0, 2, order["id"])


def test_product_level_discount_stays_on_its_line_at_the_list_price():
    sim = new_sim()
    order = sim.add_order(customer=JANE, tax_rate=D("0.10"),
                          lines=[line("SHIRT", "100.00", 2, unit_discount=D("20.00")), line("MUG", "10.00")])
    shirt, mug = sim.products(order["id"])
    assert (shirt["base_price"], shirt["price_ex_tax"], shirt["price_inc_tax"]) == ("100.0000", "100.0000", "110.0000")
    (discount,) = shirt["applied_discounts"]
    assert (discount["target"], discount["amount"]) == ("product", "44.0000")  # 2 × 20.00 + 10 % tax
    assert shirt["discounted_total_inc_tax"] == "176.0000" and mug["applied_discounts"] == []
    assert (order["discount_amount"], order["total_inc_tax"], order["total_ex_tax"]) == ("44.0000", "187.0000", "170.0000")
    assert_adds_up(order, [shirt, mug], [])


# ------------------------------------------------------------------ taxes, prices, costs

def test_each_line_is_taxed_at_its_own_rate():
    sim = new_sim()
    order = sim.add_order(customer=JANE, tax_rate=D("0.20"), shipping_ex_tax=D("5.00"), charge_tax_class_id=2,
                          lines=[line("STD", "9.99", 3), line("BOOK", "12.50", tax_rate=D("0.05")),
                                 line("KIDS", "8.00", tax_rate=D(0))])
    std, book, kids = sim.products(order["id"])
    assert [li["price_tax"] for li in (std, book, kids)] == ["2.0000", "0.6300", "0.0000"]
    assert order["total_tax"] == "7.6300"  # 3 × 2.00 + 0.63 + shipping's 1.00
    assert (order["shipping_cost_tax_class_id"], order["handling_cost_tax_class_id"]) == (2, 2)


def test_tax_inclusive_order_keeps_its_inc_tax_figures_exact():
    sim = new_sim()  # a tax-exclusive store; this order says otherwise
    order = sim.add_order(customer=JANE, tax_inclusive=True, tax_rate=D("0.20"), lines=[line("TEN", "10.00", 3)],
                          fees=[{"name": "Fee", "amount": D("1.20")}])
    (ten,) = sim.products(order["id"])
    assert order["is_tax_inclusive_pricing"] is True
    assert (ten["base_price"], ten["price_inc_tax"], ten["price_ex_tax"], ten["total_inc_tax"]) == (
        "10.0000", "10.0000", "8.3333", "30.0000")
    assert sim.order_fees[order["id"]][0]["cost_inc_tax"] == "1.2000"
    assert order["total_inc_tax"] == "31.2000"
    assert sim.add_order(customer=JANE, lines=[line("A", "1.00")])["is_tax_inclusive_pricing"] is False


def test_cost_prices_are_carried_per_unit():
    sim = new_sim()
    order = sim.add_order(customer=JANE, lines=[line("A", "25.00", 2, cost_price=D("11.40")), line("B", "5.00")])
    with_cost, without = sim.products(order["id"])
    assert (with_cost["cost_price_ex_tax"], with_cost["base_cost_price"]) == ("11.4000", "11.4000")
    assert without["cost_price_ex_tax"] == "0.0000"


# ------------------------------------------------------------------ variants

def test_variant_lines_carry_product_options_given_or_from_the_catalogue():
    sim = new_sim()
    shirt = sim.add_catalog_product(sku="OXF", name="Oxford Shirt", price=D("50"), variants=[
        {"sku": "OXF-S", "price": None, "option_values": [{"label": "S", "option_display_name": "Size"}]},
        {"sku": "OXF-L", "price": D("55"), "option_values": [{"label": "L", "option_display_name": "Size"},
                                                            {"label": "Blue", "option_display_name": "Colour"}]},
    ])
    large = shirt["variants"][1]
    order = sim.add_order(customer=JANE, lines=[
        {"product_id": shirt["id"], "variant_id": large["id"], "sku": "OXF-L", "name": "Oxford Shirt",
         "unit_price": D("55"), "quantity": 1},
        line("HAT", "9.00", product_options=[{"display_name": "Band", "display_value": "Red"}]),
        line("MUG", "5.00"),
    ])
    from_catalogue, given, plain = sim.products(order["id"])
    assert [(o["display_name"], o["display_value"]) for o in from_catalogue["product_options"]] == [
        ("Size", "L"), ("Colour", "Blue")]
    assert [o["option_id"] for o in from_catalogue["product_options"]] == [
        v["option_id"] for v in large["option_values"]]
    assert [(o["display_name"], o["display_value"], o["order_product_id"]) for o in given["product_options"]] == [
        ("Band", "Red", given["id"])]
    assert plain["product_options"] == []


async def test_product_variants_endpoint_serves_option_values_and_costs():
    sim = new_sim()
    shirt = sim.add_catalog_product(sku="OXF", name="Oxford Shirt", price=D("50"), tax_class_id=2, variants=[
        {"sku": "OXF-S", "price": None, "option_values": [{"label": "S", "option_display_name": "Size"}]},
        {"sku": "OXF-L", "price": D("55"), "cost_price": D("21.5"),
         "option_values": [{"label": "L", "option_display_name": "Size"}]},
    ])
    sim.add_catalog_product(sku="MUG", name="Mug", price=D("9"))
    body = (await get(sim, f"{V3}/catalog/products/{shirt['id']}/variants")).json()
    small, large = body["data"]
    assert [(v["sku"], v["price"], v["calculated_price"], v["cost_price"]) for v in body["data"]] == [
        ("OXF-S", None, 50.0, None), ("OXF-L", 55.0, 55.0, 21.5)]
    assert [o["label"] for o in small["option_values"] + large["option_values"]] == ["S", "L"]
    assert small["option_values"][0]["option_id"] == large["option_values"][0]["option_id"]  # one "Size" option
    product = (await get(sim, f"{V3}/catalog/products/{shirt['id']}")).json()["data"]
    assert (product["tax_class_id"], product["price"]) == (2, 50.0)


# ------------------------------------------------------------------ fulfilment

async def test_shipping_consignment_carries_address_and_method():
    sim = new_sim()
    elsewhere = {"first_name": "Sam", "last_name": "Roe", "street_1": "1 High St", "city": "Leeds",
                 "zip": "LS1 1AA", "country": "United Kingdom", "country_iso2": "GB"}
    order_id = sim.add_order(customer=JANE, lines=[line("A", "10.00")], shipping_ex_tax=D("4.00"),
                             shipping_method="Royal Mail 24", shipping_address=elsewhere,
                             customer_message="Leave with the neighbour", default_currency_code="GBP")["id"]
    order = (await get(sim, f"{V2}/orders/{order_id}", **LINES_AND_FEES)).json()
    (shipping,) = order["consignments"]["shipping"]
    assert (shipping["shipping_method"], shipping["street_1"], shipping["city"], shipping["country_iso2"]) == (
        "Royal Mail 24", "1 High St", "Leeds", "GB")
    assert (order["customer_message"], order["default_currency_code"], order["order_is_digital"]) == (
        "Leave with the neighbour", "GBP", False)
    assert order["billing_address"]["first_name"] == "Jane"
    default = sim.add_order(customer=JANE, lines=[line("A", "10.00")])
    assert (default["default_currency_code"], default["customer_message"]) == ("USD", "")


async def test_pickup_order_has_a_pickup_consignment_and_no_shipping_address():
    sim = new_sim()
    order_id = sim.add_order(customer=JANE, lines=[line("A", "10.00"), line("B", "5.00")], status_id=8,
                             pickup={"pickup_method_display_name": "Click & Collect"})["id"]
    order = (await get(sim, f"{V2}/orders/{order_id}", **LINES_AND_FEES)).json()
    consignments = order["consignments"]
    (pickup,) = consignments["pickups"]
    assert pickup["pickup_method_display_name"] == "Click & Collect" and pickup["location"]["city"] == "Austin"
    assert [li["sku"] for li in pickup["line_items"]] == ["A", "B"]
    assert all(li["order_pickup_method_id"] == pickup["pickup_method_id"] != 0 for li in pickup["line_items"])
    assert consignments["shipping"] == [] and order["shipping_address_count"] == 0
    assert (await get(sim, f"{V2}/orders/{order_id}/shipping_addresses")).status_code == 204


async def test_digital_only_order_uses_download_and_email_consignments():
    sim = new_sim()
    order_id = sim.add_order(customer=JANE, lines=[
        line("EBOOK", "12.00", type="digital"),
        line("", "25.00", type="giftcertificate", product_id=0, name="$25 Gift Certificate"),
    ])["id"]
    order = (await get(sim, f"{V2}/orders/{order_id}", **LINES_AND_FEES)).json()
    consignments = order["consignments"]
    assert order["order_is_digital"] is True and order["shipping_address_count"] == 0
    assert consignments["shipping"] == [] and consignments["pickups"] == []
    (download,) = consignments["downloads"]
    (gift,) = consignments["email"]["gift_certificates"]
    assert [li["sku"] for li in download["line_items"]] == ["EBOOK"]
    assert [li["type"] for li in gift["line_items"]] == ["giftcertificate"]
    assert gift["line_items"][0]["gift_certificate_id"] is not None
    assert download["recipient_email"] == "jane@example.com"


async def test_mixed_order_ships_only_its_physical_lines():
    sim = new_sim()
    order_id = sim.add_order(customer=JANE, lines=[line("TEE", "20.00"), line("EBOOK", "12.00", type="digital")])["id"]
    consignments = (await get(sim, f"{V2}/orders/{order_id}", **LINES_AND_FEES)).json()["consignments"]
    assert [li["sku"] for li in consignments["shipping"][0]["line_items"]] == ["TEE"]
    assert [li["sku"] for li in consignments["downloads"][0]["line_items"]] == ["EBOOK"]
    assert sim.order(order_id)["order_is_digital"] is False


# ------------------------------------------------------------------ property

rates = st.sampled_from([D(0), D("0.05"), D("0.0825"), D("0.20")])
amounts = st.decimals(min_value=D("0.01"), max_value=D("500"), places=2)


@settings(max_examples=80, deadline=None)
@given(
    inclusive=st.booleans(),
    items=st.lists(st.tuples(amounts, st.integers(1, 50), rates, st.integers(0, 30)), min_size=1, max_size=5),
    discount_share=st.integers(0, 40), coupon_share=st.integers(0, 20),
    fees=st.lists(st.tuples(st.decimals(min_value=D("0.01"), max_value=D("20"), places=2), rates), max_size=2),
    shipping=st.decimals(min_value=D(0), max_value=D("30"), places=2), tender_share=st.integers(0, 200),
)
def test_random_orders_add_up(inclusive, items, discount_share, coupon_share, fees, shipping, tender_share):
    sim = new_sim()
    lines = [line(f"S{i}", str(price), quantity, tax_rate=rate, unit_discount=cents(price * off / 100))
             for i, (price, quantity, rate, off) in enumerate(items)]
    gross = sum(price * quantity for price, quantity, _, _ in items)
    discount, coupon = cents(gross * discount_share / 200), cents(gross * coupon_share / 200)
    gift = cents(gross * tender_share / 1000)
    order = sim.add_order(customer=JANE, lines=lines, tax_inclusive=inclusive, discount=discount,
                          coupons=[{"code": "C", "amount": coupon}], shipping_ex_tax=shipping,
                          fees=[{"name": "F", "amount": a, "tax_rate": r} for a, r in fees],
                          gift_certificate_amount=gift, store_credit_amount=gift)
    products = sim.products(order["id"])
    assert_adds_up(order, products, sim.order_fees[order["id"]])
    assert D(order["gift_certificate_amount"]) == D(order["store_credit_amount"]) == gift  # tenders, not discounts
    exact = "price_inc_tax" if inclusive else "price_ex_tax"
    for product, (price, quantity, rate, _) in zip(products, items):
        assert D(product[exact]) == D(product["base_price"]) == price
        if not inclusive:
            assert D(product["price_tax"]) == cents(price * rate)
        else:
            assert abs(D(product["price_ex_tax"]) * (1 + rate) - price) <= D("0.0001") * (1 + rate)
