"""A return gives back the tax BigCommerce gave back, at the rates it was charged: a coupon spread over
two rates refunded whole, a coupon's share at the rate of the line returned, one product's gift
wrapping rather than the order's."""
from __future__ import annotations

from decimal import Decimal

from order_shapes import bc_line, bc_order, plan_of, totals

from connector.clients.bigcommerce_v3_models import Refund
from connector.mapping.return_plan import build_return_plan
from connector.mapping.special_lines import SpecialLine, SpecialLines, SpecialProduct

D = Decimal
SPECIALS = SpecialLines({kind: SpecialProduct(kind.value.title(), f"bc-{kind.value}") for kind in SpecialLine})


def refund(items, total, tax, refund_id=7):
    return Refund.model_validate({
        "id": refund_id, "order_id": 4242, "created": "2026-03-01T10:00:00Z", "total_amount": total,
        "total_tax": tax, "items": items, "payments": [{"provider_id": "gw", "amount": total}]})


def return_totals(plan):
    return (sum((-l.quantity * (l.unit_price + l.unit_tax) for l in plan.lines), D(0)),
            sum((-l.quantity * l.unit_tax for l in plan.lines), D(0)))


def two_rate_coupon_order():
    """A 100.00 item at 20 % and a 100.00 item at 5 % (ex-tax store), a 20.00 coupon spread 10/10:
    paid 90 + 18.00 and 90 + 4.50 = 202.50, tax 22.50."""
    return bc_order([
        bc_line("120.00", "20.00", 1, line_id=1, sku="A", discounted="108.00", discounts=[("order", "10.00")]),
        bc_line("105.00", "5.00", 1, line_id=2, sku="B", discounted="94.50", discounts=[("order", "10.00")]),
    ], total_inc="202.50", total_tax="22.50", coupon_discount="20.00")


def test_full_refund_of_a_two_rate_coupon_order_gives_back_the_tax_bigcommerce_did():
    sale = plan_of(two_rate_coupon_order())
    assert totals(sale) == (D("202.50"), D("22.50"))  # the sale is right
    plan = build_return_plan(refund([{"item_type": "PRODUCT", "item_id": 1, "quantity": 1},
                                     {"item_type": "PRODUCT", "item_id": 2, "quantity": 1}], "202.50", "22.50"),
                             sale, SPECIALS, "t-none")
    # BigCommerce gave back 202.50 of which 22.50 tax; the return must say the same.
    assert return_totals(plan) == (D("202.50"), D("22.50"))


def by_rate(lines):
    rates = {}
    for li in lines:
        rates[li.tax_id] = rates.get(li.tax_id, D(0)) + li.quantity * li.unit_tax
    return rates


def test_a_wrapping_refund_of_one_product_gives_back_that_products_wrapping():
    """Two products gift-wrapped at 5.00 + 1.00 tax each (order wrapping 12.00 / 2.00). A refund of
    product 1's wrapping (requested_amount null: BigCommerce computes it) gives back 6.00 / 1.00."""
    lines = [bc_line("60.00", "10.00", 1, line_id=1, sku="A"), bc_line("60.00", "10.00", 1, line_id=2, sku="B")]
    for line in lines:
        line.update(wrapping_id=1, wrapping_name="Gift", wrapping_cost_ex_tax="5.0000",
                    wrapping_cost_inc_tax="6.0000", wrapping_cost_tax="1.0000")
    order = bc_order(lines, total_inc="132.00", total_tax="22.00", wrapping=("12.00", "2.00"))
    plan = build_return_plan(refund([{"item_type": "GIFT_WRAPPING", "item_id": 1, "requested_amount": None}],
                                    "6.00", "1.00"), plan_of(order), SPECIALS, "t-none")
    assert return_totals(plan) == (D("6.00"), D("1.00"))
    wrapping = [l for l in plan.lines if l.kind == "wrapping"]
    assert sum(-l.quantity * (l.unit_price + l.unit_tax) for l in wrapping) == D("6.00"), plan.lines


def test_a_small_coupon_share_comes_back_at_the_rate_of_the_line_returned():
    """A 10.00 item at 5 % listed first, a 10.00 item at 20 % with a 0.05 coupon share (tax 0.01).
    Returning the 20 % item gives back 9.95 + 1.99: the 0.05 / 0.01 share must come back at 20 %,
    not at the 5 % line's rate that happens to fit within a cent and comes first."""
    order = bc_order([
        bc_line("10.50", "0.50", 1, line_id=1, sku="A", discounted="10.4475", discounts=[("order", "0.05")]),
        bc_line("12.00", "2.00", 1, line_id=2, sku="B", discounted="11.94", discounts=[("order", "0.05")]),
    ], total_inc="22.39", total_tax="2.49", coupon_discount="0.10")
    sale = plan_of(order)
    assert totals(sale) == (D("22.39"), D("2.49"))
    plan = build_return_plan(refund([{"item_type": "PRODUCT", "item_id": 2, "quantity": 1}], "11.94", "1.99"),
                             sale, SPECIALS, "t-none")
    assert return_totals(plan) == (D("11.94"), D("1.99"))
    assert {k: v for k, v in by_rate(plan.lines).items() if v} == {"t-20": D("-1.99")}
