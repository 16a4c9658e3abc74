"""Issue 15, point by point: what lands in X-Series is what the merchant's accountant expects."""

from __future__ import annotations

from decimal import Decimal

import pytest
from order_shapes import TAXES, bc_fee, bc_line, bc_order, plan_of, totals

from connector.errors import MappingError
from connector.mapping import sale_plan
from connector.mapping.planned_sale import PlannedPayment
from connector.mapping.tax_table import TaxBook

D = Decimal


# -- 1. tenders ---------------------------------------------------------------------------------

def test_gift_certificate_and_card_are_two_payments():
    order = bc_order([bc_line("100.00", "0")], total_inc="100.00", total_tax="0", gift="30.0000")
    assert plan_of(order).payments == (PlannedPayment("gift_certificate", "", D("30.00")),
                                       PlannedPayment("method", "Credit Card", D("70.00")))


def test_store_credit_gift_certificate_and_method_add_up_to_the_total():
    order = bc_order([bc_line("80.00", "0")], total_inc="80.00", total_tax="0", gift="25.00", credit="15.50",
                     method="PayPal")
    payments = plan_of(order).payments
    assert [(p.tender, p.method, p.amount) for p in payments] == [
        ("gift_certificate", "", D("25.00")), ("store_credit", "", D("15.50")), ("method", "PayPal", D("39.50"))]
    assert sum(p.amount for p in payments) == D("80.00")


def test_an_order_paid_entirely_by_gift_certificate_has_no_method_payment():
    order = bc_order([bc_line("40.00", "0")], total_inc="40.00", total_tax="0", gift="40.00")
    assert plan_of(order).payments == (PlannedPayment("gift_certificate", "", D("40.00")),)


def test_certificates_and_credit_above_the_total_are_refused_readably():
    order = bc_order([bc_line("40.00", "0")], total_inc="40.00", total_tax="0", gift="30.00", credit="20.00",
                     order_id=12)
    with pytest.raises(MappingError, match=r"order 12: gift certificates \(30.00\) and store credit \(20.00\)"
                                           r" paid 50.00, more than the order's total \(40.00\)"):
        plan_of(order)


# -- 2. discounts -------------------------------------------------------------------------------

def test_a_product_level_discount_stays_on_its_line_at_the_price_as_sold():
    # List 100.00 + 10 % tax, a 27.27 promotion on the product: sold at 72.73.
    line = bc_line("220.00", "20.00", 2, base_price="100.00", discounted="160.006",
                   discounts=[("product", "54.54")])
    plan = plan_of(bc_order([line], total_inc="160.01", total_tax="14.55"))
    [li] = plan.lines
    assert (li.quantity, li.unit_price, li.unit_discount, li.list_price) == (2, D("72.73"), D("27.27"), D("100.00"))
    assert not [x for x in plan.lines if x.kind == "discount"]
    assert totals(plan)[0] == D("160.01")


def test_an_order_level_discount_over_two_rates_is_one_discount_line_per_rate():
    # 15.00 off the order, spread in proportion to the lines' ex-tax prices (10.00 and 5.00).
    standard = bc_line("120.00", "20.00", sku="A", line_id=1, discounted="108.00", discounts=[("order", "10.00")])
    reduced = bc_line("52.50", "2.50", sku="B", line_id=2, discounted="47.25", discounts=[("order", "5.00")])
    plan = plan_of(bc_order([standard, reduced], total_inc="155.25", total_tax="20.25"))
    products = [(li.sku, li.unit_price, li.unit_tax, li.tax_id) for li in plan.lines if li.kind == "product"]
    assert products == [("A", D("100.00"), D("20.00"), "t-20"), ("B", D("50.00"), D("2.50"), "t-5")]
    discounts = sorted((li.tax_id, li.quantity, li.unit_price, li.unit_tax, li.product_key, li.track_inventory)
                       for li in plan.lines if li.kind == "discount")
    assert discounts == [("t-20", -1, D("10.00"), D("2.00"), "special:discount", False),
                         ("t-5", -1, D("5.00"), D("0.25"), "special:discount", False)]
    assert totals(plan) == (D("155.25"), D("20.25"))


def test_a_coupon_in_a_tax_inclusive_store_removes_its_share_of_tax():
    # £60.00 incl. 20 % VAT, a £6.00 coupon (an order-level discount incl. tax).
    line = bc_line("60.00", "10.00", discounted="54.00", discounts=[("order", "6.00")])
    plan = plan_of(bc_order([line], total_inc="54.00", total_tax="9.00", inclusive=True))
    [product, discount] = plan.lines
    assert (product.unit_price + product.unit_tax, discount.unit_price, discount.unit_tax) == (
        D("60.00"), D("5.00"), D("1.00"))
    assert totals(plan) == (D("54.00"), D("9.00"))


