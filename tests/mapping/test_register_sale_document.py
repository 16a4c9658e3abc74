"""register_sale: the register_sales body of a sale plan, as it goes on the wire."""

from __future__ import annotations

import json

import pytest
from order_shapes import TABLES, bc_line, bc_order, plan_of

from connector.errors import MappingError
from connector.mapping.register_sale import PosRefs, paid_now, register_sale
from connector.mapping.status_table import PosState

REFS = PosRefs(outlet_id="o-1", register_id="r-1", user_id="u-1", default_tax_id="t-20", no_tax_id="t-none",
               payment_type_ids={"Credit Card": "pt-card", "Other": "pt-other", "Store Credit": "pt-credit"},
               discount_product_id="p-discount", currency="USD")


def document(plan, state=PosState.CLOSED, customer_id="c-1", sale_id=None, refs=REFS):
    product_ids = {line.product_key: "p-" + line.sku for line in plan.lines if line.kind != "discount"}
    type_ids = [refs.payment_type_ids[t] for t in TABLES.payments.targets(paid_now(plan), plan.bc_order_id)]
    return json.loads(register_sale(plan, state, refs, product_ids, customer_id, type_ids, sale_id).to_json())


def test_a_paid_closed_sale_carries_its_payment_and_lines():
    order = bc_order([bc_line("21.65", "1.65", 2), bc_line("10.00", "0", sku="MUG", line_id=2)],
                     total_inc="31.65", total_tax="1.65")
    doc = document(plan_of(order))
    assert doc["status"] == "CLOSED" and doc["state"] == "closed"
    assert doc["register_sale_payments"] == [{"retailer_payment_type_id": "pt-card", "amount": 31.65,
                                              "payment_date": "2026-01-10 12:00:00", "register_id": "r-1"}]
    # 20.00 + 1.65 tax over two units: 0.825 each, carried at five places.
    assert [(p["product_id"], p["quantity"], p["price"], p["tax"], p["tax_id"], p["price_set"]) for p in
            doc["register_sale_products"]] == [("p-TEE-M", 2, 10, 0.825, "t-825", 1), ("p-MUG", 1, 10, 0, "t-none", 1)]
    assert "id" not in doc and doc["source_id"] == "4242"
    # Physical lines of an order with a shipping address: a delivery, with no discount to report.
    assert doc["register_sale_attributes"] == ["delivery"] and "discount" not in doc["register_sale_products"][0]


def test_a_voided_sale_keeps_its_id_and_drops_its_payment():
    order = bc_order([bc_line("21.65", "1.65", 2)], total_inc="21.65", total_tax="1.65")
    doc = document(plan_of(order), PosState.VOIDED, sale_id="s-9")
    assert (doc["id"], doc["status"], doc["state"]) == ("s-9", "VOIDED", "voided")
    assert doc["register_sale_payments"] == []


def test_split_tenders_become_one_payment_each():
    """30.00 gift certificate + 70.00 card: two payments, under the gift certificate's type."""
    order = bc_order([bc_line("100.00", "0")], total_inc="100.00", total_tax="0", gift="30.0000")
    doc = document(plan_of(order))
    assert [(p["retailer_payment_type_id"], p["amount"]) for p in doc["register_sale_payments"]] == [
        ("pt-other", 30), ("pt-card", 70)]


def test_discount_cost_and_the_sale_level_discount_line():
    # 100.00 list, 10.00 product discount on the line, then 9.00 of the order's 10 % coupon.
    line = bc_line("100.00", "0", discounted="81.00", cost="42.5000",
                   discounts=[("product", "10.00"), ("order", "9.00")])
    doc = document(plan_of(bc_order([line], total_inc="81.00", total_tax="0")))
    product, discount = doc["register_sale_products"]
    assert (product["price"], product["discount"], product["cost"], product["quantity"]) == (90, 10, 42.5, 1)
    assert (discount["product_id"], discount["quantity"], discount["price"], discount["tax"], discount["tax_id"]) == (
        "p-discount", -1, 9, 0, "t-none")
    assert sum(p["quantity"] * (p["price"] + p["tax"]) for p in doc["register_sale_products"]) == 81


def test_a_discount_line_needs_the_retailers_discount_product():
    line = bc_line("100.00", "0", discounted="90.00", discounts=[("order", "10.00")])
    plan = plan_of(bc_order([line], total_inc="90.00", total_tax="0", order_id=5))
    refs = PosRefs(**{**REFS.__dict__, "discount_product_id": None})
    with pytest.raises(MappingError, match="order 5: .*discount product"):
        document(plan, refs=refs)


@pytest.mark.parametrize("status_id,payment_status,customer,expected", [
    (11, "captured", "c-1", ("CLOSED", ["delivery"])),
    (7, "pending", "c-1", ("ONACCOUNT", ["onaccount", "delivery"])),
    (5, "void", "c-1", ("VOIDED", [])),
])
def test_fulfilment_attributes_ride_with_the_status(status_id, payment_status, customer, expected):
    order = bc_order([bc_line("10.00", "0")], total_inc="10.00", total_tax="0", status_id=status_id,
                     payment_status=payment_status, consignments={"shipping": [1]})
    plan = plan_of(order)
    state = PosState.VOIDED if status_id == 5 else PosState.CLOSED
    doc = document(plan, state, customer)
    assert (doc["status"], doc["register_sale_attributes"]) == expected


def test_a_reopened_orders_sale_has_its_own_source_id():
    order = bc_order([bc_line("10.00", "0")], total_inc="10.00", total_tax="0", order_id=77)
    assert document(plan_of(order, generation=2))["source_id"] == "77-2"
    assert document(plan_of(order, generation=2))["invoice_number"] == "BC-77-2"


def test_payment_type_ids_must_match_the_planned_payments():
    order = bc_order([bc_line("10.00", "0")], total_inc="10.00", total_tax="0", gift="4.00")
    plan = plan_of(order)
    with pytest.raises(ValueError, match="2 payments planned, 1 payment type ids given"):
        register_sale(plan, PosState.CLOSED, REFS, {"sku:tee-m": "p-1"}, "c-1", ["pt-card"])
