"""A BigCommerce refund's shipping, handling, gift wrapping and fee items → the return's lines that
give them back (return_plan.py). Pure.

A charge given back whole goes back as the sale charged it, at its rate, and only once in a refund;
an amount that is no whole charges goes back at the rate of the charge it is part of. A fee item names
no fee (its item_id is the order's): which fees it gave back is told by their amounts, and among
fees of the same amount by the refund's tax (fee_choices lists the ways; the return plan keeps the
one whose tax is the refund's), less the fees earlier returns gave back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from itertools import combinations

from connector.clients.bigcommerce_v3_models import Refund, RefundItem
from connector.mapping.amounts import CENT, cents
from connector.mapping.planned_sale import PlannedLine, SalePlan
from connector.mapping.special_lines import SpecialLine, SpecialLines

ZERO = Decimal(0)
# Refund item type → the special line of the sale that charged it.
CHARGES = {"SHIPPING": SpecialLine.SHIPPING, "HANDLING": SpecialLine.HANDLING,
           "GIFT_WRAPPING": SpecialLine.WRAPPING, "FEE": SpecialLine.FEE}
CHARGE_KINDS = {kind.value for kind in CHARGES.values()}
# Subsets of a sale's charges tried for an amount: every subset of a handful.
_MAX_TRIED = 8
# Ways of reading a refund's fee items weighed at most: fee items are few, fees of one amount fewer.
_MAX_CHOICES = 64


def charges_given_back(refund: Refund, sale: SalePlan, specials: SpecialLines, no_tax_id: str) -> list[PlannedLine]:
    """The return's lines for the refund's shipping, handling and wrapping items (fees: fee_choices)."""
    given: list[PlannedLine] = []
    used: set[int] = set()  # the sale's charges given back whole in this refund: never twice
    for item in refund.items:
        if item.item_type not in CHARGES or item.item_type == "FEE":
            continue
        kind = CHARGES[item.item_type].value
        charged = [i for i, line in enumerate(sale.lines) if line.kind == kind]
        if item.item_type in ("SHIPPING", "HANDLING"):  # the address's own line, when it has one
            charged = [i for i in charged if sale.lines[i].bc_line_id == item.item_id] or charged
        amount = item.requested_amount
        if amount is None and item.item_type == "GIFT_WRAPPING":
            amount = sale.wrapping_by_line.get(item.item_id)  # that product's wrapping, when it says
        if amount is None and charged:
            # No requested amount (it "may be null", §15; BigCommerce computes a wrapping refund
            # itself): what the sale charged for it, once; a difference ends in the adjustment.
            # Given back already on these same charges only: another address's is not this one's.
            ids = {sale.lines[i].bc_line_id for i in charged}
            back = sum((-l.quantity * (l.unit_price + l.unit_tax) for l in given
                        if l.kind == kind and l.bc_line_id in ids), ZERO)
            amount = max(ZERO, sum((_whole(sale.lines[i]) for i in charged), ZERO) - back)
        if not amount:
            continue
        whole = next(_groups_adding_up_to(sale, [i for i in charged if i not in used], amount), None)
        if whole:  # charges given back whole: each at its rate
            used.update(whole)
            given += [replace(sale.lines[i], quantity=-sale.lines[i].quantity) for i in whole]
        else:
            given.append(_amount_line([sale.lines[i] for i in charged], amount, item.item_type, sale, refund,
                                      specials, no_tax_id))
    return given


def fee_choices(refund: Refund, sale: SalePlan, specials: SpecialLines, no_tax_id: str,
                fees_back: Sequence[tuple[Decimal, Decimal, str]] = ()) -> list[list[PlannedLine]]:
    """The ways the refund's fee items can be the sale's fees, as the return's lines: each item one or
    more whole fees adding up to its amount, no fee given back twice — nor one an earlier return gave
    back (`fees_back`: its fee lines' price as written, ex or incl. tax, tax and tax id); the fewest
    fees, in the sale's order, first. An item that no whole fees add up to is an amount given back at
    a fee's rate. [[]] when the refund gives back no fee."""
    items = [item for item in refund.items if item.item_type == "FEE"]
    fees = [i for i, line in enumerate(sale.lines) if line.kind == SpecialLine.FEE.value]
    choices: list[list[PlannedLine]] = []

    def walk(at: int, used: frozenset[int], chosen: list[PlannedLine]) -> None:
        if len(choices) >= _MAX_CHOICES:
            return
        if at == len(items):
            choices.append(chosen)
            return
        free = [i for i in fees if i not in used]
        amount = items[at].requested_amount
        if amount is None:  # it "may be null" (§15)
            amount = _rest_of_refund(refund, items[at])
        if amount is None:  # nothing tells it: the fees not given back yet
            amount = sum((_whole(sale.lines[i]) for i in free), ZERO)
        found = False
        for group in _groups_adding_up_to(sale, free, amount) if amount else ():
            found = True
            walk(at + 1, used | set(group), chosen + [replace(sale.lines[i], quantity=-sale.lines[i].quantity)
                                                      for i in group])
        if not found:
            part = [_amount_line([sale.lines[i] for i in free or fees], amount, "FEE", sale, refund, specials,
                                 no_tax_id)]
            walk(at + 1, used, chosen + (part if amount else []))

    before: set[int] = set()
    for price, tax, tax_id in fees_back:  # an earlier return's fee line is the first fee it is, whole
        same = [i for i in fees if i not in before and (sale.lines[i].unit_tax, sale.lines[i].tax_id) == (tax, tax_id)
                and price in (sale.lines[i].unit_price, _whole(sale.lines[i]))]
        before.update(same[:1])
    walk(0, frozenset(before), [])
    return choices


def _rest_of_refund(refund: Refund, item: RefundItem) -> Decimal | None:
    """What an item without an amount gave back, when the refund's other items all tell theirs: its
    total less theirs. A FEE item names the order, not a fee, so "every fee not given back yet"
    would give back fees the refund did not (and balance them with an untaxed line). None when
    another item has no amount either, or nothing is left."""
    others = [other.requested_amount for other in refund.items if other is not item]
    if any(amount is None for amount in others):
        return None
    rest = refund.total_amount - sum(others, ZERO)
    return rest if rest > 0 else None


def _whole(line: PlannedLine) -> Decimal:
    return line.quantity * (line.unit_price + line.unit_tax)


def _groups_adding_up_to(sale: SalePlan, charged: list[int], amount: Decimal):
    """The groups of `charged` (indexes of the sale's lines) whose whole amounts (incl. tax) add up to
    `amount`, the fewest first: a refund of several fees at once names none of them."""
    if len(charged) > _MAX_TRIED:
        return
    for size in range(1, len(charged) + 1):
        for group in combinations(charged, size):
            if sum((_whole(sale.lines[i]) for i in group), ZERO) == amount:
                yield list(group)


def _amount_line(charged: list[PlannedLine], amount: Decimal, item_type: str, sale: SalePlan, refund: Refund,
                 specials: SpecialLines, no_tax_id: str) -> PlannedLine:
    """An amount given back on a charge (incl. tax), split at the rate the sale charged it: the charge
    of exactly that amount, else the first (several charges at different rates, neither one of them
    nor a few whole ones of that amount: the return's total is right, its tax by rate may not be).
    When it is all the refund gives back, its tax is the refund's own, where that fits the rate
    (BigCommerce rounds its tax half up from the exact share: 0.45 at 20 % has 0.08 of it)."""
    kind = CHARGES[item_type]
    exact = [line for line in charged if line.unit_price + line.unit_tax == amount]
    line = (exact or charged or [None])[0]
    if line is None or not line.unit_price:
        product = specials.products[kind]
        return PlannedLine(kind=kind.value, product_key=f"special:{kind.value}", sku=product.sku, name=product.name,
                           quantity=-1, unit_price=amount, unit_tax=ZERO, tax_id=no_tax_id, tax_source="none",
                           track_inventory=False)
    rate = sale.rate_of(line)
    tax = amount - cents(amount / (1 + rate))
    if len(refund.items) == 1 and refund.total_tax is not None and line.unit_tax:
        told = cents(refund.total_tax)
        # Within a cent of the amount's exact share at the rate (BigCommerce rounds the share, and the
        # amount may be a rounded figure too): a tax of another rate is not taken for this one's.
        if abs(told - amount * rate / (1 + rate)) <= CENT and abs(told) < abs(amount):
            tax = told
    return replace(line, quantity=-1, unit_price=amount - tax, unit_tax=tax)
