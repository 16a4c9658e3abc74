"""A return's tax is split at the X-Series tax's own rate, not one read back from the sale's lines
rounded to cents: a single-rate coupon's share comes back taxed as BigCommerce taxed it."""
from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

from order_shapes import bc_fee, bc_line, bc_order, plan_of

from connector.clients.bigcommerce_v3_models import Refund
from connector.mapping.amounts import cents
from connector.mapping.return_plan import build_return_plan
from connector.mapping.special_lines import SpecialLine, SpecialLines, SpecialProduct

D = Decimal
SPECIALS = SpecialLines({kind: SpecialProduct(kind.value.title(), f"bc-{kind.value}") for kind in SpecialLine})
VAT = D("0.20")  # the "t-20" tax of order_shapes' tax book


def refund(items, total, tax):
    return Refund.model_validate({
        "id": 7, "order_id": 4242, "created": "2026-03-01T10:00:00Z", "total_amount": str(total),
        "total_tax": str(tax), "items": items, "payments": [{"provider_id": "gw", "amount": str(total)}]})


def given_back(plan):
    return (sum((-l.quantity * (l.unit_price + l.unit_tax) for l in plan.lines), D(0)),
            sum((-l.quantity * l.unit_tax for l in plan.lines), D(0)))


def test_a_single_rate_coupon_refund_gives_back_bigcommerces_vat():
    """20 % VAT, prices incl. tax: 2 × 25.79 with a 5 % coupon (2.58 off), shipping 3.76. Both units
    returned: BigCommerce gives back 49.00 of which 8.17 VAT (49.00 / 6), the coupon's share at 20 %."""
    order = bc_order([bc_line("51.58", "8.5967", 2, line_id=1, sku="S0", discounts=[("order", "2.58")],
                              discounted="49.00")],
                     total_inc="52.76", total_tax="8.79", inclusive=True, shipping=("3.76", "0.6267"),
                     coupon_discount="2.58")
    plan = build_return_plan(refund([{"item_type": "PRODUCT", "item_id": 1, "quantity": 2}], "49.00", "8.17"),
                             plan_of(order), SPECIALS, "t-none")
    assert given_back(plan) == (D("49.00"), D("8.17"))
    assert {line.tax_id for line in plan.lines} == {"t-20"}  # the coupon's share too, not untaxed


def test_refunds_of_single_rate_coupon_orders_give_back_bigcommerces_vat():
    """Many orders at one rate (20 %) with an order coupon, prices incl. or ex tax, and shipping;
    BigCommerce refunds some units of some lines (what was paid for them, tax at the rate, each
    rounded to cents) and perhaps the shipping. The return gives back its total, and its tax to a cent."""
    q4 = lambda v: v.quantize(D("0.0001"), ROUND_HALF_UP)  # noqa: E731 — BigCommerce's 4-place taxes
    failures = []
    for seed in range(1500):
        rng = random.Random(seed)
        inclusive = rng.random() < 0.5
        tax_of = (lambda a: q4(a * VAT / (1 + VAT))) if inclusive else (lambda a: q4(a * VAT))
        pct = D(rng.choice([5, 10, 15, 20, 25]))
        lines, paid_lines, coupon = [], [], D(0)
        for n in range(rng.randint(1, 3)):
            quantity, unit = rng.randint(1, 6), D(rng.randint(100, 5000)) / 100
            full = unit * quantity
            share = cents(full * pct / 100)
            paid = full - share
            full_tax, paid_tax = tax_of(full), tax_of(paid)
            lines.append(bc_line(full if inclusive else full + full_tax, full_tax, quantity, line_id=n + 1,
                                 sku=f"S{n}", product_id=10 + n, discounts=[("order", share)],
                                 discounted=paid if inclusive else paid + paid_tax))
            paid_lines.append((quantity, paid if inclusive else paid + paid_tax, paid_tax))
            coupon += share
        ship = D(rng.randint(0, 1500)) / 100
        ship_tax = tax_of(ship)
        ship_inc = ship if inclusive else ship + ship_tax
        order_tax = cents(sum((p[2] for p in paid_lines), D(0)) + ship_tax)
        order_total = cents(sum((p[1] for p in paid_lines), D(0)) + ship_inc)
        sale = plan_of(bc_order(lines, total_inc=order_total, total_tax=order_tax, inclusive=inclusive,
                                shipping=(ship_inc, ship_tax), coupon_discount=str(coupon)))
        items, total, tax = [], D(0), D(0)
        for n, (quantity, paid_inc, paid_tax) in enumerate(paid_lines):
            if rng.random() < 0.7:
                units = rng.randint(1, quantity)
                items.append({"item_type": "PRODUCT", "item_id": n + 1, "quantity": units})
                total += paid_inc * units / quantity
                tax += paid_tax * units / quantity
        if ship and rng.random() < 0.5:
            items.append({"item_type": "SHIPPING", "item_id": 0, "requested_amount": str(cents(ship_inc))})
            total += cents(ship_inc)
            tax += ship_tax
        if not items:
            continue
        total, tax = cents(total), cents(tax)
        back, tax_back = given_back(build_return_plan(refund(items, total, tax), sale, SPECIALS, "t-none"))
        if back != total or abs(tax_back - tax) > D("0.01"):
            failures.append((seed, total, tax, back, tax_back))
    assert not failures, f"{len(failures)} refunds, e.g. {failures[:3]}"


