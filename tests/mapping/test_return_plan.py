"""Issue 16, point 1: a refund → the return that mirrors it (pure). The e2e tests through both
simulators are tests/sync/test_refunds.py; these cover what the simulator never produces."""

from __future__ import annotations

from decimal import Decimal

import pytest
from order_shapes import bc_fee, bc_line, bc_order, plan_of

from connector.clients.bigcommerce_v3_models import Refund
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


def refund_with_tax(items: list[dict], total: str, tax: str | None) -> Refund:
    return Refund.model_validate({
        "id": 7, "order_id": 4242, "created": "2026-03-01T10:00:00Z", "total_amount": total, "total_tax": tax,
        "items": items, "payments": [{"provider_id": "gw", "amount": total}]})


def by_rate(lines) -> dict[str, Decimal]:
    rates: dict[str, Decimal] = {}
    for line in lines:
        rates[line.tax_id] = rates.get(line.tax_id, D(0)) - line.quantity * line.unit_tax
    return {tax_id: tax for tax_id, tax in rates.items() if tax}


@pytest.mark.parametrize("item_type", ["SHIPPING", "HANDLING"])
def test_a_charge_refunded_without_a_requested_amount_comes_back_as_charged(item_type):
    """requested_amount "may be null" (§15): the whole charge comes back on its own product and tax."""
    charge = ("10.83", "0.83")
    order = bc_order([bc_line("21.65", "1.65", 1, line_id=9)], total_inc="32.48", total_tax="2.48",
                     **{item_type.lower(): charge})
    plan = build_return_plan(refund_with_tax([{"item_type": item_type, "item_id": 1, "requested_amount": None}],
                                             "10.83", "0.83"), plan_of(order), SPECIALS, "tax-0")
    [line] = plan.lines
    assert (line.kind, line.quantity, line.unit_price, line.unit_tax) == (item_type.lower(), -1, D("10.00"),
                                                                         D("0.83"))
    assert plan.adjustment == 0


def test_a_coupons_share_comes_back_at_the_rate_it_was_taken_at():
    """3 tees at 22.00 (10 % tax) with a 10 % order coupon: one returned gives back 19.80, tax 1.80."""
    order = bc_order([bc_line("66.00", "6.00", 3, line_id=9, discounted="59.40", discounts=[("order", "6.00")])],
                     total_inc="59.40", total_tax="5.40")
    plan = build_return_plan(refund_with_tax([{"item_type": "PRODUCT", "item_id": 9, "quantity": 1}], "19.80", "1.80"),
                             plan_of(order), SPECIALS, "tax-0")
    units, share = plan.lines
    assert (share.sku, share.unit_price, share.unit_tax, share.tax_id) == ("bc-refund", D("-2.00"), D("-0.20"),
                                                                           units.tax_id)
    assert sum(-l.quantity * (l.unit_price + l.unit_tax) for l in plan.lines) == D("19.80")
    assert by_rate(plan.lines) == {units.tax_id: D("1.80")}


def test_an_override_of_a_units_price_gives_back_the_tax_bigcommerce_did():
    order = bc_order([bc_line("21.65", "1.65", 1, line_id=9)], total_inc="21.65", total_tax="1.65")
    plan = build_return_plan(refund_with_tax([{"item_type": "PRODUCT", "item_id": 9, "quantity": 1,
                                               "requested_amount": "15.00"}], "15.00", "1.14"),
                             plan_of(order), SPECIALS, "tax-0")
    assert sum(-l.quantity * (l.unit_price + l.unit_tax) for l in plan.lines) == D("15.00")
    assert sum(by_rate(plan.lines).values()) == D("1.14")


@pytest.mark.parametrize("tax", [None, "4.00"], ids=["tax-not-given", "order-level-amount"])
def test_an_order_level_amount_that_changes_no_tax_stays_untaxed(tax):
    plan = build_return_plan(refund_with_tax([{"item_type": "PRODUCT", "item_id": 9, "quantity": 2},
                                              {"item_type": "ORDER", "item_id": 4242, "requested_amount": "3.00"}],
                                             "47.00", tax), three_tees(), SPECIALS, "tax-0")
    units, goodwill = plan.lines
    assert (goodwill.unit_price, goodwill.unit_tax, goodwill.tax_id) == (D("3.00"), D(0), "tax-0")


