"""A refund of units of several lines at several tax rates: the return gives back what BigCommerce
gave back, to the cent, in total and in tax, each rate's tax within a cent of what
BigCommerce gave back at it (BigCommerce tells the refund's tax, not its rates': the sale's own
line taxes, rounded so that they add up to the order's, may be a cent from BigCommerce's)."""
from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

from order_shapes import RATE_OF, bc_line, bc_order, plan_of

from connector.clients.bigcommerce_v3_models import Refund
from connector.mapping.return_plan import build_return_plan
from connector.mapping.special_lines import SpecialLine, SpecialLines, SpecialProduct

D = Decimal
CENT, Q4 = D("0.01"), D("0.0001")
SPECIALS = SpecialLines({kind: SpecialProduct(kind.value.title(), f"bc-{kind.value}") for kind in SpecialLine})
TAX_OF_RATE = {rate: tax_id for tax_id, rate in RATE_OF.items()}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def test_refunds_of_units_at_several_rates_give_back_bigcommerces_tax():
    """Random orders of two to five lines at two to four rates (one maybe untaxed), prices incl. or
    ex tax; BigCommerce refunds some units of several lines, each item's amount and tax its share of
    the line rounded to cents (as the simulator and BigCommerce's refund quote do)."""
    rng = random.Random(20261208)
    rates = [D("0.20"), D("0.0825"), D("0.05"), D("0.15"), D("0")]
    failures = []
    for case in range(2000):
        inclusive = rng.random() < 0.5
        chosen = rng.sample(rates, rng.randint(2, 4))
        lines, amounts = [], []
        for n in range(1, rng.randint(2, 5) + 1):
            rate, quantity = chosen[n % len(chosen)], rng.randint(1, 6)
            unit = D(rng.randint(100, 9999)) / 100
            if inclusive:
                inc = unit * quantity
                tax = (inc * rate / (1 + rate)).quantize(Q4, ROUND_HALF_UP)
            else:
                tax = (unit * quantity * rate).quantize(Q4, ROUND_HALF_UP)
                inc = unit * quantity + tax
            lines.append(bc_line(str(inc), str(tax), quantity, line_id=n, sku=f"S{n}", product_id=n))
            amounts.append((rate, quantity, inc, tax))
        order = bc_order(lines, inclusive=inclusive, total_inc=str(cents(sum(a[2] for a in amounts))),
                         total_tax=str(cents(sum(a[3] for a in amounts))))
        items, total, tax, by_rate = [], D(0), D(0), {}
        for n, (rate, quantity, inc, line_tax) in enumerate(amounts, start=1):
            if rng.random() < 0.6:
                units = rng.randint(1, quantity)
                items.append({"item_type": "PRODUCT", "item_id": n, "quantity": units})
                total += cents(inc * units / quantity)
                tax += cents(line_tax * units / quantity)
                by_rate[TAX_OF_RATE[rate]] = by_rate.get(TAX_OF_RATE[rate], D(0)) + cents(line_tax * units / quantity)
        if len(items) < 2:
            continue
        plan = build_return_plan(Refund.model_validate({
            "id": 7, "order_id": 4242, "created": "2026-03-01T10:00:00Z", "total_amount": str(total),
            "total_tax": str(tax), "items": items, "payments": [{"provider_id": "gw", "amount": str(total)}]}),
            plan_of(order), SPECIALS, "t-none")
        given: dict[str, Decimal] = {}
        for line in plan.lines:
            given[line.tax_id] = given.get(line.tax_id, D(0)) - line.quantity * line.unit_tax
        back = sum((-line.quantity * (line.unit_price + line.unit_tax) for line in plan.lines), D(0))
        if (back != total or cents(sum(given.values(), D(0))) != tax
                or any(abs(cents(given.get(tax_id, D(0))) - v) > CENT for tax_id, v in by_rate.items())):
            failures.append((case, inclusive, total, tax, back, given, by_rate))
    assert not failures, f"{len(failures)} refunds, e.g. {failures[:3]}"
