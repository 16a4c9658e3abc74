"""A BigCommerce refund → the X-Series return that mirrors it (issue 16, point 1). Pure.

The return is a sale of its own on the same register, invoice BC-<order>-R<refund id>, with
negative quantities and refund payments (reference §8.2: "quantity: negative for returns"):
- returned products by quantity, at the unit price and tax they were sold at (the sale plan's
  lines of that order product), so their stock comes back (`refunds.restock: false` puts them on
  the refund product instead: money back, stock unchanged);
- shipping, handling, gift wrapping and fee refunds by amount, on their special products, taxed at
  the rate the sale charged them;
- order-level amounts, and what BigCommerce refunded beyond the units at their sold price (an
  order-level discount's share, a merchant's override), on the `refund` special product: untaxed
  when the refund's tax is all the lines' (an order-level amount does not change tax), else with
  the tax the refund gave back beyond them, at the sale's rate that it is;
- refund payments by tender: store credit, gift certificate, else the order's payment method.
A money-only refund of part of a product line (no unit returned) is money back on the `refund`
product at the line's rate, told by the refund's total_tax. What X-Series cannot express — such a
refund without its tax, or whose tax fits no rate, more units than were sold, payments that do
not add up — raises MappingError(kind="refund").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from itertools import combinations

from connector.clients.bigcommerce_v3_models import Refund
from connector.errors import MappingError
from connector.mapping.amounts import HALF_CENT, cents
from connector.mapping.planned_sale import PlannedLine, PlannedPayment, SalePlan
from connector.mapping.special_lines import SpecialLine, SpecialLines

ZERO = Decimal(0)
# Refund payment providers that are tenders of their own (§15); any other provider is a gateway.
_TENDERS = {"storecredit": "store_credit", "store_credit": "store_credit",
            "giftcertificate": "gift_certificate", "gift_certificate": "gift_certificate"}
# Refund item type → the special line of the sale that charged it.
_CHARGES = {"SHIPPING": SpecialLine.SHIPPING, "HANDLING": SpecialLine.HANDLING,
            "GIFT_WRAPPING": SpecialLine.WRAPPING, "FEE": SpecialLine.FEE}
_CHARGE_KINDS = {kind.value for kind in _CHARGES.values()}


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
                      restock: bool = True) -> ReturnPlan:
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
        elif item.item_type == "ORDER":
            continue  # an order-level amount: in the adjustment below
        else:
            kind = _CHARGES[item.item_type].value
            charged = [line for line in sale.lines if line.kind == kind]
            if item.item_type in ("SHIPPING", "HANDLING"):  # the address's own line, when it has one
                charged = [line for line in charged if line.bc_line_id == item.item_id] or charged
            amount = item.requested_amount
            if amount is None and item.item_type == "GIFT_WRAPPING":
                amount = sale.wrapping_by_line.get(item.item_id)  # that product's wrapping, when it says
            if amount is None and charged:
                # No requested amount (it "may be null", §15; BigCommerce computes a wrapping refund
                # itself): what the sale charged for it, once; a difference ends in the adjustment.
                # Given back already on these same charges only: another address's is not this one's.
                ids = {l.bc_line_id for l in charged}
                given = sum((-l.quantity * (l.unit_price + l.unit_tax) for l in lines
                             if l.kind == kind and l.bc_line_id in ids), ZERO)
                amount = max(ZERO, sum((l.unit_price + l.unit_tax for l in charged), ZERO) - given)
            whole = _charges_adding_up_to(charged, amount) if amount else []
            if whole:  # charges given back whole (one, or two fees in one FEE item): each at its rate
                lines += [replace(line, quantity=-line.quantity) for line in whole]
            elif amount:
                lines.append(_amount_line(_charge_given_back(charged, amount), amount, item.item_type, specials,
                                          no_tax_id))
    if not restock:
        lines = [replace(refund_line, unit_price=line.unit_price, unit_tax=line.unit_tax, quantity=line.quantity,
                         tax_id=line.tax_id) if line.kind == "product" else line for line in lines]
    total = cents(refund.total_amount)
    # Beyond the lines as they are, not as rounded to cents: X-Series totals the return from its lines
    # (§8.2), so lines plus adjustment must add up to the refund's payments exactly. Units are at up
    # to PRICE_PLACES decimals, and so is their exact sum and the adjustment.
    adjustment = total - sum((-line.quantity * (line.unit_price + line.unit_tax) for line in lines), ZERO)
    if adjustment:
        lines += _adjustment_lines(refund_line, adjustment, refund, lines, sale)
        tax_back = cents(sum((-line.quantity * line.unit_tax for line in lines), ZERO))
        if money_only and tax_back != cents(refund.total_tax):
            # Its tax fits no rate of the sale's: a person must say how it was taxed.
            raise MappingError(f"refund {refund.id} gives money back on an order product without returning a unit,"
                               " and its tax fits no rate of the sale: record it by hand", order_id=order_id,
                               kind="refund")
    payments = _payments(refund, sale, total, order_id)
    reason = f": {refund.reason}" if refund.reason else ""
    return ReturnPlan(
        refund_id=refund.id, bc_order_id=order_id, invoice_number=return_invoice_number(order_id, refund.id),
        source_id=f"{order_id}-R{refund.id}", lines=tuple(lines), payments=payments, total_inc_tax=total,
        refund_date=refund.created, note=f"BigCommerce refund {refund.id} of order {order_id}{reason}",
        adjustment=adjustment,
    )


def _returned_units(line_id: int | None, quantity: int | None, sale: SalePlan, order_id: int,
                    refund_id: int) -> list[PlannedLine]:
    """`quantity` units of the order product `line_id`, as the sale sold them (a line split into
    units of different cents gives back the first ones)."""
    sold = [line for line in sale.lines if line.bc_line_id and line.bc_line_id == line_id
            and line.kind not in _CHARGE_KINDS]  # an address id may equal an order product's
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


def _rate_of(line: PlannedLine, sale: SalePlan) -> Decimal:
    """The rate a sale line was taxed at: its X-Series tax's when that tax was picked for its rate (a
    line on the default tax, or its class's, may be at another); else its tax over its price, which
    cents rounding blurs (0.17 / 0.82 for a 20 % 0.99)."""
    if line.tax_source == "rate" and line.tax_id in sale.rates:
        return sale.rates[line.tax_id]
    return line.unit_tax / line.unit_price


def _off(line: PlannedLine, ex_tax: Decimal, gap: Decimal, sale: SalePlan, slack: Decimal) -> Decimal | None:
    """How far `gap` is from the tax of `ex_tax` at the line's rate, when within rounding: `slack` off
    the gap and twice that off the amount (total − lines − gap), which the rate makes rate × that of
    tax; a further half cent when the rate is read from a line's rounded unit tax. None beyond."""
    rate = _rate_of(line, sale)
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


