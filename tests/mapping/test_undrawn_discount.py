"""A coupon the lines do not describe (older stores send neither discounted_total_inc_tax nor
applied_discounts; only the order's coupon_discount and totals say it) is a discount line per tax
rate, spread as BigCommerce spreads an order-level discount — over the lines in proportion to their
ex-tax amounts (§4) — each at its rate; not one line on one tax carrying a blend of rates, nor (a
small one) folded into a product's price."""
from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

from order_shapes import RATE_OF, bc_line, bc_order, plan_of, totals

D = Decimal
CENT = D("0.01")
Q4 = D("0.0001")  # BigCommerce's line figures carry four decimals
TAX_OF_RATE = {rate: tax_id for tax_id, rate in RATE_OF.items()}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def discounts_by_tax(plan):
    """Discount lines per X-Series tax: (ex tax, tax), positive."""
    found = {}
    for line in plan.lines:
        if line.kind == "discount":
            price, tax = found.get(line.tax_id, (D(0), D(0)))
            found[line.tax_id] = (price - line.quantity * line.unit_price, tax - line.quantity * line.unit_tax)
    return found


def two_rate_lines():
    """2 × 50.00 + 20 % and 1 × 50.00 + 5 % (tax-exclusive): 150.00 ex tax, 22.50 tax."""
    return [bc_line("120.00", "20.00", 2, line_id=1, sku="A", product_id=1),
            bc_line("52.50", "2.50", 1, line_id=2, sku="B", product_id=2)]


def test_a_coupon_on_no_line_is_spread_over_the_rates_in_proportion_to_the_lines():
    """A 15.00 (ex tax) coupon over 100.00 at 20 % and 50.00 at 5 %: 10.00 off the 20 % line (2.00
    tax) and 5.00 off the 5 % line (0.25 tax), paid 155.25 with 20.25 tax. A discount line at each
    rate, each carrying its own rate's tax (it was one line of 15.00 + 2.25 at 20 %: 15 % tax)."""
    plan = plan_of(bc_order(two_rate_lines(), total_inc="155.25", total_tax="20.25", coupon_discount="17.25"))
    assert discounts_by_tax(plan) == {"t-20": (D("10.00"), D("2.00")), "t-5": (D("5.00"), D("0.25"))}
    assert [(l.unit_price, l.unit_tax) for l in plan.lines if l.kind == "product"] == [
        (D("50.00"), D("10.00")), (D("50.00"), D("2.50"))]
    assert totals(plan) == (D("155.25"), D("20.25"))


def test_a_coupon_whose_tax_is_not_the_proportional_one_is_split_by_what_it_took_at_each_rate():
    """11.25 off with 1.25 tax over the same two lines (a coupon on some products of each): 10.00 ex
    tax at 12.5 %, which no single rate is and the proportional spread (1.50) is not. 5.00 at 20 % and
    5.00 at 5 % remove exactly that tax: a discount line at each rate, each at its rate (it was one
    line on the 20 % tax carrying 12.5 %)."""
    plan = plan_of(bc_order(two_rate_lines(), total_inc="161.25", total_tax="21.25", coupon_discount="11.25"))
    assert discounts_by_tax(plan) == {"t-20": (D("5.00"), D("1.00")), "t-5": (D("5.00"), D("0.25"))}
    assert totals(plan) == (D("161.25"), D("21.25"))


def test_a_small_coupon_on_no_line_is_a_discount_line_not_a_cut_in_one_products_price():
    """Ten lines of 10.00 + 2.00 (20 %) and a 0.05 coupon (0.01 of it tax): no more than the lines'
    rounding could make (half a cent a line), but it is the declared coupon. Every product keeps its
    price; the coupon is a discount line (it was taken off the first product's price and tax)."""
    lines = [bc_line("12.00", "2.00", 1, line_id=i, sku=f"S{i}", product_id=100 + i) for i in range(1, 11)]
    plan = plan_of(bc_order(lines, total_inc="119.95", total_tax="19.99", coupon_discount="0.05"))
    assert {(l.unit_price, l.unit_tax) for l in plan.lines if l.kind == "product"} == {(D("10.00"), D("2.00"))}
    assert discounts_by_tax(plan) == {"t-20": (D("0.04"), D("0.01"))}
    assert totals(plan) == (D("119.95"), D("19.99"))


def test_coupons_on_no_line_come_out_per_rate_as_bigcommerce_spread_them():
    """Many random older-store orders of lines at one to three rates (some untaxed) with a coupon
    BigCommerce spread over them in proportion to their ex-tax amounts, shown only in the order's
    totals: the sale is the order's to the cent, the products keep their prices, and each rate's
    discount line is that rate's share to within a cent, each at its own rate."""
    rng = random.Random(20261207)
    rates = [D("0.20"), D("0.0825"), D("0.05"), D("0.15"), D("0")]
    failures = []
    for case in range(400):
        chosen = rng.sample(rates, rng.randint(1, 3))
        lines, amounts = [], []
        for n in range(1, rng.randint(len(chosen), 6) + 1):
            rate = chosen[n % len(chosen)]
            quantity = rng.randint(1, 4)
            ex = D(rng.randint(100, 9999)) / 100 * quantity
            tax = (ex * rate).quantize(Q4, ROUND_HALF_UP)
            lines.append(bc_line(str(ex + tax), str(tax), quantity, line_id=n, sku=f"S{n}", product_id=n))
            amounts.append((rate, ex, tax))
        whole = sum(ex for _, ex, _ in amounts)
        coupon = D(rng.randint(1, int(whole * 50))) / 100  # up to half the order, ex tax
        expected: dict[str, list[Decimal]] = {}
        for rate, ex, _ in amounts:  # BigCommerce's spread: each line's share, taxed at its rate
            share = coupon * ex / whole
            part = expected.setdefault(TAX_OF_RATE[rate], [D(0), D(0)])
            part[0] += share
            part[1] += (share * rate).quantize(Q4, ROUND_HALF_UP)
        line_tax = sum(tax for _, _, tax in amounts)
        coupon_tax = sum(tax for _, tax in expected.values())
        total_tax = cents(line_tax - coupon_tax)
        total_inc = cents(whole + line_tax - coupon - coupon_tax)
        plan = plan_of(bc_order(lines, total_inc=str(total_inc), total_tax=str(total_tax),
                                coupon_discount=str(cents(coupon + coupon_tax))))
        got = discounts_by_tax(plan)
        # Units at five places: a sale's totals may drift by less than half a cent (amounts.py).
        wrong = (tuple(map(cents, totals(plan))) != (total_inc, total_tax)
                 or any(cents(sum(l.quantity * l.unit_price for l in plan.lines if l.bc_line_id == n)) != ex
                        for n, (_, ex, _) in enumerate(amounts, start=1))
                 or set(got) != {tax_id for tax_id, (ex, _) in expected.items() if cents(ex)}
                 or any(abs(got[tax_id][0] - ex) > CENT or abs(got[tax_id][1] - tax) > CENT
                        for tax_id, (ex, tax) in expected.items() if tax_id in got))
        if wrong:
            failures.append((case, [str(r) for r in chosen], str(coupon), got,
                             {k: (cents(v[0]), cents(v[1])) for k, v in expected.items()}))
    assert not failures, f"{len(failures)} of 400, e.g. {failures[:3]}"
