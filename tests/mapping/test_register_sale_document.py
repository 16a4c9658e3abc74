"""register_sale: the register_sales body of a sale plan, as it goes on the wire."""

from __future__ import annotations

import json

from test_sale_plan import bc_line, bc_order, plan_of

from connector.mapping.register_sale import PosRefs, register_sale
from connector.mapping.status_table import PosState

REFS = PosRefs(outlet_id="o-1", register_id="r-1", user_id="u-1", default_tax_id="t-std", no_tax_id="t-none",
               payment_type_ids={"Credit Card": "pt-card"})


def test_a_paid_closed_sale_carries_its_payment_and_lines():
    order = bc_order([bc_line("21.65", "1.65", 2), bc_line("10.00", "0", sku="MUG", line_id=2)],
                     total_inc="31.65", total_tax="1.65")
    plan = plan_of(order)
    product_ids = {line.product_key: "p-" + line.sku for line in plan.lines}
    document = json.loads(register_sale(plan, PosState.CLOSED, REFS, product_ids, "c-1", "pt-card").to_json())
    assert document["status"] == "CLOSED" and document["state"] == "closed"
    assert document["register_sale_payments"] == [{"retailer_payment_type_id": "pt-card", "amount": 31.65,
                                                   "payment_date": "2026-01-10 12:00:00", "register_id": "r-1"}]
    assert [(p["product_id"], p["quantity"], p["price"], p["tax"], p["tax_id"], p["price_set"]) for p in
            document["register_sale_products"]] == [
        ("p-TEE-M", 1, 10.0, 0.82, "t-std", 1), ("p-TEE-M", 1, 10.0, 0.83, "t-std", 1),
        ("p-MUG", 1, 10, 0, "t-none", 1)]
    assert "id" not in document and document["source_id"] == "4242"


def test_a_voided_sale_keeps_its_id_and_drops_its_payment():
    order = bc_order([bc_line("21.65", "1.65", 2)], total_inc="21.65", total_tax="1.65")
    plan = plan_of(order)
    product_ids = {line.product_key: "p-" + line.sku for line in plan.lines}
    document = json.loads(register_sale(plan, PosState.VOIDED, REFS, product_ids, "c-1", "pt-card", "s-9").to_json())
    assert (document["id"], document["status"], document["state"]) == ("s-9", "VOIDED", "voided")
    assert document["register_sale_payments"] == []
