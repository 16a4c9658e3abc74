"""A sale plan's money: line totals reconciled with the order's totals, then cut into units.

Reconciling: line figures are rounded to cents once. BigCommerce holds one figure of each line
exact — the tax-inclusive amount in tax-inclusive stores, the ex-tax amount otherwise
(`is_tax_inclusive_pricing`) — so that figure keeps its value and the rounding residue of the tax (a
cent or two) goes to a taxed line of the rate whose rounding made it, so that each rate's tax is
what its lines make, to the cent; a residue of the exact figure (from splitting an order-level
discount by rate) goes to the largest discount line, or the largest line where it would turn the
discount's sign. A larger gap (beyond what rounding per unit allows) means the order is
inconsistent: refused with a readable reason rather than guessed at.

Cutting into units: X-Series takes a unit price and unit tax per line (0.9 register_sale_products).
Units are sent at up to `places` decimals (X-Series 2.0 examples carry five), each unit's price plus
tax equal to the unit's amount including tax whenever that amount is exact at that precision (3 ×
£10.00 incl. VAT: every unit sums to 10.00). Rounded units make a line's totals drift by a fraction
of the last place; that is kept while the whole sale's drift stays under half a cent, so its totals
still round to the order's. Where the precision cannot carry a line, it is split into at most three
lines whose units differ by one last place and add up exactly.
"""

from __future__ import annotations

from collections.abc import Hashable
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from connector.errors import MappingError

ZERO = Decimal("0")
CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")