def test_money_back_on_a_line_without_a_unit_returned_is_on_the_refund_product_at_its_rate():
    """5.41 back on a tee (8.25 % tax) and no unit returned: the refund product, 5.00 + 0.41 tax, at
    the tee's rate; stock unchanged. Without the refund's tax, or with a tax no rate explains, it is
    still a person's to record."""
    order = bc_order([bc_line("21.65", "1.65", 1, line_id=9)], total_inc="21.65", total_tax="1.65")
    item = {"item_type": "PRODUCT", "item_id": 9, "quantity": 0, "requested_amount": "5.41"}
    plan = build_return_plan(refund_with_tax([item], "5.41", "0.41"), plan_of(order), SPECIALS, "tax-0")
    [money] = plan.lines
    sold = plan_of(order).lines[0]
    assert (money.sku, money.quantity, money.unit_price, money.unit_tax, money.tax_id) == (
        "bc-refund", -1, D("5.00"), D("0.41"), sold.tax_id)
    assert not money.track_inventory
    for tax in (None, "2.00"):
        with pytest.raises(MappingError, match="without returning a unit"):
            build_return_plan(refund_with_tax([item], "5.41", tax), plan_of(order), SPECIALS, "tax-0")


def two_addresses(first_id: int = 1):
    """Shipping 10.00 + 0.50 (5 %) to one address and 10.00 + 2.00 (20 %) to address 2."""
    from connector.clients.bigcommerce_order_parts import ShippingAddress

    order = bc_order([bc_line("12.00", "2.00", 1, line_id=9)], total_inc="34.50", total_tax="4.50",
                     shipping=("22.50", "2.50"))
    return plan_of(order.model_copy(update={"shipping_addresses": [
        ShippingAddress(id=first_id, cost_inc_tax=D("10.50"), cost_tax=D("0.50")),
        ShippingAddress(id=2, cost_inc_tax=D("12.00"), cost_tax=D("2.00"))]}))


@pytest.mark.parametrize("amount, ex_tax, tax", [("12.00", "10.00", "2.00"), ("6.00", "5.00", "1.00"),
                                                 (None, "10.00", "2.00")])
def test_a_shipping_refund_comes_back_at_the_rate_of_the_address_it_names(amount, ex_tax, tax):
    """§15: a SHIPPING item names its address (consignment). Address 2 was charged 20 %: its refund,
    whole, part or without a requested amount, is at 20 %, not at the first address's 5 %."""
    plan = build_return_plan(refund_with_tax([{"item_type": "SHIPPING", "item_id": 2, "requested_amount": amount}],
                                             "12.00" if amount is None else amount, tax),
                             two_addresses(), SPECIALS, "tax-0")
    [line] = plan.lines
    assert (line.kind, line.unit_price, line.unit_tax, line.tax_id) == ("shipping", D(ex_tax), D(tax), "t-20")
    assert plan.adjustment == 0


def test_an_address_id_that_is_also_an_order_products_is_not_a_unit_of_it():
    """Address 9's shipping line is named 9 too: a product refund of order product 9 counts only the
    product's units (one sold), never the shipping line as a second one."""
    plan = build_return_plan(refund([{"item_type": "PRODUCT", "item_id": 9, "quantity": 1}], "12.00"),
                             two_addresses(first_id=9), SPECIALS, "tax-0")
    [line] = plan.lines
    assert (line.kind, line.sku, line.quantity) == ("product", "TEE-M", -1)
    with pytest.raises(MappingError, match="more than the sale sold"):
        build_return_plan(refund([{"item_type": "PRODUCT", "item_id": 9, "quantity": 2}], "24.00"),
                          two_addresses(first_id=9), SPECIALS, "tax-0")


def test_a_fee_refund_comes_back_at_the_rate_of_the_fee_of_that_amount():
    """A FEE item names the order, not the fee: of two fees at 5 % and 20 %, the one charged exactly
    the amount given back tells the rate."""
    order = bc_order([bc_line("12.00", "2.00", 1, line_id=9)], total_inc="34.50", total_tax="4.50",
                     fees=[bc_fee("10.50", "0.50", fee_id=1), bc_fee("12.00", "2.00", fee_id=2, name="Insurance")])
    plan = build_return_plan(refund_with_tax([{"item_type": "FEE", "item_id": 4242, "requested_amount": "12.00"}],
                                             "12.00", "2.00"), plan_of(order), SPECIALS, "tax-0")
    [line] = plan.lines
    assert (line.kind, line.unit_price, line.unit_tax, line.tax_id) == ("fee", D("10.00"), D("2.00"), "t-20")


