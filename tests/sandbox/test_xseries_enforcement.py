"""What the X-Series simulator enforces for sale fidelity (issue 15): taxes that exist, closed sales
not paid beyond their total, stock that only tracked products move, the Discount product, variant
families, and the two product creates (2.0 and 0.9)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector.clock import FakeClock
from connector.sandbox.xseries import XSeriesSimulator

AUTH = {"Authorization": "Bearer xs-test-token"}


def client(sim: XSeriesSimulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url, headers=AUTH)


def sale(sim: XSeriesSimulator, lines: list[dict[str, Any]], paid: str, status: str = "CLOSED") -> dict:
    return {
        "register_id": sim.main_register_id, "user_id": sim.user_id, "status": status,
        "register_sale_products": [{"tax_id": sim.default_tax_id, **line} for line in lines],
        "register_sale_payments": [{"retailer_payment_type_id": sim.payment_type_ids["Credit Card"],
                                    "amount": float(paid)}],
    }


# --- reference data --------------------------------------------------------------------------------

async def test_taxes_currency_attributes_and_the_discount_product():
    sim = XSeriesSimulator(clock=FakeClock())
    async with client(sim) as c:
        taxes = {t["name"]: t for t in (await c.get("/api/2.0/taxes")).json()["data"]}
        retailer = (await c.get("/api/2.0/retailer")).json()["data"]
        attributes = (await c.get("/api/2.0/variant_attributes")).json()["data"]
        discount = (await c.get(f"/api/2.0/products/{retailer['discount_product_id']}")).json()["data"]
    assert {name: t["rates"][0]["rate"] for name, t in taxes.items()} == {
        "No Tax": 0, "GST": 0.15, "Standard VAT": 0.2, "Reduced VAT": 0.05}
    assert {name: t["id"] for name, t in taxes.items()} == sim.tax_ids
    assert retailer["currency"]["code"] == "USD"
    assert {a["name"]: a["id"] for a in attributes} == sim.variant_attribute_ids == {
        "Size": sim.variant_attribute_ids["Size"], "Colour": sim.variant_attribute_ids["Colour"]}
    assert discount["name"] == "Discount" and discount["has_inventory"] is False


async def test_currency_and_taxes_are_configurable():
    sim = XSeriesSimulator(clock=FakeClock(), currency="EUR", extra_taxes=(("MwSt 7", Decimal("0.07")),))
    async with client(sim) as c:
        retailer = (await c.get("/api/2.0/retailer")).json()["data"]
        [outlet] = (await c.get("/api/2.0/outlets")).json()["data"]
        taxes = (await c.get("/api/2.0/taxes")).json()["data"]
    assert retailer["currency"] == {"code": "EUR", "symbol": "€"} and outlet["currency"] == "EUR"
    assert sorted(t["name"] for t in taxes) == ["GST", "MwSt 7", "No Tax"]


# --- sales -----------------------------------------------------------------------------------------

async def test_a_line_with_an_unknown_tax_is_refused_by_its_position():
    sim = XSeriesSimulator(clock=FakeClock())
    mug = sim.add_product(sku="MUG", name="Mug", inventory=5)
    lines = [{"product_id": mug, "quantity": 1, "price": 10, "tax": 1.5},
             {"product_id": mug, "quantity": 1, "price": 10, "tax": 2, "tax_id": "not-a-tax"}]
    async with client(sim) as c:
        answer = await c.post("/api/register_sales", json=sale(sim, lines, "23.5"))
    assert answer.status_code == 422 and "register_sale_products[1]" in answer.json()["message"]
    assert sim.sales == {} and sim.stock(mug) == 5


@pytest.mark.parametrize("status", ["CLOSED", "DISPATCHED_CLOSED"])
async def test_a_closed_sale_may_not_be_paid_beyond_its_total(status):
    sim = XSeriesSimulator(clock=FakeClock())
    mug = sim.add_product(sku="MUG", name="Mug", inventory=10)
    # 3 × (4.30435 + 0.64565) is 14.85 exactly: five-decimal units are summed in Decimal.
    lines = [{"product_id": mug, "quantity": 3, "price": 4.30435, "tax": 0.64565}]
    async with client(sim) as c:
        over = await c.post("/api/register_sales", json=sale(sim, lines, "14.86", status))
        exact = await c.post("/api/register_sales", json=sale(sim, lines, "14.85", status))
    assert over.status_code == 422 and "exceed" in over.json()["message"]
    assert exact.status_code == 200, exact.text
    [stored] = sim.sales.values()
    assert (stored["total_price"], stored["total_tax"]) == (Decimal("12.91305"), Decimal("1.93695"))


async def test_a_return_may_be_refunded_in_part_but_not_beyond_its_value():
    # A return's total and refunds are negative: a partial refund is less in magnitude, not "more".
    sim = XSeriesSimulator(clock=FakeClock())
    mug = sim.add_product(sku="MUG", name="Mug", inventory=10)
    sold = [{"product_id": mug, "quantity": 2, "price": 10, "tax": 1.5}]
    back = [{"product_id": mug, "quantity": -1, "price": 10, "tax": 1.5}]
    async with client(sim) as c:
        original = (await c.post("/api/register_sales", json=sale(sim, sold, "23.00"))).json()["register_sale"]
        over = await c.post("/api/register_sales", json={**sale(sim, back, "-11.51"), "return_for": original["id"]})
        wrong_sign = await c.post("/api/register_sales", json={**sale(sim, back, "11.50"), "return_for": original["id"]})
        part = await c.post("/api/register_sales", json={**sale(sim, back, "-5.00"), "return_for": original["id"]})
    assert over.status_code == 422 and "exceed" in over.json()["message"]
    assert wrong_sign.status_code == 422 and "opposite sign" in wrong_sign.json()["message"]
    assert part.status_code == 200, part.text


@pytest.mark.parametrize("name_20, name_09", [("line_items", "register_sale_products"),
                                                ("payments", "register_sale_payments"),
                                                ("attributes", "register_sale_attributes")])
async def test_a_09_sale_body_with_a_20_list_name_is_refused_not_read_as_empty(name_20, name_09):
    # §8.3: the two versions name these lists differently; a body using the 2.0 name would lose
    # its lines, payments or attributes unread, so the simulator refuses it and changes nothing.
    sim = XSeriesSimulator(clock=FakeClock())
    mug = sim.add_product(sku="MUG", name="Mug", inventory=10)
    body = sale(sim, [{"product_id": mug, "quantity": 1, "price": 10, "tax": 1.5}], "11.50", "SAVED")
    body[name_20] = body.pop(name_09, None) or ["delivery"]
    async with client(sim) as c:
        answer = await c.post("/api/register_sales", json=body)
    assert answer.status_code == 400 and name_09 in answer.json()["message"]
    assert sim.sales == {} and sim.stock(mug) == 10


@pytest.mark.parametrize("status, returnable", [("CLOSED", True), ("ONACCOUNT_CLOSED", True), ("LAYBY_CLOSED", True),
                                                ("DISPATCHED_CLOSED", False), ("PICKED_UP_CLOSED", False),
                                                ("SERVICE_CLOSED", False), ("ONACCOUNT", False)])
async def test_only_a_completed_sale_can_be_returned(status, returnable):
    # Spec (PUT /sales/{id}/actions/return): a completed sale is CLOSED, ONACCOUNT_CLOSED or LAYBY_CLOSED.
    sim = XSeriesSimulator(clock=FakeClock())
    sim.add_customer(first_name="Jane", last_name="Doe", email="jane@example.com")
    mug = sim.add_product(sku="MUG", name="Mug", inventory=10)
    original = {**sale(sim, [{"product_id": mug, "quantity": 1, "price": 10, "tax": 1.5}], "11.50", status),
                "customer_id": next(iter(sim.customers))}
    async with client(sim) as c:
        sold = (await c.post("/api/register_sales", json=original)).json()["register_sale"]
        back = {**sale(sim, [{"product_id": mug, "quantity": -1, "price": 10, "tax": 1.5}], "-11.50"),
                "return_for": sold["id"]}
        answer = await c.post("/api/register_sales", json=back)
    assert sold["status"] == status
    assert answer.status_code == (200 if returnable else 422), answer.text


async def test_the_discount_line_is_accepted_and_lowers_the_total():
    sim = XSeriesSimulator(clock=FakeClock())
    mug = sim.add_product(sku="MUG", name="Mug", inventory=10)
    lines = [{"product_id": mug, "quantity": 2, "price": 10, "tax": 1.5},
             {"product_id": sim.discount_product_id, "quantity": -1, "price": 2, "tax": 0.3}]
    async with client(sim) as c:
        answer = await c.post("/api/register_sales", json=sale(sim, lines, "20.70"))
        assert answer.status_code == 200, answer.text
        read = (await c.get(f"/api/2.0/sales/{answer.json()['register_sale']['id']}")).json()["data"]
    assert (read["total_price"], read["total_tax"]) == (18, 2.7)
    assert sim.stock(mug) == 8 and sim.inventory.get((sim.discount_product_id, sim.main_outlet_id)) is None


async def test_products_that_are_not_stock_tracked_move_no_stock_on_close_or_void():
    sim = XSeriesSimulator(clock=FakeClock())
    mug = sim.add_product(sku="MUG", name="Mug", inventory=10)
    async with client(sim) as c:
        created = await c.post("/api/products", json={"name": "Shipping", "sku": "bc-shipping",
                                                      "handle": "bc-shipping", "track_inventory": False})
        shipping = created.json()["product"]["id"]
        lines = [{"product_id": mug, "quantity": 2, "price": 10, "tax": 1.5},
                 {"product_id": shipping, "quantity": 1, "price": 5, "tax": 0, "tax_id": sim.no_tax_id}]
        closed = (await c.post("/api/register_sales", json=sale(sim, lines, "28"))).json()["register_sale"]
        assert (sim.stock(mug), sim.stock(shipping)) == (8, 0)
        voided = await c.post("/api/register_sales", json={**sale(sim, lines, "28", "VOIDED"), "id": closed["id"]})
        assert voided.status_code == 200
        assert (sim.stock(mug), sim.stock(shipping)) == (10, 0)
        assert (await c.get(f"/api/2.0/products/{shipping}/inventory")).json()["data"] == []


# --- 2.0 create: variant families ------------------------------------------------------------------

def family_body(sim: XSeriesSimulator, **changes: Any) -> dict:
    size = sim.variant_attribute_ids["Size"]
    return {"name": "Oxford Shirt", "source_id": "bc-77", "price_including_tax": 34.5, "variants": [
        {"sku": "OX-S", "variant_definitions": [{"attribute_id": size, "value": "S"}]},
        {"sku": "OX-L", "price_excluding_tax": 32, "variant_definitions": [{"attribute_id": size, "value": "L"}]},
    ], **changes}


async def test_a_family_create_makes_a_parent_and_one_product_per_variant():
    sim = XSeriesSimulator(clock=FakeClock())
    async with client(sim) as c:
        answer = await c.post("/api/2.0/products", json=family_body(sim))
        assert answer.status_code == 200, answer.text
        small, large = answer.json()["data"]
        found = (await c.get("/api/2.0/search", params={"type": "products", "sku": "ox-l"})).json()["data"]
    assert [p["id"] for p in found] == [large]
    s, l = sim.products[small], sim.products[large]
    parent = sim.products[s["variant_parent_id"]]
    assert l["variant_parent_id"] == parent["id"] and parent["variant_parent_id"] is None
    assert parent["has_variants"] is True and parent["variant_count"] == 2 and parent["name"] == "Oxford Shirt"
    assert (s["variant_name"], l["variant_name"]) == ("Oxford Shirt / S", "Oxford Shirt / L")
    assert s["variant_options"] == [{"name": "Size", "value": "S"}]
    assert (s["sku"], l["sku"]) == ("OX-S", "OX-L")
    # A variant without its own price takes the family's; one with a price keeps it.
    assert (s["price_including_tax"], l["price_excluding_tax"]) == (Decimal("34.5"), Decimal("32"))
    assert s["has_inventory"] and l["has_inventory"] and sim.stock(small) == 0


@pytest.mark.parametrize("change, message", [
    ({"variants": [{"sku": "OX-S", "variant_definitions": [{"attribute_id": "no-such", "value": "S"}]}]},
     "variant attribute no-such not found"),
    ({"variants": [{"sku": "OX-S", "variant_definitions": []}]}, "variant_definitions is required"),
    ({"variants": [{"sku": "OX-S", "price_excluding_tax": 1, "price_including_tax": 1.15,
                    "variant_definitions": [{"attribute_id": "size", "value": "S"}]}]}, "cannot both"),
    ({"price_excluding_tax": 30}, "cannot both"),
    ({"variants": [{"sku": "OX", "variant_definitions": [{"attribute_id": "size", "value": v}]} for v in "SL"]},
     "SKU ox is already in use"),
], ids=["unknown-attribute", "no-definitions", "variant-two-prices", "family-two-prices", "sku-twice"])
async def test_a_family_the_api_would_refuse_creates_nothing(change, message):
    sim = XSeriesSimulator(clock=FakeClock())
    body = family_body(sim, **change)
    for variant in body["variants"]:
        for definition in variant["variant_definitions"]:
            if definition["attribute_id"] == "size":
                definition["attribute_id"] = sim.variant_attribute_ids["Size"]
    before = dict(sim.products)
    async with client(sim) as c:
        answer = await c.post("/api/2.0/products", json=body)
    assert answer.status_code == 422 and message in answer.json()["message"]
    assert sim.products == before


async def test_a_variant_sku_already_in_the_store_refuses_the_family():
    sim = XSeriesSimulator(clock=FakeClock())
    sim.add_product(sku="OX-L", name="Oxford Shirt L")
    before = dict(sim.products)
    async with client(sim) as c:
        answer = await c.post("/api/2.0/products", json=family_body(sim))
    assert answer.status_code == 422 and sim.products == before


def test_a_variant_belongs_to_a_family():
    sim = XSeriesSimulator(clock=FakeClock())
    skus = sim.add_family(name="Tee", variants=[("TEE-S", {"Size": "S"}, Decimal(20), 1)])
    variant = skus["TEE-S"]
    assert sim.products[sim.products[variant]["variant_parent_id"]]["has_variants"] is True
    with pytest.raises(ValueError, match="not a product family"):
        sim.add_product(sku="TEE-S-2", name="Nested", variant_parent_id=variant)
    with pytest.raises(ValueError, match="not a product family"):
        sim.add_product(sku="X", name="Orphan", variant_parent_id="00000000-0000-4000-8000-000000000000")


# --- 0.9 create or update --------------------------------------------------------------------------

async def test_the_09_write_creates_updates_and_keeps_to_the_postman_keys():
    sim = XSeriesSimulator(clock=FakeClock())
    async with client(sim) as c:
        tracked = (await c.post("/api/products", json={"name": "Gift wrap", "sku": "bc-wrap", "handle": "bc-wrap",
                                                       "active": True})).json()["product"]
        assert tracked["has_inventory"] is True and tracked["track_inventory"] is True
        update = await c.post("/api/products", json={"id": tracked["id"], "name": "Wrapping",
                                                     "track_inventory": False})
        assert update.status_code == 200 and update.json()["product"]["id"] == tracked["id"]
        refused = await c.post("/api/products", json={"name": "Fee", "sku": "bc-fee", "retail_price": 2.5})
        unknown = await c.post("/api/products", json={"id": "00000000-0000-4000-8000-000000000000", "name": "x"})
        nameless = await c.post("/api/products", json={"sku": "bc-fee"})
        duplicate = await c.post("/api/products", json={"name": "Wrap 2", "sku": "BC-WRAP"})
    product = sim.products[tracked["id"]]
    assert (product["name"], product["has_inventory"]) == ("Wrapping", False)
    assert refused.status_code == 422 and "retail_price" in refused.json()["message"]
    assert (unknown.status_code, nameless.status_code, duplicate.status_code) == (404, 422, 422)
    assert [p["sku"] for p in sim.products.values()] == ["vend-discount", "bc-wrap"]


@pytest.mark.parametrize("shape", ["product", "bare", "no_id"])
async def test_the_09_answer_shape_is_a_knob(shape):
    sim = XSeriesSimulator(clock=FakeClock(), product_09_answer=shape)
    async with client(sim) as c:
        answer = (await c.post("/api/products", json={"name": "Fee", "sku": "bc-fee", "handle": "bc-fee",
                                                      "track_inventory": False})).json()
    product = answer if shape == "bare" else answer["product"]
    assert product["sku"] == "bc-fee" and ("id" in product) == (shape != "no_id")
    assert len(sim.live_by_sku["bc-fee"]) == 1


async def test_the_09_write_needs_the_products_write_scope():
    sim = XSeriesSimulator(clock=FakeClock(), scopes={"products:read"})
    async with client(sim) as c:
        answer = await c.post("/api/products", json={"name": "Fee", "sku": "bc-fee"})
    assert answer.status_code == 403 and "bc-fee" not in sim.live_by_sku