# ISO 4217 currencies of more than two decimals (a currency of none, like JPY, is whole amounts:
# exact in cents). Every amount here is kept in cents, so these would be posted rounded.
FINER_THAN_CENTS = {"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3, "CLF": 4, "UYW": 4}


def cents_refusal(currency: str | None) -> str | None:
    """Why a store or order in `currency` cannot be mirrored, when its amounts have more decimals
    than cents; None when cents hold them."""
    code = (currency or "").strip().upper()
    if code not in FINER_THAN_CENTS:
        return None
    return (f"{code} has {FINER_THAN_CENTS[code]} decimals, and order-sync keeps amounts in cents: every amount"
            " would be rounded to cents (10.499 as 10.50), so it mirrors no sale in it")


def cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def reconcile(order_id: int, amounts: list[tuple[Decimal, Decimal]], total_inc: Decimal, total_tax: Decimal,
              inclusive: bool, absorber: int | None = None,
              rates: list[Hashable] | None = None, slack: Decimal = ZERO) -> list[tuple[Decimal, Decimal]]:
    """(price, tax) of each line in cents, adding up to total_inc / total_tax exactly. `absorber`:
    the line that takes the residue of the exact figure unless that turns its sign (default, and
    then: the largest). `rates`: the tax each line is on; each one's lines then add up to its own
    tax, to the cent, where the order's tax allows (default: all on one). `slack`: what the lines
    may be off beyond a cent each (rounding per unit)."""
    if not amounts:
        if total_inc != ZERO:
            raise MappingError(f"the order has no lines but a total of {total_inc}", order_id=order_id, kind="totals")
        return amounts
    exact = [cents(price + tax if inclusive else price) for price, tax in amounts]
    taxes = [cents(tax) for _, tax in amounts]
    gap_exact = (total_inc if inclusive else total_inc - total_tax) - sum(exact)
    gap_tax = total_tax - sum(taxes)
    tolerance = CENT * max(2, len(amounts)) + slack
    if abs(gap_exact) > tolerance or abs(gap_tax) > tolerance:
        lines_inc = sum(exact) + (ZERO if inclusive else sum(taxes))
        raise MappingError(
            f"lines, shipping, handling, wrapping, fees and discounts add up to {lines_inc} incl. tax"
            f" ({sum(taxes)} tax) but the order's total is {total_inc} ({total_tax} tax);"
            " the order is inconsistent, check it in BigCommerce",
            order_id=order_id, kind="totals",
        )
    # A discount the residue would turn into a charge (or nothing) leaves it to the largest line.
    where = max(range(len(exact)), key=lambda i: exact[i])
    if absorber is not None and exact[absorber] * (exact[absorber] + gap_exact) > 0:
        where = absorber
    exact[where] += gap_exact
    # The tax residue goes onto taxed lines, never an untaxed one (that would give it a tax) nor a
    # discount line: first each rate's own, within the rate, then what is left of the order's.
    unrounded = [tax for _, tax in amounts]
    taxed = [i for i, tax in enumerate(unrounded) if tax > 0]
    for rate in dict.fromkeys(rates or ()):
        mine = [i for i in range(len(rates)) if rates[i] == rate]
        residue = cents(sum((unrounded[i] for i in mine), ZERO)) - sum((taxes[i] for i in mine), ZERO)
        own = [i for i in mine if i in taxed]
        if residue and own:
            _spread_tax_residue(taxes, unrounded, residue, own)
            gap_tax -= residue
    if gap_tax:
        _spread_tax_residue(taxes, unrounded, gap_tax, taxed or [max(range(len(taxes)), key=lambda i: taxes[i])])
    return [(e - t if inclusive else e, t) for e, t in zip(exact, taxes)]


def _spread_tax_residue(taxes: list[Decimal], unrounded: list[Decimal], gap: Decimal, among: list[int]) -> None:
    """The cents of `gap` go, one at a time, to the lines `among` whose own rounding went furthest the
    other way (largest remainder)."""
    sign = 1 if gap > 0 else -1
    among = sorted(among, key=lambda i: (unrounded[i] - taxes[i]) * sign, reverse=True)
    for k in range(int(abs(gap) / CENT)):
        taxes[among[k % len(among)]] += CENT * sign


class UnitCutter:
    """Cuts the lines of one sale into units at `places` decimals, tracking the sale's drift."""

    def __init__(self, places: int) -> None:
        self.ulp = Decimal(1).scaleb(-places)
        self.price_drift = ZERO
        self.tax_drift = ZERO

    def cut(self, quantity: int, price: Decimal, tax: Decimal) -> list[tuple[int, Decimal, Decimal]]:
        """(quantity, unit price, unit tax) parts of a line of `quantity` units totalling price / tax
        (cents). A negative quantity (a discount line) takes negative totals."""
        ulp = self.ulp
        unit_tax = (tax / quantity).quantize(ulp, ROUND_HALF_UP)
        unit_inc = (price + tax) / quantity
        if unit_inc == unit_inc.quantize(ulp):
            unit_price = unit_inc - unit_tax
        else:
            unit_price = (price / quantity).quantize(ulp, ROUND_HALF_UP)
        price_drift = self.price_drift + unit_price * quantity - price
        tax_drift = self.tax_drift + unit_tax * quantity - tax
        if abs(price_drift) < HALF_CENT and abs(tax_drift) < HALF_CENT and abs(price_drift + tax_drift) < HALF_CENT:
            self.price_drift, self.tax_drift = price_drift, tax_drift
            return [(quantity, unit_price, unit_tax)]
        # Exact split: the first `high_tax` units carry one more place of tax, the last `high_price`
        # one more of price. Where a unit's amount is exact these are complementary, so every unit
        # sums to it; otherwise the cuts make at most three lines.
        low_price = (price / quantity).quantize(ulp, ROUND_FLOOR)
        low_tax = (tax / quantity).quantize(ulp, ROUND_FLOOR)
        high_price = int((price - low_price * quantity) / ulp)
        high_tax = int((tax - low_tax * quantity) / ulp)
        cuts = sorted({0, high_tax, quantity - high_price, quantity})
        return [(end - start, low_price + (ulp if start >= quantity - high_price else ZERO),
                 low_tax + (ulp if start < high_tax else ZERO))
                for start, end in zip(cuts, cuts[1:])]