def two_fees_of_five_order():
    """Prices incl. tax: a 12.00 line (2.00 VAT), Package Protection 5.00 (20 % VAT, 0.8333) and an
    untaxed Donation 5.00: 22.00 with 2.83 VAT."""
    return bc_order([bc_line("12.00", "2.00", 1, line_id=1, sku="S0")], total_inc="22.00", total_tax="2.83",
                    inclusive=True, fees=[bc_fee("5.00", "0.8333", fee_id=1, name="Package Protection"),
                                          bc_fee("5.00", "0", fee_id=2, name="Donation")])


def fee_item(amount):
    return {"item_type": "FEE", "item_id": 4242, "requested_amount": amount}  # a fee item names the order


def test_two_fee_items_of_the_same_amount_give_back_both_fees():
    sale = plan_of(two_fees_of_five_order())
    plan = build_return_plan(refund([fee_item("5.00"), fee_item("5.00")], "10.00", "0.83"), sale, SPECIALS, "t-none")
    assert given_back(plan) == (D("10.00"), D("0.83"))
    assert sorted(line.tax_id for line in plan.lines) == ["t-20", "t-none"]  # each fee once, at its own tax


def test_a_fee_refund_without_tax_gives_back_the_untaxed_fee_of_that_amount():
    sale = plan_of(two_fees_of_five_order())
    plan = build_return_plan(refund([fee_item("5.00")], "5.00", "0.00"), sale, SPECIALS, "t-none")
    assert given_back(plan) == (D("5.00"), D("0.00"))
    assert [line.tax_id for line in plan.lines] == ["t-none"]


def test_a_fee_refund_with_its_tax_gives_back_the_taxed_fee_of_that_amount():
    sale = plan_of(two_fees_of_five_order())
    plan = build_return_plan(refund([fee_item("5.00")], "5.00", "0.83"), sale, SPECIALS, "t-none")
    assert given_back(plan) == (D("5.00"), D("0.83"))
    assert [line.tax_id for line in plan.lines] == ["t-20"]


def small_shipping_order():
    """Prices incl. tax, 20 % VAT: a 12.00 line (2.00 VAT) and 0.99 shipping (0.165 VAT), which the
    sale records as 0.82 + 0.17 (rounded to cents: 20.7 % read back from them)."""
    return bc_order([bc_line("12.00", "2.00", 1, line_id=1, sku="S0")], total_inc="12.99", total_tax="2.17",
                    inclusive=True, shipping=("0.99", "0.165"))


def shipping_item(amount):
    return {"item_type": "SHIPPING", "item_id": 0, "requested_amount": amount}


def test_part_of_a_shipping_charge_comes_back_with_the_vat_bigcommerce_gave_back():
    sale = plan_of(small_shipping_order())
    for amount, vat in (("0.50", "0.08"), ("0.60", "0.10"), ("0.45", "0.08")):  # 0.45 / 6 = 0.075
        plan = build_return_plan(refund([shipping_item(amount)], amount, vat), sale, SPECIALS, "t-none")
        assert given_back(plan) == (D(amount), D(vat)), amount
        assert [line.tax_id for line in plan.lines] == ["t-20"]


def test_part_of_a_shipping_charge_is_split_at_the_taxs_own_rate():
    """With a product in the same refund the refund's tax is not the shipping's alone: the part of
    the shipping is split at 20 %, 0.50 → 0.42 + 0.08 (not 0.41 + 0.09 at the rounded line's 20.7 %)."""
    sale = plan_of(small_shipping_order())
    plan = build_return_plan(refund([shipping_item("0.50"), {"item_type": "PRODUCT", "item_id": 1, "quantity": 1}],
                                    "12.50", "2.08"), sale, SPECIALS, "t-none")
    assert given_back(plan) == (D("12.50"), D("2.08"))
    assert [(line.unit_price, line.unit_tax) for line in plan.lines if line.kind == "shipping"] == [
        (D("0.42"), D("0.08"))]