def _charge_given_back(charged: list[PlannedLine], amount: Decimal) -> PlannedLine | None:
    """Of the sale's lines of a kind of charge, the one an amount given back is at the rate of. A fee
    refund names no fee (its item_id is the order's), and a shipping refund may find no line of its
    address: the line charged exactly that amount, else the first (several charges at different
    rates, neither one of them nor a few whole ones of that amount: the return's total is right,
    its tax by rate may not be)."""
    exact = [line for line in charged if line.unit_price + line.unit_tax == amount]
    return (exact or charged or [None])[0]


def _charges_adding_up_to(charged: list[PlannedLine], amount: Decimal) -> list[PlannedLine]:
    """The fewest charges whose whole amounts (incl. tax) add up to `amount`, else []: a refund of
    several fees at once names none of them. A handful of charges: every subset is tried."""
    if len(charged) > 8:
        return []
    for size in range(1, len(charged) + 1):
        for group in combinations(charged, size):
            if sum((line.quantity * (line.unit_price + line.unit_tax) for line in group), ZERO) == amount:
                return list(group)
    return []


def _amount_line(charged: PlannedLine | None, amount: Decimal, item_type: str, specials: SpecialLines,
                 no_tax_id: str) -> PlannedLine:
    """An amount given back on a charge (incl. tax), split at the rate the sale charged it."""
    kind = _CHARGES[item_type]
    if charged is None or not charged.unit_price:
        product = specials.products[kind]
        return PlannedLine(kind=kind.value, product_key=f"special:{kind.value}", sku=product.sku, name=product.name,
                           quantity=-1, unit_price=amount, unit_tax=ZERO, tax_id=no_tax_id, tax_source="none",
                           track_inventory=False)
    rate = charged.unit_tax / charged.unit_price
    ex_tax = cents(amount / (1 + rate))
    return replace(charged, quantity=-1, unit_price=ex_tax, unit_tax=amount - ex_tax)


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
