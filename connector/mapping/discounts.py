"""How a BigCommerce line's discounts are recorded in X-Series (issue 15, point 2).

X-Series reports two kinds of discount, and BigCommerce says which kind each is
(`applied_discounts[].target`):
- "product": stays on its line. The line is sold at list − discount, and the per-unit discount is
  sent with it, so the item discount reports show it.
- "order" (manual order discounts and coupons, which BigCommerce spreads over the lines): the line
  keeps its price before that share, and the shares become sale-level discount lines on the
  retailer's discount product, one per tax rate (the sale plan groups them).

A discount BigCommerce does not describe (discounted_total_inc_tax below total_inc_tax with no
applied_discounts) is taken as order-level, as coupons are. A line with applied_discounts but no
discounted total (the reference's own example line) is discounted by their sum, in the store's
pricing mode. Every discount is at the line's own rate (the X-Series tax's when the line's figures
fit one, else what they make): not the line's tax in the proportion the discount takes, as BigCommerce
rounds each unit's tax. It prices a unit's product discount like the unit: its tax to the cent in a
tax-exclusive store (price_tax), its ex-tax part to 4 places in a tax-inclusive one (price_ex_tax),
wherever the unit discount is exact at that precision ([unverified] beyond the simulated store: the
sale plan's tolerance allows half a cent a unit for it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connector.mapping.amounts import CENT, HALF_CENT, cents

ZERO = Decimal("0")
FOUR_PLACES = Decimal("0.0001")  # BigCommerce's money precision (reference §3)
RateKey = tuple[str, str]  # (X-Series tax id, source), as TaxBook.pick gives it


@dataclass(frozen=True)
class LineAmounts:
    """A line's figures, unrounded (the plan rounds them once, reconciled with the order's totals)."""

    sold_price: Decimal  # ex tax, after product-level discounts, before the order-level share
    sold_tax: Decimal
    product_discount: Decimal  # product-level discount of the whole line, ex tax
    order_price: Decimal  # the line's share of order-level discounts, ex tax
    order_tax: Decimal  # the tax that share removes


def line_amounts(line: Any, inclusive: bool = False, rate: Decimal | None = None, by_unit: bool = True) -> LineAmounts:
    """inclusive: the store's prices include tax (is_tax_inclusive_pricing), and so do the amounts
    of its applied_discounts. rate: the line's tax rate, when known (0.15 = 15 %). by_unit=False:
    the discounts take the line's tax in proportion even where it is priced by the unit."""
    full_inc, full_tax = line.total_inc_tax, line.total_tax
    applied = getattr(line, "applied_discounts", None) or []
    every = sum((d.amount for d in applied), ZERO)
    discounted = getattr(line, "discounted_total_inc_tax", None)
    if discounted is not None and full_inc:
        discount_inc = full_inc - discounted
    elif every and full_inc and full_inc != full_tax:
        # No discounted total, but the discounts are there: their sum, made tax-inclusive at the
        # line's rate when the store prices ex tax.
        discount_inc = every if inclusive else every * full_inc / (full_inc - full_tax)
    else:
        # Older stores send neither: no discount can be told apart (the order's totals then say
        # whether the lines add up).
        discount_inc = ZERO
    if not discount_inc:
        return LineAmounts(full_inc - full_tax, full_tax, ZERO, ZERO, ZERO)
    product = sum((d.amount for d in applied if d.target == "product"), ZERO)
    # The amounts are in the store's pricing mode (ex or inc tax); their proportions are not.
    product_inc = discount_inc * product / every if every else ZERO
    order_inc = discount_inc - product_inc
    sold_inc = full_inc - product_inc
    # Priced by the unit: the unit's tax in cents (tax-exclusive) or its ex-tax price at 4 places
    # (tax-inclusive), the line's tax that times the quantity.
    step, kept = (FOUR_PLACES, line.price_ex_tax) if inclusive else (CENT, line.price_tax)
    if by_unit and kept == kept.quantize(step) and full_tax == line.price_tax * line.quantity:
        in_inc = rate / (1 + rate) if rate is not None else full_tax / full_inc  # the tax in an amount incl. tax
        unit = product_inc / line.quantity
        unit_tax = unit * in_inc
        if unit == unit.quantize(step):  # a unit's discount priced like the unit
            unit_tax = cents(unit_tax) if not inclusive else unit - (unit - unit_tax).quantize(step, ROUND_HALF_UP)
        product_tax, order_tax = unit_tax * line.quantity, order_inc * in_inc
    else:  # priced by the line (4-place tax on its total): the discounts take its tax in proportion
        product_tax, order_tax = full_tax * product_inc / full_inc, full_tax * order_inc / full_inc
    sold_tax = full_tax - product_tax
    return LineAmounts(sold_inc - sold_tax, sold_tax, product_inc - product_tax, order_inc - order_tax, order_tax)