def test_a_discount_bigcommerce_does_not_describe_is_taken_as_order_level():
    # 3 × 10.00 + 10 % tax; 5.00 incl. tax off, with no applied_discounts to say which kind.
    plan = plan_of(bc_order([bc_line("33.00", "3.00", 3, discounted="28.00")], total_inc="28.00", total_tax="2.55"))
    assert [(li.kind, li.quantity, li.unit_price, li.unit_tax, li.unit_discount) for li in plan.lines] == [
        ("product", 3, D("10.00"), D("1.00"), D("0")), ("discount", -1, D("4.55"), D("0.45"), D("0"))]
    assert totals(plan) == (D("28.00"), D("2.55"))


# -- 3. tax by rate -----------------------------------------------------------------------------

def test_a_20_and_a_5_percent_line_carry_different_taxes():
    lines = [bc_line("12.00", "2.00", sku="A", line_id=1), bc_line("10.50", "0.50", sku="B", line_id=2)]
    plan = plan_of(bc_order(lines, total_inc="22.50", total_tax="2.50"))
    assert [(li.sku, li.tax_id, li.tax_source) for li in plan.lines] == [("A", "t-20", "rate"), ("B", "t-5", "rate")]


def test_without_a_matching_rate_the_tax_class_then_the_default_decide():
    book = TaxBook(TAXES.taxes, TAXES.default_id, TAXES.zero_id, by_class={2: "t-15"})
    # Shipping (class 2) and wrapping (class 3) at 7 %, a rate X-Series does not have.
    order = bc_order([bc_line("10.00", "0")], total_inc="31.40", total_tax="1.40",
                     shipping=("10.70", "0.70"), wrapping=("10.70", "0.70"))
    lines = {li.kind: (li.tax_id, li.tax_source) for li in plan_of(order, taxes=book).lines}
    assert lines == {"product": ("t-none", "none"), "shipping": ("t-15", "class"), "wrapping": ("t-20", "default")}


def test_rates_fit_within_what_rounding_to_the_cent_allows():
    # 0.04 at 20 % is 0.008, sent as 0.01: 20 % fits, 5 % (0.002) does not.
    assert TAXES.pick(D("0.04"), D("0.01"), None) == ("t-20", "rate")
    assert TAXES.pick(D("100.00"), D("8.25"), None) == ("t-825", "rate")
    assert TAXES.pick(D("100.00"), D("7.00"), None) == ("t-20", "default")
    assert TAXES.pick(D("100.00"), D("0"), None) == ("t-none", "none")


# -- 4. tax-inclusive exactness -----------------------------------------------------------------

@pytest.mark.parametrize("places", [5, 2])
def test_three_times_ten_pounds_incl_vat_every_unit_sums_to_ten(monkeypatch, places):
    monkeypatch.setattr(sale_plan, "PRICE_PLACES", places)
    line = bc_line("30.00", "5.0000", 3, base_price="10.00")
    plan = plan_of(bc_order([line], total_inc="30.00", total_tax="5.00", inclusive=True))
    assert sum(li.quantity for li in plan.lines) == 3
    assert {li.unit_price + li.unit_tax for li in plan.lines} == {D("10.00")}
    assert all(li.unit_tax.as_tuple().exponent >= -places for li in plan.lines)
    inc, tax = totals(plan)
    assert inc == D("30.00") and tax.quantize(D("0.01")) == D("5.00")
    assert len(plan.lines) == (1 if places == 5 else 2)


# -- 5. products as the catalogue has them ------------------------------------------------------

def test_variants_are_named_by_their_options_and_keep_their_family():
    small = bc_line("30.00", "0", product_id=600, variant_id=7, sku="OX-S", name="Oxford Shirt", line_id=1,
                    options=[("Size", "S")])
    large = bc_line("30.00", "0", product_id=600, variant_id=8, sku="", name="Oxford Shirt", line_id=2,
                    options=[("Size", "L"), ("Colour", "Blue")])
    plan = plan_of(bc_order([small, large], total_inc="60.00", total_tax="0"))
    assert [(li.name, li.family_name, li.options, li.sku, li.product_key) for li in plan.lines] == [
        ("Oxford Shirt / S", "Oxford Shirt", (("Size", "S"),), "OX-S", "sku:ox-s"),
        ("Oxford Shirt / L / Blue", "Oxford Shirt", (("Size", "L"), ("Colour", "Blue")), "bc-600-8", "bc:600:8"),
    ]


def test_catalogue_products_without_sku_are_keyed_by_ids_never_by_name():
    lines = [bc_line("5.00", "0", product_id=501, sku="", name="Mystery Box", line_id=1),
             bc_line("7.00", "0", product_id=502, sku="", name="Mystery Box", line_id=2)]
    plan = plan_of(bc_order(lines, total_inc="12.00", total_tax="0"))
    assert [(li.kind, li.product_key, li.sku, li.track_inventory, li.bc_product_id, li.family_name)
            for li in plan.lines] == [("product", "bc:501:0", "bc-501-0", True, 501, ""),
                                      ("product", "bc:502:0", "bc-502-0", True, 502, "")]


