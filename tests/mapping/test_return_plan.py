"""Issue 16, point 1: a refund → the return that mirrors it (pure). The e2e tests through both
simulators are tests/sync/test_refunds.py; these cover what the simulator never produces."""

from __future__ import annotations

from decimal import Decimal

import pytest
from order_shapes import bc_line, bc_order, plan_of

from connector.clients.bigcommerce_models import Refund
from connector.errors import MappingError
from connector.mapping.return_plan import build_return_plan
from connector.mapping.special_lines import SpecialLine, SpecialLines, SpecialProduct

D = Decimal
SPECIALS = SpecialLines({kind: SpecialProduct(kind.value.title(), f"bc-{kind.value}") for kind in SpecialLine})


def refund(items: list[dict], total: str, payments: list[dict] | None = None, refund_id: int = 7) -> Refund:
    return Refund.model_validate({
        "id": refund_id, "order_id": 4242, "created": "2026-03-01T10:00:00Z", "total_amount": total,
        "items": items, "payments": payments if payments is not None else [{"provider_id": "gw", "amount": total}],
    })


def three_tees():
    return plan_of(bc_order([bc_line("66.00", "6.00", 3, line_id=9)], total_inc="66.00", total_tax="6.00"))


def test_units_come_back_at_the_price_they_were_sold_at():
    plan = build_return_plan(refund([{"item_type": "PRODUCT", "item_id": 9, "quantity": 2}], "44.00"), three_tees(),
                             SPECIALS, "tax-0")
    [line] = plan.lines
    assert (line.quantity, line.unit_price, line.unit_tax, line.sku) == (-2, D("20.00"), D("2.00"), "TEE-M")
    assert (plan.invoice_number, plan.source_id, plan.adjustment) == ("BC-4242-R7", "4242-R7", D(0))
    assert [(p.tender, p.method, p.amount) for p in plan.payments] == [("method", "Credit Card", D("44.00"))]


def test_what_bigcommerce_gave_back_beyond_the_units_is_an_untaxed_adjustment():
    # A share of an order-level discount: BigCommerce refunded 40.00 for two units sold at 22.00.
    plan = build_return_plan(refund([{"item_type": "PRODUCT", "item_id": 9, "quantity": 2}], "40.00"), three_tees(),
                             SPECIALS, "tax-0")
    units, adjustment = plan.lines
    assert units.quantity == -2 and plan.adjustment == D("-4.00")
    assert (adjustment.sku, adjustment.quantity, adjustment.unit_price, adjustment.tax_id) == (
        "bc-refund", -1, D("-4.00"), "tax-0")
    assert sum(-l.quantity * (l.unit_price + l.unit_tax) for l in plan.lines) == D("40.00")


@pytest.mark.parametrize("item,match", [
    ({"item_type": "PRODUCT", "item_id": 9, "quantity": 0, "requested_amount": "5.00"}, "without returning a unit"),
    ({"item_type": "PRODUCT", "item_id": 9, "quantity": 4}, "more than the sale sold"),
    ({"item_type": "PRODUCT", "item_id": 99, "quantity": 1}, "which the sale does not have"),
])
def test_what_x_series_cannot_express_is_an_exception(item, match):
    with pytest.raises(MappingError, match=match) as caught:
        build_return_plan(refund([item], "5.00"), three_tees(), SPECIALS, "tax-0")
    assert caught.value.kind == "refund" and caught.value.order_id == 4242


def test_payments_that_do_not_add_up_are_an_exception():
    with pytest.raises(MappingError, match="add up to 10.00 but it gave back 22.00"):
        build_return_plan(refund([{"item_type": "PRODUCT", "item_id": 9, "quantity": 1}], "22.00",
                                 [{"provider_id": "gw", "amount": "10.00"}]), three_tees(), SPECIALS, "tax-0")


def test_refund_payments_by_tender():
    plan = build_return_plan(refund([{"item_type": "PRODUCT", "item_id": 9, "quantity": 1}], "22.00",
                                    [{"provider_id": "storecredit", "amount": "2.00"},
                                     {"provider_id": "giftcertificate", "amount": "5.00"},
                                     {"provider_id": "stripe", "amount": "15.00"},
                                     {"provider_id": "stripe", "amount": "9.00", "is_declined": True}]),
                             three_tees(), SPECIALS, "tax-0")
    assert [(p.tender, p.amount) for p in plan.payments] == [
        ("store_credit", D("2.00")), ("gift_certificate", D("5.00")), ("method", D("15.00"))]
