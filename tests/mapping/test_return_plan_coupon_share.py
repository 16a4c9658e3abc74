"""A partial refund of a coupon-discounted line: BigCommerce gives back the units' discounted amount,
so the coupon's share of them comes back with its tax, and the return X-Series totals from its lines
(§8.2) adds up to the refund's payments exactly and gives back the tax BigCommerce gave back, at the
rate of the line returned."""
from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

from order_shapes import RATE_OF, bc_line, bc_order, plan_of, totals

from connector.clients.bigcommerce_v3_models import Refund
from connector.mapping.return_plan import build_return_plan
from connector.mapping.special_lines import SpecialLine, SpecialLines, SpecialProduct

D = Decimal
CENT = D("0.01")
Q4 = D("0.0001")  # BigCommerce's line figures carry four decimals
SPECIALS = SpecialLines({kind: SpecialProduct(kind.value.title(), f"bc-{kind.value}") for kind in SpecialLine})
TAX_OF_RATE = {rate: tax_id for tax_id, rate in RATE_OF.items() if rate}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def refund(line_id, quantity, total, tax):
    return Refund.model_validate({
        "id": 7, "order_id": 4242, "created": "2026-03-01T10:00:00Z", "total_amount": str(total),
        "total_tax": str(tax), "items": [{"item_type": "PRODUCT", "item_id": line_id, "quantity": quantity}],
        "payments": [{"provider_id": "gw", "amount": str(total)}]})


def tax_by_rate(plan):
    """Tax given back per X-Series tax (positive), zero ones left out."""
    rates: dict[str, Decimal] = {}
    for line in plan.lines:
        rates[line.tax_id] = rates.get(line.tax_id, D(0)) - line.quantity * line.unit_tax
    return {tax_id: tax for tax_id, tax in rates.items() if tax}


def paid_back(plan):
    return sum((-line.quantity * (line.unit_price + line.unit_tax) for line in plan.lines), D(0))


def test_one_unit_of_a_coupon_discounted_line_gives_back_the_coupon_share_with_its_tax():
    """US store, tax-exclusive, 8.25 %: 2 × 8.00 with a 6.00 coupon spread on the line, paid 10.83 of
    which 0.83 tax. BigCommerce refunds one unit: 5.41 of which 0.41 tax. The unit goes back at its
    sold 8.00 + 0.665; the coupon's share (−3.00) at 8.25 %, so the return gives back 0.41 of tax, not
    0.665 with 0.25 of tax put into untaxed sales, and adds up to 5.41, not 5.405."""
    order = bc_order([bc_line("17.32", "1.32", 2, line_id=1, discounted="10.825", discounts=[("order", "6.00")])],
                     total_inc="10.83", total_tax="0.83", coupon_discount="6.00")
    sale = plan_of(order)
    assert totals(sale) == (D("10.83"), D("0.83"))
    plan = build_return_plan(refund(1, 1, "5.41", "0.41"), sale, SPECIALS, "t-none")
    assert paid_back(plan) == D("5.41") == sum(p.amount for p in plan.payments)
    assert tax_by_rate(plan) == {"t-825": D("0.41")}
    share = [line for line in plan.lines if line.kind == "refund"]
    assert [(line.unit_price, line.tax_id) for line in share] == [(D("-3.00"), "t-825")]


def _coupon_line(rng, rate, quantity, line_id, sku, inclusive):
    """A BigCommerce line of `quantity` units at `rate` with a random coupon share: the line dict, and
    its discounted amount and tax at BigCommerce's four decimals."""
    unit = D(rng.randint(100, 9999)) / 100
    if inclusive:  # prices and the coupon's amount include tax
        inc = unit * quantity
        tax = (inc * rate / (1 + rate)).quantize(Q4, ROUND_HALF_UP)
        share = D(rng.randint(1, int(inc * 90))) / 100
        discounted = inc - share
        discounted_tax = (discounted * rate / (1 + rate)).quantize(Q4, ROUND_HALF_UP)
    else:
        ex = unit * quantity
        inc = (ex * (1 + rate)).quantize(Q4, ROUND_HALF_UP)
        tax = inc - ex
        share = D(rng.randint(1, int(ex * 90))) / 100
        discounted = ((ex - share) * (1 + rate)).quantize(Q4, ROUND_HALF_UP)
        discounted_tax = discounted - (ex - share)
    line = bc_line(str(inc), str(tax), quantity, line_id=line_id, sku=sku, discounted=str(discounted),
                   discounts=[("order", str(share))])
    return line, share, discounted, discounted_tax


def test_partial_refunds_of_coupon_discounted_lines_give_back_bigcommerces_tax_at_the_lines_rate():
    """Many random orders of one or two lines (each at its own rate) with a coupon spread over them,
    tax-exclusive and tax-inclusive stores; BigCommerce refunds some units of one line: their
    discounted amount and its tax, each rounded to cents. The return's lines add up to the refund's
    payment exactly, and the tax they give back is the refund's to within a cent, all of it at the
    returned line's rate."""
    rng = random.Random(20261207)
    rates = [D("0.20"), D("0.0825"), D("0.05"), D("0.15")]
    failures = []
    for case in range(600):
        inclusive = rng.random() < 0.3
        chosen = rng.sample(rates, rng.choice([1, 2]))
        lines, shares, amounts = [], D(0), []
        for n, rate in enumerate(chosen, start=1):
            quantity = rng.randint(2, 7)
            line, share, discounted, discounted_tax = _coupon_line(rng, rate, quantity, n, f"S{n}", inclusive)
            lines.append(line)
            shares += share
            amounts.append((rate, quantity, discounted, discounted_tax))
        order = bc_order(lines, inclusive=inclusive, coupon_discount=str(shares),
                         total_inc=str(cents(sum(a[2] for a in amounts))),
                         total_tax=str(cents(sum(a[3] for a in amounts))))
        sale = plan_of(order)
        which = rng.randrange(len(amounts))
        rate, quantity, discounted, discounted_tax = amounts[which]
        units = rng.randint(1, quantity - 1)
        total, tax = cents(discounted * units / quantity), cents(discounted_tax * units / quantity)
        plan = build_return_plan(refund(which + 1, units, total, tax), sale, SPECIALS, "t-none")
        given = tax_by_rate(plan)
        if (paid_back(plan) != total
                or abs(sum(given.values(), D(0)) - tax) >= CENT
                or set(given) - {TAX_OF_RATE[rate]}):
            failures.append((case, inclusive, rate, units, quantity, total, tax, paid_back(plan), given))
    assert not failures, f"{len(failures)} of 600, e.g. {failures[:3]}"
