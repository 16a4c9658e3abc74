"""build_sale_plan: the pure order → SalePlan function (Decimal math, no I/O)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
from order_shapes import bc_fee, bc_line, bc_order, plan_of, totals

from connector.errors import MappingError
from connector.mapping import sale_plan
from connector.mapping.identity import order_content_hash
from connector.mapping.planned_sale import custom_product_sku
from connector.mapping.status_table import PosState

D = Decimal


def test_simple_order_one_line_per_item():
    plan = plan_of(bc_order([bc_line("22.00", "2.00", 2)], total_inc="22.00", total_tax="2.00"))
    assert plan.invoice_number == "BC-4242" and plan.pos_state is PosState.CLOSED and not plan.unpaid
    [li] = plan.lines
    assert (li.quantity, li.unit_price, li.unit_tax, li.sku, li.kind) == (2, D("10.00"), D("1.00"), "TEE-M", "product")
    assert (li.tax_id, li.tax_source) == ("t-10", "rate")
    assert totals(plan) == (D("22.00"), D("2.00"))


@pytest.mark.parametrize("places,expected", [
    (5, [(3, D("8.33333"), D("0.83333"))]),
    (2, [(1, D("8.33"), D("0.84")), (1, D("8.33"), D("0.83")), (1, D("8.34"), D("0.83"))]),
])
def test_units_that_the_precision_cannot_carry_are_split(monkeypatch, places, expected):
    # 3 × 10.00 + 10 % tax, less a 5.00 product discount: 25.00 + 2.50 tax over 3 units. At five
    # places the rounding drift (3 × 0.00001) stays far below a cent; at two it would not.
    monkeypatch.setattr(sale_plan, "PRICE_PLACES", places)
    line = bc_line("33.00", "3.00", 3, discounted="27.50", discounts=[("product", "5.00")])
    plan = plan_of(bc_order([line], total_inc="27.50", total_tax="2.50"))
    assert [(li.quantity, li.unit_price, li.unit_tax) for li in plan.lines] == expected
    inc, tax = totals(plan)
    assert (inc.quantize(D("0.01")), tax.quantize(D("0.01"))) == (D("27.50"), D("2.50"))
    if places == 2:
        assert (inc, tax) == (D("27.50"), D("2.50"))


def test_the_tax_rounding_residue_goes_to_the_most_taxed_line_and_ex_tax_prices_stay():
    # A tax-exclusive store: the ex-tax prices are exact. Each line's tax rounds up (0.335 → 0.34)
    # but the order's tax was rounded once: 1.00. The cent comes off the first most-taxed line (A).
    lines = [bc_line("3.685", "0.335", line_id=1, sku="A"), bc_line("3.685", "0.335", line_id=2, sku="B"),
             bc_line("7.37", "0.33", line_id=3, sku="C")]
    plan = plan_of(bc_order(lines, total_inc="14.74", total_tax="1.00"))
    assert totals(plan) == (D("14.74"), D("1.00"))
    by_sku = {li.sku: (li.unit_price, li.unit_tax) for li in plan.lines}
    assert by_sku == {"A": (D("3.35"), D("0.33")), "B": (D("3.35"), D("0.34")), "C": (D("7.04"), D("0.33"))}


def test_inconsistent_order_is_refused_with_a_message_naming_it():
    with pytest.raises(MappingError) as caught:
        plan_of(bc_order([bc_line("50.00", "5.00")], total_inc="100.00", total_tax="5.00", order_id=777))
    message = str(caught.value)
    assert "order 777" in message and "100.00" in message and "inconsistent" in message
    assert caught.value.order_id == 777


def test_unknown_status_is_refused_naming_the_order():
    with pytest.raises(MappingError, match=r"order 31: unknown BigCommerce status id 15"):
        plan_of(bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0", status_id=15, order_id=31))


def test_special_lines_are_untracked_and_zero_costs_leave_no_line():
    order = bc_order([bc_line("11.00", "1.00")], total_inc="25.30", total_tax="2.30",
                     shipping=("8.80", "0.80"), wrapping=("5.50", "0.50"))
    plan = plan_of(order)
    kinds = {li.kind: li for li in plan.lines}
    assert set(kinds) == {"product", "shipping", "wrapping"}
    assert kinds["shipping"].sku == "bc-shipping" and kinds["shipping"].product_key == "special:shipping"
    assert not kinds["shipping"].track_inventory and not kinds["wrapping"].track_inventory
    assert kinds["product"].track_inventory
    assert (kinds["wrapping"].unit_price, kinds["wrapping"].unit_tax) == (D("5.00"), D("0.50"))
    assert {li.tax_id for li in plan.lines} == {"t-10"}
    assert totals(plan) == (D("25.30"), D("2.30"))


def test_custom_lines_get_stable_skus_and_are_not_stock_tracked():
    with_sku = bc_line("5.00", "0", product_id=0, sku=" CUSTOM-PRINT ", name="Custom print")
    without = bc_line("4.50", "0", product_id=0, sku="", name="Gift engraving", line_id=2)
    plan = plan_of(bc_order([with_sku, without], total_inc="9.50", total_tax="0"))
    assert [(li.kind, li.sku, li.product_key, li.track_inventory) for li in plan.lines] == [
        ("custom", "CUSTOM-PRINT", "custom:custom-print", False),
        ("custom", custom_product_sku("Gift engraving"), "custom:" + custom_product_sku("gift engraving"), False),
    ]
    assert custom_product_sku(" GIFT engraving ") == custom_product_sku("Gift engraving")
    assert {(li.tax_id, li.tax_source) for li in plan.lines} == {("t-none", "none")}


@pytest.mark.parametrize("status_id,payment_status,unpaid", [
    (7, "pending", True), (11, "pending", True), (11, "captured", False), (2, "", False), (5, "void", True),
])
def test_unpaid_orders(status_id, payment_status, unpaid):
    plan = plan_of(bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0", status_id=status_id,
                            payment_status=payment_status))
    assert plan.unpaid is unpaid


def test_order_without_email_plans_no_customer():
    plan = plan_of(bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0", email="  "))
    assert plan.customer.email is None and plan.customer.email_key is None


def test_content_hash_follows_what_the_sale_depends_on():
    base = bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0")
    same = bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0")
    assert order_content_hash(base) == order_content_hash(same)
    same.status = "Renamed label"  # a custom label is not worth a write
    assert order_content_hash(base) == order_content_hash(same)
    for change in ({"status_id": 2}, {"total_inc_tax": D("2.00")}, {"payment_status": "refunded"},
                   {"gift_certificate_amount": D("0.50")},
                   {"fees": bc_order([], total_inc="0", total_tax="0", fees=[bc_fee("0.10", "0")]).fees}):
        other = bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0")
        for key, value in change.items():
            setattr(other, key, value)
        assert order_content_hash(other) != order_content_hash(base), change


def test_tax_residue_never_makes_a_tax_exempt_line_taxed():
    """The tax residue goes to a taxed line: a tax-exempt line (here the largest) keeps zero tax."""
    lines = [bc_line("100.00", "0", sku="EXEMPT", line_id=1), bc_line("1.105", "0.105", sku="A", line_id=2),
             bc_line("1.105", "0.105", sku="B", line_id=3)]
    plan = plan_of(bc_order(lines, total_inc="102.21", total_tax="0.21"))
    assert totals(plan) == (D("102.21"), D("0.21"))
    by_sku = {li.sku: li for li in plan.lines}
    assert by_sku["EXEMPT"].unit_tax == 0 and by_sku["EXEMPT"].tax_id == "t-none"
    assert all(li.unit_tax >= 0 for li in plan.lines)


def test_the_content_hash_is_the_sha256_of_the_sorted_json_of_what_the_sale_depends_on():
    """Stored in every binding: the same text as json.dumps(…, sort_keys=True) ever gave (an order
    without fees, gift certificates or store credit hashes as it did before they were mirrored)."""
    order = bc_order([bc_line("21.65", "1.65", 2, name="Tée ✓")], total_inc="21.65", total_tax="1.65")
    payload = {
        "status": 11, "total_inc_tax": "21.65", "total_tax": "1.65", "payment_method": "Credit Card",
        "payment_status": "captured", "email": "jane@example.com",
        "lines": [[1, 111, 0, "TEE-M", 2, "21.65"]], "costs": ["0", "0", "0"],
    }
    assert order_content_hash(order) == hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def test_a_line_with_no_units_is_refused():
    with pytest.raises(MappingError, match=r"order 9: line 'TEE-M' has quantity 0"):
        plan_of(bc_order([bc_line("0", "0", 0)], total_inc="0", total_tax="0", order_id=9))


def test_a_digital_product_is_created_without_stock_to_move():
    order = bc_order([bc_line("22.00", "2.00", 1, line_id=1), bc_line("10.00", "0", 1, line_id=2, sku="EBOOK-1",
                                                                      product_id=222, type="digital")],
                     total_inc="32.00", total_tax="2.00")
    tee, ebook = plan_of(order).lines
    assert (tee.sku, tee.track_inventory) == ("TEE-M", True)
    assert (ebook.sku, ebook.track_inventory) == ("EBOOK-1", False)


@pytest.mark.parametrize("inclusive", [False, True], ids=["prices-ex-tax", "prices-inc-tax"])
def test_a_line_with_applied_discounts_but_no_discounted_total_is_discounted_by_them(inclusive):
    """The reference's own example line (§4): 65.23 with 9.24 tax, applied_discounts 1.59 (order),
    no discounted_total_inc_tax; the order's totals have the discount. In the store's pricing mode."""
    discount = "1.59" if not inclusive else "1.85"
    line = bc_line("65.23", "9.24", 1, discounts=[("order", discount)])
    plan = plan_of(bc_order([line], total_inc="63.38", total_tax="8.98", inclusive=inclusive))
    tee, share = plan.lines
    assert (tee.unit_price, tee.unit_tax) == (D("55.99"), D("9.24"))
    assert share.kind == "discount" and totals(plan) == (D("63.38"), D("8.98"))


def test_a_coupon_the_lines_do_not_show_is_a_discount_line_not_a_price_cut():
    """Ten lines of 10.00 and a 0.10 coupon shown on no line (coupon_discount only): the lines keep
    their prices and the coupon is a discount line (it once went, silently, into one line's price)."""
    lines = [bc_line("10.00", "0", 1, line_id=i, sku=f"S{i}", product_id=100 + i) for i in range(1, 11)]
    plan = plan_of(bc_order(lines, total_inc="99.90", total_tax="0", coupon_discount="0.10"))
    assert [line.unit_price for line in plan.lines if line.kind == "product"] == [D("10.00")] * 10
    [coupon] = [line for line in plan.lines if line.kind == "discount"]
    assert (coupon.quantity, coupon.unit_price, coupon.unit_tax) == (-1, D("0.10"), D(0))
    assert totals(plan) == (D("99.90"), D("0"))


def test_a_free_shipping_coupon_on_charged_shipping_is_a_discount_at_the_shippings_rate():
    """Shipping 10.83 (0.83 tax at 8.25 %) charged, then taken off by a free-shipping coupon: the
    order's total is the line alone. Shipping and a discount of the same amount and rate."""
    order = bc_order([bc_line("21.65", "1.65", 1)], total_inc="21.65", total_tax="1.65", shipping=("10.83", "0.83"),
                     coupon_discount="10.83")
    plan = plan_of(order)
    shipping = next(line for line in plan.lines if line.kind == "shipping")
    [coupon] = [line for line in plan.lines if line.kind == "discount"]
    assert (shipping.unit_price, shipping.unit_tax) == (D("10.00"), D("0.83"))
    assert (coupon.unit_price, coupon.unit_tax, coupon.tax_id) == (D("10.00"), D("0.83"), shipping.tax_id)
    assert totals(plan) == (D("21.65"), D("1.65"))


def test_a_gap_no_discount_explains_is_still_an_inconsistent_order():
    with pytest.raises(MappingError, match="inconsistent"):
        plan_of(bc_order([bc_line("21.65", "1.65", 1)], total_inc="11.65", total_tax="1.65", coupon_discount="2.00"))


def test_a_line_a_product_discount_made_free_keeps_its_products_tax():
    free = bc_line("21.65", "1.65", 1, line_id=2, sku="GIFT-TEE", product_id=333, discounted="0",
                   discounts=[("product", "20.00")])
    plan = plan_of(bc_order([bc_line("21.65", "1.65", 1), free], total_inc="21.65", total_tax="1.65"))
    paid, gift = plan.lines
    assert (gift.sku, gift.unit_price, gift.unit_tax) == ("GIFT-TEE", D(0), D(0))
    assert gift.tax_id == paid.tax_id != "t-none"


def test_a_tax_residue_goes_to_the_rate_whose_rounding_made_it():
    """20 %: 10.00 + 2.00; 5 %: two lines of 10.30 + 0.515. BigCommerce's order tax is 3.03; the
    lines round to 2.00 + 0.52 + 0.52 = 3.04. The cent comes off a 5 % line (which rounded it up),
    so each rate's tax is its own: 2.00 at 20 %, 1.03 at 5 %."""
    lines = [bc_line("12.00", "2.00", 1, line_id=1, sku="A", product_id=1),
             bc_line("10.815", "0.515", 1, line_id=2, sku="B", product_id=2),
             bc_line("10.815", "0.515", 1, line_id=3, sku="C", product_id=3)]
    plan = plan_of(bc_order(lines, total_inc="33.63", total_tax="3.03"))
    by_rate: dict[str, Decimal] = {}
    for line in plan.lines:
        by_rate[line.tax_id] = by_rate.get(line.tax_id, D(0)) + line.quantity * line.unit_tax
    assert by_rate == {"t-20": D("2.00"), "t-5": D("1.03")}
    assert totals(plan) == (D("33.63"), D("3.03"))


def test_shipping_to_two_addresses_taxed_at_two_rates_is_a_line_per_address():
    """Shipping 10.00 + 0.50 (5 %) to one address and 10.00 + 2.00 (20 %) to another: a shipping
    line each, at its own rate, not one line of 20.00 + 2.50 on one tax."""
    from connector.clients.bigcommerce_order_parts import ShippingAddress

    order = bc_order([bc_line("12.00", "2.00", 1)], total_inc="34.50", total_tax="4.50", shipping=("22.50", "2.50"))
    order = order.model_copy(update={"shipping_addresses": [
        ShippingAddress(id=1, cost_inc_tax=D("10.50"), cost_tax=D("0.50")),
        ShippingAddress(id=2, cost_inc_tax=D("12.00"), cost_tax=D("2.00"))]})
    shipping = [(line.unit_price, line.unit_tax, line.tax_id) for line in plan_of(order).lines if line.kind == "shipping"]
    assert shipping == [(D("10.00"), D("0.50"), "t-5"), (D("10.00"), D("2.00"), "t-20")]
    # Addresses that do not add up to the order's shipping (or give no cost): one line, as before.
    order = order.model_copy(update={"shipping_addresses": [ShippingAddress(id=1, cost_inc_tax=D("10.50"),
                                                                            cost_tax=D("0.50")), ShippingAddress(id=2)]})
    assert len([line for line in plan_of(order).lines if line.kind == "shipping"]) == 1


def test_with_an_order_discount_each_rate_keeps_its_own_tax_rounding_cent():
    """8.25 %: 1.11 + 0.0916; 5 %: 10.83 + 0.5415; 1.00 off the order (0.09 and 0.91). After it
    BigCommerce taxes the lines 0.0842 and 0.4960: 0.08 at 8.25 % and 0.50 at 5 %, 0.58 in all.
    Rounded per line (0.09 − 0.01 and 0.54 − 0.05) the sale misses a cent, the 5 % rate's: it goes
    there, not to the 8.25 % line whose rounding went furthest (which gave 0.09 and 0.49)."""
    lines = [bc_line("1.2016", "0.0916", 1, line_id=1, sku="A", product_id=1, discounted="1.1042",
                     discounts=[("order", "0.09")]),
             bc_line("11.3715", "0.5415", 1, line_id=2, sku="B", product_id=2, discounted="10.416",
                     discounts=[("order", "0.91")])]
    plan = plan_of(bc_order(lines, total_inc="11.52", total_tax="0.58", discount_amount="1.00"))
    by_rate: dict[str, Decimal] = {}
    for line in plan.lines:
        by_rate[line.tax_id] = by_rate.get(line.tax_id, D(0)) + line.quantity * line.unit_tax
    assert by_rate == {"t-825": D("0.08"), "t-5": D("0.50")}
    assert totals(plan) == (D("11.52"), D("0.58"))
