"""register_sale_document: the register_sales body built as a plain document is, byte for byte,
what the RegisterSale write model serializes for the same sale (the way it was built before)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from decimal import Decimal

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sale_plan import bc_line, bc_order, plan_of

from connector.clients.xseries_models import RegisterSale, RegisterSalePayment, RegisterSaleProduct
from connector.mapping.register_sale import (
    SOURCE,
    PosRefs,
    encode_register_sale,
    register_sale_document,
    sale_status,
)
from connector.mapping.status_table import PosState

REFS = PosRefs(outlet_id="o-1", register_id="r-1", user_id="u-1", default_tax_id="t-std", no_tax_id="t-none",
               payment_type_ids={"Credit Card": "pt-card"})


def the_model_way(plan, state, refs, product_ids, customer_id, payment_type_id, sale_id=None) -> RegisterSale:
    """The body as the order path built it through the write models (its former to_register_sale)."""
    status, new_state, attributes = sale_status(plan, state, customer_id is not None)
    products = [
        RegisterSaleProduct(product_id=product_ids[line.product_key], quantity=line.quantity, price=line.unit_price,
                            tax=line.unit_tax, tax_id=refs.default_tax_id if line.unit_tax else refs.no_tax_id,
                            register_id=refs.register_id, sequence=index, price_set=True, status="CONFIRMED")
        for index, line in enumerate(plan.lines)
    ]
    payments = []
    if status == "CLOSED" and not plan.unpaid and plan.total_inc_tax and payment_type_id:
        payments.append(RegisterSalePayment(retailer_payment_type_id=payment_type_id, amount=plan.total_inc_tax,
                                            payment_date=plan.sale_date, register_id=refs.register_id))
    return RegisterSale(
        id=sale_id, register_id=refs.register_id, user_id=refs.user_id, customer_id=customer_id,
        sale_date=plan.sale_date, status=status, state=new_state, register_sale_attributes=attributes,
        note=plan.note, invoice_number=plan.invoice_number, source=SOURCE, source_id=str(plan.bc_order_id),
        register_sale_products=products, register_sale_payments=payments,
    )


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(st.tuples(st.integers(1, 12), st.integers(0, 250_000), st.sampled_from(["0", "0.0825", "0.2"])),
                   min_size=1, max_size=6),
    shipping=st.integers(0, 3000),
    state=st.sampled_from([PosState.CLOSED, PosState.VOIDED]),
    unpaid=st.booleans(),
    customer_id=st.sampled_from([None, "c-1"]),
    payment_type_id=st.sampled_from([None, "pt-card"]),
    sale_id=st.sampled_from([None, "s-9"]),
    note=st.sampled_from([None, "", "BigCommerce order #7 — é ✓ \"quoted\""]),
    when=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(timezone.utc)),
)
def test_the_document_is_what_the_model_sends(items, shipping, state, unpaid, customer_id, payment_type_id,
                                             sale_id, note, when):
    lines, total_inc, total_tax = [], Decimal(0), Decimal(0)
    for index, (qty, unit_cents, rate) in enumerate(items):
        line_ex = Decimal(unit_cents) / 100 * qty
        line_tax = (line_ex * Decimal(rate)).quantize(Decimal("0.0001"))
        lines.append(bc_line(str(line_ex + line_tax), str(line_tax), qty, sku=f"S{index}", line_id=index))
        total_inc += line_ex + line_tax
        total_tax += line_tax
    ship = Decimal(shipping) / 100
    order = bc_order(lines, total_inc=str(total_inc + ship), total_tax=str(total_tax), shipping=(str(ship), "0"))
    plan = dataclasses.replace(plan_of(order), unpaid=unpaid, note=note, sale_date=when.replace(microsecond=0))
    product_ids = {line.product_key: f"p-{line.product_key}" for line in plan.lines}

    document = register_sale_document(plan, state, REFS, product_ids, customer_id, payment_type_id, sale_id)
    model = the_model_way(plan, state, REFS, product_ids, customer_id, payment_type_id, sale_id)
    assert document == model.to_body()
    assert encode_register_sale(document) == model.to_json()
    # And it reads back as the sale it is (a void re-posts the binding's copy through the model).
    assert RegisterSale.model_validate_json(encode_register_sale(document)).to_json() == model.to_json()


def test_a_paid_closed_sale_carries_its_payment_and_lines():
    order = bc_order([bc_line("21.65", "1.65", 2), bc_line("10.00", "0", sku="MUG", line_id=2)],
                     total_inc="31.65", total_tax="1.65")
    plan = plan_of(order)
    product_ids = {line.product_key: "p-" + line.sku for line in plan.lines}
    document = orjson.loads(encode_register_sale(
        register_sale_document(plan, PosState.CLOSED, REFS, product_ids, "c-1", "pt-card")))
    assert document["status"] == "CLOSED" and document["state"] == "closed"
    assert document["register_sale_payments"] == [{"retailer_payment_type_id": "pt-card", "amount": 31.65,
                                                   "payment_date": "2026-01-10 12:00:00", "register_id": "r-1"}]
    assert [(p["product_id"], p["quantity"], p["price"], p["tax"], p["tax_id"]) for p in
            document["register_sale_products"]] == [
        ("p-TEE-M", 1, 10.0, 0.82, "t-std"), ("p-TEE-M", 1, 10.0, 0.83, "t-std"), ("p-MUG", 1, 10, 0, "t-none")]
    assert "id" not in document and document["source_id"] == "4242"