def test_gift_certificate_purchases_are_not_stock_tracked():
    line = bc_line("25.00", "0", product_id=0, sku="", name="$25 Gift Certificate", type="giftcertificate")
    [li] = plan_of(bc_order([line], total_inc="25.00", total_tax="0")).lines
    assert (li.kind, li.track_inventory, li.tax_id) == ("gift_certificate", False, "t-none")


def test_lines_carry_the_merchants_cost_and_the_list_price_mode():
    line = bc_line("24.00", "4.00", 2, base_price="12.00", cost="6.5000")
    no_cost = bc_line("12.00", "2.00", sku="B", line_id=2, cost="0.0000")
    plan = plan_of(bc_order([line, no_cost], total_inc="36.00", total_tax="6.00", inclusive=True))
    assert [(li.unit_cost, li.list_price, li.list_price_includes_tax) for li in plan.lines] == [
        (D("6.5"), D("12.00"), True), (None, D("10.00"), True)]


# -- 6. fees ------------------------------------------------------------------------------------

def test_fees_are_lines_on_the_fee_product_each_with_its_own_tax():
    fees = [bc_fee("3.00", "0.50", name="Package Protection"), bc_fee("0.10", "0", fee_id=2, name="Eco fee")]
    order = bc_order([bc_line("10.50", "0.50")], total_inc="13.60", total_tax="1.00", fees=fees)
    plan = plan_of(order)
    fee_lines = [(li.product_key, li.sku, li.unit_price, li.unit_tax, li.tax_id, li.track_inventory)
                 for li in plan.lines if li.kind == "fee"]
    assert fee_lines == [("special:fee", "bc-fee", D("2.50"), D("0.50"), "t-20", False),
                         ("special:fee", "bc-fee", D("0.10"), D("0"), "t-none", False)]
    assert [li.tax_id for li in plan.lines if li.kind == "product"] == ["t-5"]
    assert "Fee: Package Protection" in plan.note and "Fee: Eco fee" in plan.note
    assert totals(plan) == (D("13.60"), D("1.00"))


# -- 7. currency --------------------------------------------------------------------------------

def test_the_plan_names_the_orders_transactional_currency():
    order = bc_order([bc_line("10.00", "0")], total_inc="10.00", total_tax="0", default_currency_code="EUR")
    assert plan_of(order).currency == "EUR"
    order.default_currency_code = None
    assert plan_of(order).currency == ""


# -- 8. fulfilment ------------------------------------------------------------------------------

@pytest.mark.parametrize("consignments,status_id,digital,expected", [
    ({"shipping": [1, 2]}, 11, False, ("delivery",)),
    ({"pickups": [1, 2]}, 11, False, ("pickup",)),
    ({"shipping": [1, 2]}, 8, False, ("pickup",)),
    ({"shipping": [1], "pickups": [2]}, 11, False, ("delivery",)),
    ({"downloads": [1], "email": [2]}, 11, False, ()),
    (None, 11, True, ()),
    (None, 11, False, ("delivery",)),
])
def test_sales_carry_their_fulfilment_attribute(consignments, status_id, digital, expected):
    lines = [bc_line("10.00", "0", line_id=1), bc_line("5.00", "0", sku="B", line_id=2)]
    order = bc_order(lines, total_inc="15.00", total_tax="0", status_id=status_id, consignments=consignments,
                     order_is_digital=digital)
    assert plan_of(order).attributes == expected


def test_the_note_holds_shipping_method_address_and_the_customers_message():
    address = {"first_name": "Jane", "last_name": "Doe", "company": "", "street_1": "555 East Street",
               "street_2": "", "city": "Austin", "state": "Texas", "zip": "78108", "country": "United States",
               "shipping_method": "UPS Ground"}
    order = bc_order([bc_line("10.00", "0")], total_inc="10.00", total_tax="0", order_id=218,
                     consignments={"shipping": [1]}, ship_to=address, customer_message="Leave it at the door")
    assert plan_of(order).note.splitlines() == [
        "BigCommerce order #218", "Shipping: UPS Ground",
        "Ship to: Jane Doe, 555 East Street, Austin, Texas, 78108, United States",
        "Customer message: Leave it at the door"]


# -- 9. generations -----------------------------------------------------------------------------

def test_each_generation_has_its_own_source_id():
    order = bc_order([bc_line("10.00", "0")], total_inc="10.00", total_tax="0", order_id=123)
    assert [plan_of(order, g).source_id for g in (1, 2, 3)] == ["123", "123-2", "123-3"]
