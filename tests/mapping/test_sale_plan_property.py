"""Property: over random BigCommerce orders, the plan is what the accountant expects (issue 15).

Orders are built the way BigCommerce computes them: unit list prices in cents in the store's
pricing mode (ex tax, or incl. tax in a tax-inclusive store), 4-place taxes per line, product
discounts per unit, an order-level percentage discount and a coupon spread over the lines in
proportion to their prices, shipping and fees with their own rates, gift certificates and store
credit paying part of the total."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st
from order_shapes import RATE_OF, bc_fee, bc_line, bc_order, plan_of, totals

from connector.mapping import sale_plan

D = Decimal
CENT = D("0.01")
RATES = [D(0), D("0.05"), D("0.0825"), D("0.15"), D("0.20")]


def q4(value: Decimal) -> Decimal:
    return value.quantize(D("0.0001"), rounding=ROUND_HALF_UP)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def spread(amount: Decimal, bases: list[Decimal]) -> list[Decimal]:
    """BigCommerce spreads an order-level discount over the lines in proportion to their prices."""
    total = sum(bases, D(0))
    shares = [cents(amount * base / total) for base in bases[:-1]]
    return shares + [amount - sum(shares, D(0))]


line_specs = st.tuples(
    st.integers(1, 50),  # quantity
    st.integers(100, 50000),  # unit list price, cents (store's pricing mode)
    st.sampled_from(RATES),
    st.integers(0, 60),  # product discount, % of the unit price
    st.sampled_from(["catalogue", "catalogue", "no-sku", "custom", "giftcertificate"]),
)


@st.composite
def bc_orders(draw):
    inclusive = draw(st.booleans())

    def taxed(amount: Decimal, rate: Decimal) -> Decimal:  # the tax BigCommerce computes, 4 places
        return q4(amount * rate / (1 + rate)) if inclusive else q4(amount * rate)

    specs = draw(st.lists(line_specs, min_size=1, max_size=4))
    expected, fulls = {}, []
    for i, (qty, list_cents, rate, discount_pct, kind) in enumerate(specs):
        if kind == "giftcertificate":  # certificates are untaxed and never discounted
            rate, discount_pct = D(0), 0
        unit = D(list_cents) / 100
        per_unit_discount = min((unit * discount_pct / 100).quantize(CENT, ROUND_DOWN), unit - 1)
        full = unit * qty
        fulls.append(full - per_unit_discount * qty)
        expected[f"Item {i}"] = (qty, rate, unit - per_unit_discount, per_unit_discount, kind)
    eligible = [i for i, spec in enumerate(specs) if spec[4] != "giftcertificate"]
    bases = [fulls[i] for i in eligible]
    manual = cents(sum(bases, D(0)) * draw(st.sampled_from([0, 0, 5, 10, 30])) / 100)
    coupon = min(D(draw(st.integers(0, 3000))) / 100, cents(sum(bases, D(0)) / 2) - manual)
    shares = {i: [] for i in eligible}
    for amount in (manual, coupon):
        if amount > 0:
            for i, share in zip(eligible, spread(amount, bases)):
                if share:  # a share that rounds to nothing is not applied
                    shares[i].append(share)

    lines, paid_tax, paid_total = [], D(0), D(0)
    rate_tax: dict[Decimal, Decimal] = {}  # BigCommerce's tax by rate
    for i, (qty, list_cents, _, _, kind) in enumerate(specs):
        _, rate, sold_unit, per_unit_discount, _ = expected[f"Item {i}"]
        full = D(list_cents) / 100 * qty
        full_tax = taxed(full, rate)
        paid = full - per_unit_discount * qty - sum(shares.get(i, []), D(0))
        tax = taxed(paid, rate)
        discounts = ([("product", per_unit_discount * qty)] if per_unit_discount else []) + [
            ("order", share) for share in shares.get(i, [])]
        lines.append(bc_line(
            full if inclusive else full + full_tax, full_tax, qty, line_id=i + 1, name=f"Item {i}",
            sku="" if kind in ("no-sku", "giftcertificate") else f"S{i}", discounts=discounts,
            product_id=0 if kind in ("custom", "giftcertificate") else 1000 + i,
            type="giftcertificate" if kind == "giftcertificate" else "physical",
            base_price=D(list_cents) / 100, discounted=paid if inclusive else paid + tax,
        ))
        paid_tax += tax
        paid_total += paid
        rate_tax[rate] = rate_tax.get(rate, D(0)) + tax

    ship_rate = draw(st.sampled_from(RATES))
    ship = D(draw(st.integers(100, 3000)) if draw(st.booleans()) else 0) / 100
    ship_tax = taxed(ship, ship_rate)
    fees, fee_rates = [], []
    for n, (fee_cents, fee_rate) in enumerate(draw(st.lists(st.tuples(st.integers(10, 500), st.sampled_from(RATES)),
                                                            max_size=2))):
        fee = D(fee_cents) / 100
        fee_tax = taxed(fee, fee_rate)
        fees.append(bc_fee(fee if inclusive else fee + fee_tax, fee_tax, fee_id=n + 1, name=f"Fee {n}"))
        fee_rates.append(fee_rate)
        paid_tax += fee_tax
        paid_total += fee
        rate_tax[fee_rate] = rate_tax.get(fee_rate, D(0)) + fee_tax
    total_tax = cents(paid_tax + ship_tax)
    if ship:
        rate_tax[ship_rate] = rate_tax.get(ship_rate, D(0)) + ship_tax
    total_inc = paid_total + ship + (D(0) if inclusive else total_tax)
    gift = cents(total_inc * draw(st.integers(0, 100)) / 100) if draw(st.booleans()) else D(0)
    credit = cents((total_inc - gift) * draw(st.integers(0, 100)) / 100) if draw(st.booleans()) else D(0)
    order = bc_order(lines, total_inc=total_inc, total_tax=total_tax, inclusive=inclusive, gift=gift,
                     credit=credit, fees=fees, shipping=(ship if inclusive else ship + ship_tax, ship_tax))
    return order, expected, ship_rate, fee_rates, {i for i in eligible if shares[i]}, rate_tax


@settings(derandomize=True, max_examples=300, deadline=None)
@given(bc_orders(), st.sampled_from([5, 2]))
def test_plans_are_exact_by_tender_as_sold_and_taxed_by_rate(case, places):
    order, expected, ship_rate, fee_rates, discounted, rate_tax = case
    with patch.object(sale_plan, "PRICE_PLACES", places):
        plan = plan_of(order)

    # Lines plus tax equal the order's total to the cent (exactly when units carry cents only).
    inc, tax = totals(plan)
    assert (cents(inc), cents(tax)) == (cents(order.total_inc_tax), cents(order.total_tax))
    if places == 2:
        assert (inc, tax) == (cents(order.total_inc_tax), cents(order.total_tax))

    # Payments equal what each tender paid.
    paid = {p.tender: p.amount for p in plan.payments}
    method = cents(order.total_inc_tax) - order.gift_certificate_amount - order.store_credit_amount
    tenders = {"gift_certificate": order.gift_certificate_amount, "store_credit": order.store_credit_amount,
               "method": method}
    assert paid == {tender: amount for tender, amount in tenders.items() if amount}
    assert sum(paid.values()) == cents(order.total_inc_tax)

    def by_rate(line, rate):
        if rate:
            return line.tax_source == "rate" and RATE_OF[line.tax_id] == rate
        return (line.tax_id, line.tax_source, line.unit_tax) == ("t-none", "none", 0)

    # Every unit is sold at list − product discount, taxed by its rate.
    for name, (qty, rate, sold_unit, per_unit_discount, kind) in expected.items():
        mine = [li for li in plan.lines if li.name == name]
        assert sum(li.quantity for li in mine) == qty
        for li in mine:
            assert (li.unit_price + li.unit_tax if order.is_tax_inclusive_pricing else li.unit_price) == sold_unit
            assert by_rate(li, rate), (li, rate)
            assert li.track_inventory is (kind in ("catalogue", "no-sku"))
            if not order.is_tax_inclusive_pricing:
                assert li.unit_discount == per_unit_discount
    assert all(by_rate(li, ship_rate) for li in plan.lines if li.kind == "shipping")
    assert [RATE_OF[li.tax_id] for li in plan.lines if li.kind == "fee"] == fee_rates
    assert all(by_rate(li, rate) for li, rate in zip([li for li in plan.lines if li.kind == "fee"], fee_rates))

    # One discount line per rate among the lines that took a share of an order-level discount.
    discount_lines = [li for li in plan.lines if li.kind == "discount"]
    rates = {expected[f"Item {i}"][1] for i in discounted}
    assert sorted(RATE_OF[li.tax_id] for li in discount_lines) == sorted(rates)
    assert all(li.quantity == -1 and li.unit_price > 0 and li.unit_tax >= 0 for li in discount_lines)

    # Each rate's tax is BigCommerce's, to the cent, whenever those add up to the order's tax. The
    # plan sees a discounted line's tax only in proportion to its full one (within 0.0001 of
    # BigCommerce's): a rate's tax that close to a half cent may round either way.
    def clear_of_half_cents(tax: Decimal) -> bool:
        return abs(tax % CENT - CENT / 2) > D("0.0001") * len(order.lines)

    if (sum((cents(tax) for tax in rate_tax.values()), D(0)) == cents(order.total_tax)
            and all(map(clear_of_half_cents, rate_tax.values()))):
        planned: dict[Decimal, Decimal] = {}
        for li in plan.lines:
            planned[RATE_OF[li.tax_id]] = planned.get(RATE_OF[li.tax_id], D(0)) + li.quantity * li.unit_tax
        assert {rate: cents(tax) for rate, tax in planned.items() if tax} == {
            rate: cents(tax) for rate, tax in rate_tax.items() if cents(tax)}