def spread_undrawn(ex: Decimal, tax: Decimal, lines: list[tuple[RateKey, Decimal, Decimal]],
                   pick: Callable[[Decimal, Decimal], RateKey]) -> list[tuple[RateKey, Decimal, Decimal]]:
    """An order-level discount the lines do not show — `ex` ex tax, removing `tax` — as (rate key,
    ex tax, tax) parts, one per rate. `lines`: (rate key, ex tax, tax) of the order's product lines;
    `pick`: the rate key of an amount and its tax (TaxBook.pick). In this order:
    1. over the lines' rates in proportion to their ex-tax amounts, as BigCommerce spreads an
       order-level discount (§4), when the tax that removes is the discount's within the lines'
       rounding (half a cent each, and the order's);
    2. else at one rate, when the discount's tax is that rate's (a shipping coupon; a coupon on one
       rate's products only);
    3. else over the two rates of a two-rate order, the amounts whose tax at each rate is the
       discount's (a coupon on some products of each);
    4. else as one amount at the rate `pick` gives (the retailer's default, which the sync audits)."""
    groups: dict[RateKey, list[Decimal]] = {}
    for key, line_ex, line_tax in lines:
        if line_ex > 0:
            group = groups.setdefault(key, [ZERO, ZERO])
            group[0] += line_ex
            group[1] += line_tax
    whole = sum((group_ex for group_ex, _ in groups.values()), ZERO)
    if ex > 0 and whole > 0:
        keys = list(groups)
        parts = [ex * groups[key][0] / whole for key in keys[:-1]]
        parts.append(ex - sum(parts, ZERO))  # the parts add up to the discount exactly
        taxes = [part * groups[key][1] / groups[key][0] for part, key in zip(parts, keys)]
        if abs(sum(taxes, ZERO) - tax) <= HALF_CENT * (len(lines) + 1):
            # The rounding left goes to the largest taxed part: the parts remove the discount's tax exactly.
            taxed = [i for i, part_tax in enumerate(taxes) if part_tax]
            if taxed:
                largest = max(taxed, key=lambda i: parts[i])
                taxes[largest] += tax - sum(taxes, ZERO)
            return [(key, part, part_tax) for key, part, part_tax in zip(keys, parts, taxes)]
    key = pick(ex, tax)
    if key[1] in ("rate", "none"):
        return [(key, ex, tax)]
    rates = {key: group_tax / group_ex for key, (group_ex, group_tax) in groups.items()}
    if ex > 0 and len(rates) == 2 and len(set(rates.values())) == 2:
        (first, first_rate), (second, second_rate) = rates.items()
        # first + second = ex, first × its rate + second × its rate = tax.
        at_first = (tax - second_rate * ex) / (first_rate - second_rate)
        if 0 <= at_first <= ex:
            at_second = ex - at_first
            first_tax = at_first * first_rate
            return [(k, part, part_tax) for k, part, part_tax in
                    ((first, at_first, first_tax), (second, at_second, tax - first_tax)) if part]
    return [(key, ex, tax)]