def test_a_fee_refund_of_several_fees_at_once_comes_back_at_each_fee_s_rate():
    """Both fees refunded in one FEE item (22.50, no fee of that amount): each fee comes back whole at
    its own rate (0.50 and 2.00 of tax), not 22.50 at the first fee's 5 %."""
    order = bc_order([bc_line("12.00", "2.00", 1, line_id=9)], total_inc="34.50", total_tax="4.50",
                     fees=[bc_fee("10.50", "0.50", fee_id=1), bc_fee("12.00", "2.00", fee_id=2, name="Insurance")])
    plan = build_return_plan(refund_with_tax([{"item_type": "FEE", "item_id": 4242, "requested_amount": "22.50"}],
                                             "22.50", "2.50"), plan_of(order), SPECIALS, "tax-0")
    assert sorted((l.kind, l.quantity, l.unit_price, l.unit_tax, l.tax_id) for l in plan.lines) == [
        ("fee", -1, D("10.00"), D("0.50"), "t-5"), ("fee", -1, D("10.00"), D("2.00"), "t-20")]
    assert plan.adjustment == 0


def test_a_fee_refund_without_a_requested_amount_gives_back_the_refund_s_total_not_every_fee():
    """requested_amount "may be null" (§15): a refund of 12.00 whose only item is a FEE without an
    amount gives back the fee of 12.00 at its 20 %, not both fees and a negative balancing line."""
    order = bc_order([bc_line("12.00", "2.00", 1, line_id=9)], total_inc="34.50", total_tax="4.50",
                     fees=[bc_fee("10.50", "0.50", fee_id=1), bc_fee("12.00", "2.00", fee_id=2, name="Insurance")])
    plan = build_return_plan(refund_with_tax([{"item_type": "FEE", "item_id": 4242, "requested_amount": None}],
                                             "12.00", "2.00"), plan_of(order), SPECIALS, "tax-0")
    [line] = plan.lines
    assert (line.kind, line.quantity, line.unit_price, line.unit_tax, line.tax_id) == (
        "fee", -1, D("10.00"), D("2.00"), "t-20")
    assert plan.adjustment == 0


def test_a_fee_without_a_requested_amount_beside_a_known_item_is_the_rest_of_the_refund():
    """A unit of 12.00 given back by amount and a FEE without one in a refund of 22.50: the fee is
    the 10.50 left, the fee charged that at 5 %."""
    order = bc_order([bc_line("12.00", "2.00", 1, line_id=9)], total_inc="34.50", total_tax="4.50",
                     fees=[bc_fee("10.50", "0.50", fee_id=1), bc_fee("12.00", "2.00", fee_id=2, name="Insurance")])
    plan = build_return_plan(refund_with_tax(
        [{"item_type": "PRODUCT", "item_id": 9, "quantity": 1, "requested_amount": "12.00"},
         {"item_type": "FEE", "item_id": 4242, "requested_amount": None}], "22.50", "2.50"),
        plan_of(order), SPECIALS, "tax-0")
    fees = [(l.quantity, l.unit_price, l.unit_tax, l.tax_id) for l in plan.lines if l.kind == "fee"]
    assert fees == [(-1, D("10.00"), D("0.50"), "t-5")]
    assert plan.adjustment == 0


def test_shipping_refunds_of_two_addresses_without_amounts_each_come_back_at_their_own_rate():
    """Two SHIPPING items, one per address, neither with a requested amount: each gives back what its
    own address was charged, at its rate. What the first gave back is not taken off the second's (it
    was another address's charge), nor does the second end on the refund product."""
    plan = build_return_plan(refund_with_tax([{"item_type": "SHIPPING", "item_id": 1, "requested_amount": None},
                                              {"item_type": "SHIPPING", "item_id": 2, "requested_amount": None}],
                                             "22.50", "2.50"), two_addresses(), SPECIALS, "tax-0")
    assert [(l.kind, l.unit_price, l.unit_tax, l.tax_id) for l in plan.lines] == [
        ("shipping", D("10.00"), D("0.50"), "t-5"), ("shipping", D("10.00"), D("2.00"), "t-20")]
    assert plan.adjustment == 0
