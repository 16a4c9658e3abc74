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
pricing mode. Every discount is at the line's own rate: its tax is the line's tax in the proportion
it takes of the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ZERO = Decimal("0")


@dataclass(frozen=True)
class LineAmounts:
    """A line's figures, unrounded (the plan rounds them once, reconciled with the order's totals)."""

    sold_price: Decimal  # ex tax, after product-level discounts, before the order-level share
    sold_tax: Decimal
    product_discount: Decimal  # product-level discount of the whole line, ex tax
    order_price: Decimal  # the line's share of order-level discounts, ex tax
    order_tax: Decimal  # the tax that share removes


def line_amounts(line: Any, inclusive: bool = False) -> LineAmounts:
    """inclusive: the store's prices include tax (is_tax_inclusive_pricing), and so do the amounts
    of its applied_discounts."""
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
    sold_tax = full_tax * sold_inc / full_inc
    product_tax = full_tax * product_inc / full_inc
    order_tax = full_tax * order_inc / full_inc
    return LineAmounts(sold_inc - sold_tax, sold_tax, product_inc - product_tax, order_inc - order_tax, order_tax)
