"""A BigCommerce refund → the X-Series return that mirrors it (issue 16, point 1). Pure.

The return is a sale of its own on the same register, invoice BC-<order>-R<refund id>, with
negative quantities and refund payments (reference §8.2: "quantity: negative for returns"):
- returned products by quantity, at the unit price and tax they were sold at (the sale plan's
  lines of that order product), so their stock comes back (`refunds.restock: false` puts them on
  the refund product instead: money back, stock unchanged);
- shipping, handling, gift wrapping and fee refunds by amount, on their special products, taxed at
  the rate the sale charged them, each charge once (charge_refunds.py; fees of one amount told
  apart by the refund's tax; a fee an earlier return gave back, `fees_back`, not again);
- order-level amounts, and what BigCommerce refunded beyond the units at their sold price (an
  order-level discount's share, a merchant's override), on the `refund` special product: untaxed
  when the refund's tax is all the lines' (an order-level amount does not change tax), else with
  the tax the refund gave back beyond them, at the sale's rate that it is;
- refund payments by tender: store credit, gift certificate, else the order's payment method.
The return's tax is the refund's to the cent: what the sale's unit taxes and BigCommerce's rounding
of each item leave between them goes on the `refund` product, at the rates it is of (_tax_to_the_cent).
A money-only refund of part of a product line (no unit returned) is money back on the `refund`
product at the line's rate, told by the refund's total_tax. What X-Series cannot express — such a
refund without its tax, or whose tax fits no rate, more units than were sold, payments that do
not add up — raises MappingError(kind="refund").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from connector.clients.bigcommerce_v3_models import Refund
from connector.errors import MappingError
from connector.mapping.amounts import CENT, HALF_CENT, cents
from connector.mapping.charge_refunds import CHARGE_KINDS, charges_given_back, fee_choices
from connector.mapping.planned_sale import PlannedLine, PlannedPayment, SalePlan
from connector.mapping.special_lines import SpecialLine, SpecialLines

ZERO = Decimal(0)
# Refund payment providers that are tenders of their own (§15); any other provider is a gateway.
_TENDERS = {"storecredit": "store_credit", "store_credit": "store_credit",
            "giftcertificate": "gift_certificate", "gift_certificate": "gift_certificate"}


@dataclass(frozen=True)
class ReturnPlan:
    refund_id: int
    bc_order_id: int
    invoice_number: str  # BC-<order>-R<refund id>: looked up after a lost answer, never guessed
    source_id: str
    lines: tuple[PlannedLine, ...]  # negative quantities
    payments: tuple[PlannedPayment, ...]  # what went back to each tender (positive amounts)
    total_inc_tax: Decimal  # what the shopper got back
    refund_date: datetime
    note: str
    adjustment: Decimal  # on the refund product beyond units and charges (0 when none)


def return_invoice_number(order_id: int, refund_id: int) -> str:
    return f"BC-{order_id}-R{refund_id}"


def build_return_plan(refund: Refund, sale: SalePlan, specials: SpecialLines, no_tax_id: str, *,
                      restock: bool = True, fees_back: Sequence[tuple[Decimal, Decimal, str]] = ()) -> ReturnPlan:
    order_id = refund.order_id
    refund_product = specials.products[SpecialLine.REFUND]
    refund_line = PlannedLine(kind="refund", product_key="special:refund", sku=refund_product.sku,
                              name=refund_product.name, quantity=-1, unit_price=ZERO, unit_tax=ZERO,
                              tax_id=no_tax_id, tax_source="none", track_inventory=False)
    lines: list[PlannedLine] = []
    money_only: list = []  # PRODUCT items that give money back and return no unit
    for item in refund.items:
        if item.item_type == "PRODUCT" and not item.quantity and refund.total_tax is not None:
            _returned_units(item.item_id, 1, sale, order_id, refund.id)  # a line the sale has
            money_only.append(item)  # in the adjustment below, at the line's rate
        elif item.item_type == "PRODUCT":
            lines += _returned_units(item.item_id, item.quantity, sale, order_id, refund.id)
    if not restock:
        lines = [replace(refund_line, unit_price=line.unit_price, unit_tax=line.unit_tax, quantity=line.quantity,
                         tax_id=line.tax_id) if line.kind == "product" else line for line in lines]
    # ORDER items (an order-level amount) end in the adjustment below.
    lines += charges_given_back(refund, sale, specials, no_tax_id)
    total = cents(refund.total_amount)
    # Of the ways its fee items can be the sale's fees, the first whose return gives back the refund's
    # tax (or comes closest): two fees of one amount at different rates are told apart by it.
    chosen = None
    for fees in fee_choices(refund, sale, specials, no_tax_id, fees_back):
        candidate = _with_adjustment(lines + fees, total, refund_line, refund, sale)
        off = ZERO if refund.total_tax is None else abs(_tax_back(candidate[0]) - cents(refund.total_tax))
        if chosen is None or off < chosen[0]:
            chosen = (off, candidate)
        if not off:
            break
    _, (lines, adjustment) = chosen
    if adjustment and money_only and _tax_back(lines) != cents(refund.total_tax):
        # Its tax fits no rate of the sale's: a person must say how it was taxed.
        raise MappingError(f"refund {refund.id} gives money back on an order product without returning a unit,"
                           " and its tax fits no rate of the sale: record it by hand", order_id=order_id,
                           kind="refund")
    lines += _tax_to_the_cent(lines, refund, refund_line)
    payments = _payments(refund, sale, total, order_id)
    reason = f": {refund.reason}" if refund.reason else ""
    return ReturnPlan(
        refund_id=refund.id, bc_order_id=order_id, invoice_number=return_invoice_number(order_id, refund.id),
        source_id=f"{order_id}-R{refund.id}", lines=tuple(lines), payments=payments, total_inc_tax=total,
        refund_date=refund.created, note=f"BigCommerce refund {refund.id} of order {order_id}{reason}",
        adjustment=adjustment,
    )


def _with_adjustment(lines: list[PlannedLine], total: Decimal, refund_line: PlannedLine, refund: Refund,
                     sale: SalePlan) -> tuple[list[PlannedLine], Decimal]:
    """`lines` and what the refund gave back beyond them (on the refund product), and that amount.
    Beyond the lines as they are, not as rounded to cents: X-Series totals the return from its lines
    (§8.2), so lines plus adjustment must add up to the refund's payments exactly. Units are at up to
    PRICE_PLACES decimals, and so is their exact sum and the adjustment."""
    adjustment = total - sum((-line.quantity * (line.unit_price + line.unit_tax) for line in lines), ZERO)
    if adjustment:
        lines = lines + _adjustment_lines(refund_line, adjustment, refund, lines, sale)
    return lines, adjustment


def _tax_back(lines: list[PlannedLine]) -> Decimal:
    return cents(sum((-line.quantity * line.unit_tax for line in lines), ZERO))


def _tax_to_the_cent(lines: list[PlannedLine], refund: Refund, refund_line: PlannedLine) -> list[PlannedLine]:
    """BigCommerce rounds each item's tax to cents; the returned units carry the sale's unit taxes (a
    line's tax over its units, at five places): over several items the return's tax can be a cent or
    two off the refund's. When rounding is all that is off, each rate's tax is rounded so that they
    add up to the refund's (largest remainder) by a line on the refund product at that rate, whose
    price takes back what its tax gives: the return's total stays, its tax is BigCommerce's."""
    if refund.total_tax is None or _tax_back(lines) == cents(refund.total_tax):
        return []
    exact: dict[str, tuple[Decimal, PlannedLine]] = {}
    for line in lines:
        if line.unit_tax:
            exact[line.tax_id] = (exact.get(line.tax_id, (ZERO, line))[0] - line.quantity * line.unit_tax, line)
    gap = cents(refund.total_tax) - sum((tax for tax, _ in exact.values()), ZERO)
    if not exact or abs(gap) > HALF_CENT * (1 + sum(1 for line in lines if line.unit_tax)):
        return []  # more than rounding (half a cent an item, and the sale's): left for a person to see
    floors = {tax_id: tax.quantize(CENT, ROUND_FLOOR) for tax_id, (tax, _) in exact.items()}
    each, extra = divmod(int((cents(refund.total_tax) - sum(floors.values(), ZERO)) / CENT), len(floors))
    up = sorted(floors, key=lambda tax_id: floors[tax_id] - exact[tax_id][0])[:extra]
    fixed = {tax_id: floors[tax_id] + CENT * (each + (tax_id in up)) - exact[tax_id][0] for tax_id in floors}
    return [replace(refund_line, unit_price=-fix, unit_tax=fix, tax_id=tax_id, tax_source=exact[tax_id][1].tax_source)
            for tax_id, fix in fixed.items() if fix]


def _returned_units(line_id: int | None, quantity: int | None, sale: SalePlan, order_id: int,
                    refund_id: int) -> list[PlannedLine]:
    """`quantity` units of the order product `line_id`, as the sale sold them (a line split into
    units of different cents gives back the first ones)."""
    sold = [line for line in sale.lines if line.bc_line_id and line.bc_line_id == line_id
            and line.kind not in CHARGE_KINDS]  # an address id may equal an order product's
    if not sold:
        raise MappingError(f"refund {refund_id} returns order product {line_id}, which the sale does not have",
                           order_id=order_id, kind="refund")
    if not quantity:
        raise MappingError(f"refund {refund_id} gives money back on {sold[0].sku} without returning a unit;"
                           " X-Series cannot return part of a line: record it by hand", order_id=order_id,
                           kind="refund")
    if quantity > sum(line.quantity for line in sold):
        raise MappingError(f"refund {refund_id} returns {quantity} of {sold[0].sku}, more than the sale sold",
                           order_id=order_id, kind="refund")
    returned, left = [], quantity
    for line in sold:
        take = min(left, line.quantity)
        if take:
            returned.append(replace(line, quantity=-take))
        left -= take
    return returned


def _adjustment_lines(refund_line: PlannedLine, adjustment: Decimal, refund: Refund, lines: list[PlannedLine],
                      sale: SalePlan) -> list[PlannedLine]:
    """What BigCommerce gave back beyond the units and charges, on the refund product. Untaxed when
    the refund's total_tax says the lines' tax is all its tax (an order-level amount does not change
    tax, §15); else — a share of an order-level discount, a merchant's override of a unit's price —
    the tax the refund gave back beyond the lines': at the rate that explains it best, a returned
    line's first (the discount's rate, the unit's), or split over the sale's discount rates as the
    sale's discount was (a coupon over two rates, refunded whole). Left untaxed when neither explains
    it (the return's total is right either way; its tax is not: a person sees the gap)."""
    untaxed = [replace(refund_line, unit_price=adjustment)]
    if refund.total_tax is None:
        return untaxed
    # The lines' tax as it is, not rounded to cents: a half cent of it (a unit's 0.665) rounded away
    # is a half cent the gap, and the rate test below, would be wrong by.
    gap = cents(refund.total_tax) - sum((-line.quantity * line.unit_tax for line in lines), ZERO)
    ex_tax = adjustment - gap
    if abs(gap) < HALF_CENT or not ex_tax:
        # The lines' tax rounds to the refund's: the adjustment changed no tax (an order-level amount).
        return untaxed
    # Half a cent per figure rounded to cents: the refund's total and tax, each returned line's amount
    # and tax (the sale rounds each line to cents; BigCommerce sums them unrounded).
    slack = HALF_CENT * (2 + len(lines))
    # At the rate of a tax the returned lines used, else one the sale used: a small amount fits several
    # rates, and the share of the units returned is at theirs.
    line = (_one_rate(lines, ex_tax, gap, sale, slack) or _rate_explaining(lines, ex_tax, gap, sale, slack)
            or _rate_explaining(sale.lines, ex_tax, gap, sale, slack))
    if line is not None:
        return [replace(refund_line, unit_price=ex_tax, unit_tax=gap, tax_id=line.tax_id, tax_source=line.tax_source)]
    split = _split_as_discounted(refund_line, ex_tax, gap, sale)
    return split or untaxed


def _off(line: PlannedLine, ex_tax: Decimal, gap: Decimal, sale: SalePlan, slack: Decimal) -> Decimal | None:
    """How far `gap` is from the tax of `ex_tax` at the line's rate, when within rounding: `slack` off
    the gap and twice that off the amount (total − lines − gap), which the rate makes rate × that of
    tax; a further half cent when the rate is read from a line's rounded unit tax. None beyond."""
    rate = sale.rate_of(line)
    exact = line.tax_source == "rate" and line.tax_id in sale.rates
    off = abs(ex_tax * rate - gap)
    return off if off <= slack * (1 + 2 * abs(rate)) + (0 if exact else HALF_CENT) else None


def _one_rate(lines: list[PlannedLine], ex_tax: Decimal, gap: Decimal, sale: SalePlan,
              slack: Decimal) -> PlannedLine | None:
    """The returned line whose tax every taxed returned line and every discount line of the sale
    share, when they share one: a coupon's share can only be at that rate, so only its sign and size
    are checked (twice the rounding slack: the sale's discount line is rounded too); None otherwise."""
    taxed = [line for line in lines if line.unit_tax and line.unit_price]
    discounts = [line for line in sale.lines if line.kind == "discount" and line.unit_tax]
    if not taxed or not discounts or len({line.tax_id for line in taxed + discounts}) != 1:
        return None
    return taxed[0] if _off(taxed[0], ex_tax, gap, sale, 2 * slack) is not None else None


def _rate_explaining(lines: list[PlannedLine] | tuple[PlannedLine, ...], ex_tax: Decimal, gap: Decimal,
                     sale: SalePlan, slack: Decimal) -> PlannedLine | None:
    """Of `lines`, the taxed one whose rate makes `gap` the tax of `ex_tax` within rounding, the
    closest; None when none does."""
    best, closest = None, None
    for line in lines:
        if not line.unit_price or not line.unit_tax:
            continue
        off = _off(line, ex_tax, gap, sale, slack)
        if off is not None and (closest is None or off < closest):
            best, closest = line, off
    return best


def _split_as_discounted(refund_line: PlannedLine, ex_tax: Decimal, gap: Decimal,
                         sale: SalePlan) -> list[PlannedLine] | None:
    """`ex_tax` over the sale's discount lines' rates in proportion to their amounts, when the tax that
    gives is `gap` to a cent a line (the last part takes the cents); None otherwise."""
    discounts = [line for line in sale.lines if line.kind == "discount" and line.unit_price and line.unit_tax]
    whole = sum((line.unit_price for line in discounts), ZERO)
    if len(discounts) < 2 or not whole:
        return None
    parts = [cents(ex_tax * line.unit_price / whole) for line in discounts[:-1]]
    parts.append(ex_tax - sum(parts, ZERO))
    taxes = [cents(part * line.unit_tax / line.unit_price) for part, line in zip(parts, discounts)]
    if abs(sum(taxes, ZERO) - gap) > Decimal("0.01") * len(discounts):
        return None
    taxes[-1] += gap - sum(taxes, ZERO)
    return [replace(refund_line, unit_price=part, unit_tax=tax, tax_id=line.tax_id, tax_source=line.tax_source)
            for part, tax, line in zip(parts, taxes, discounts)]


def _payments(refund: Refund, sale: SalePlan, total: Decimal, order_id: int) -> tuple[PlannedPayment, ...]:
    paid = [p for p in refund.payments if not p.is_declined]
    payments = tuple(
        PlannedPayment(_TENDERS.get(p.provider_id.strip().casefold(), "method"),
                       "" if p.provider_id.strip().casefold() in _TENDERS else sale.payment_method, cents(p.amount))
        for p in paid if p.amount
    )
    if sum((p.amount for p in payments), ZERO) != total:
        raise MappingError(f"refund {refund.id}: its payments add up to {sum((p.amount for p in payments), ZERO)}"
                           f" but it gave back {total}", order_id=order_id, kind="refund")
    return payments
