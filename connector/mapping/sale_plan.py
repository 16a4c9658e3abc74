"""Order → SalePlan: the pure heart of the mapping (no I/O, Decimal math).

A SalePlan says what the X-Series sale of a BigCommerce order must contain, in business terms:
its POS state, whether it is paid, its customer, and its lines with exact ex-tax and tax amounts.
Products and customers are named by binding keys; the sync resolves them to X-Series ids.

Money rules (why the sale's total equals the order's total to the cent, in both tax modes):
- Each product line contributes what the shopper paid for it: discounted_total_inc_tax (after every
  discount) when given, else total_inc_tax. Its tax is the line's total_tax scaled by the same
  discount. Shipping, handling and wrapping contribute their *_inc_tax and *_tax amounts.
  Both inc-tax and tax figures are given by BigCommerce in either tax mode, so the same arithmetic
  serves tax-inclusive and tax-exclusive stores.
- Amounts are rounded to cents, then the rounding residue (a cent or two) is put on the largest
  line (the tax residue on the most-taxed line) so that the lines add up exactly to total_inc_tax and total_tax. A larger gap means the order
  is inconsistent: the plan is refused with a readable reason rather than guessed at.
- X-Series takes a unit price and unit tax (0.9 register_sale_products). When a line's amounts do
  not divide evenly by its quantity it is split into (n−1) units at the rounded-down unit amounts
  and 1 unit carrying the remainder, so quantity × unit adds up exactly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from connector.errors import MappingError
from connector.mapping.special_lines import SpecialLine, SpecialLines
from connector.mapping.status_table import PosState, StatusTable

ZERO = Decimal("0")
CENT = Decimal("0.01")
INVOICE_PREFIX = "BC-"


def invoice_number(bc_order_id: int, generation: int = 1) -> str:
    """The sale's deterministic reference: how a lost sale write is found again (reference §8.4).
    A re-opened order's later sales carry their generation: BC-123-2."""
    base = f"{INVOICE_PREFIX}{bc_order_id}"
    return base if generation <= 1 else f"{base}-{generation}"


def product_key_for_sku(sku: str) -> str:
    return "sku:" + sku.strip().casefold()


def custom_product_sku(name: str) -> str:
    """A stable SKU for a custom line without one, so the same custom item reuses one product."""
    digest = hashlib.sha1(name.strip().casefold().encode()).hexdigest()[:10]
    return f"bc-custom-{digest}"


@dataclass(frozen=True)
class PlannedCustomer:
    email: str | None  # None: the order has no e-mail, the sale goes without a customer
    first_name: str
    last_name: str
    phone: str = ""
    company: str = ""
    street_1: str = ""
    street_2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country_iso2: str = ""

    @property
    def email_key(self) -> str | None:
        return self.email.strip().casefold() if self.email else None


@dataclass(frozen=True)
class PlannedLine:
    kind: str  # product | custom | shipping | handling | wrapping
    product_key: str  # binding key of the X-Series product
    sku: str
    name: str
    quantity: int
    unit_price: Decimal  # ex tax
    unit_tax: Decimal
    track_inventory: bool = True
    bc_product_id: int = 0
    bc_variant_id: int = 0


@dataclass(frozen=True)
class SalePlan:
    bc_order_id: int
    invoice_number: str
    pos_state: PosState
    unpaid: bool
    customer: PlannedCustomer
    lines: tuple[PlannedLine, ...]
    total_inc_tax: Decimal
    total_tax: Decimal
    payment_method: str
    sale_date: datetime
    note: str
    content_hash: str
    extra: dict[str, Any] = field(default_factory=dict)


# The billing-address fields a PlannedCustomer copies as they are (all but the e-mail).
_ADDRESS_FIELDS = tuple(f.name for f in fields(PlannedCustomer) if f.name != "email")


# json.dumps(payload, sort_keys=True) without a new encoder per order (json.dumps builds one whenever
# it is given an option). The text, and so every binding's stored hash, is the same.
_hash_json = json.JSONEncoder(sort_keys=True).encode


def order_content_hash(order: Any) -> str:
    """What, in an order, the POS mirror depends on. A change of anything else (a staff note, a
    shipment date) is not worth a write; a change of this is detected even when date_modified
    did not move (domain note C.4)."""
    payload = {
        "status": order.status_id,
        "total_inc_tax": str(order.total_inc_tax),
        "total_tax": str(order.total_tax),
        "payment_method": order.payment_method,
        "payment_status": order.payment_status,
        "email": (order.billing_address.email or "").casefold() if order.billing_address else "",
        "lines": [
            [line.id, line.product_id, line.variant_id, line.sku, line.quantity,
             str(_paid_inc_tax(line))]
            for line in order.lines
        ],
        "costs": [str(order.shipping_cost_inc_tax), str(order.handling_cost_inc_tax),
                  str(order.wrapping_cost_inc_tax)],
    }
    return hashlib.sha256(_hash_json(payload).encode()).hexdigest()


def target_state(order: Any, statuses: StatusTable) -> PosState:
    state = statuses.pos_state(order.status_id)
    if state is None:
        raise MappingError(
            f"unknown BigCommerce status id {order.status_id!r} ({getattr(order, 'status', '')!r});"
            f" add it to {statuses.source}",
            order_id=order.id,
        )
    return state


def build_sale_plan(order: Any, statuses: StatusTable, specials: SpecialLines, generation: int = 1,
                    content_hash: str | None = None) -> SalePlan:
    """The sale an order must become. Raises MappingError naming the order when it cannot.
    content_hash: the order's order_content_hash when the caller has it already."""
    state = target_state(order, statuses)
    # (what the line is, inc-tax amount, tax amount); the PlannedLines are made once the amounts
    # are reconciled, each in one go (an import plans every order: a template copied per line
    # cost a third of the planning).
    raw: list[tuple[_LineFacts, Decimal, Decimal]] = []

    for line in order.lines:
        inc = _paid_inc_tax(line)
        tax = _scaled_tax(line, inc)
        if line.product_id == 0 or not (line.sku or "").strip():
            sku = (line.sku or "").strip() or custom_product_sku(line.name)
            kind = "custom"
        else:
            sku = line.sku.strip()
            kind = "product"
        # X-Series refuses a product without a name (422): a blank line name falls back to the SKU.
        facts = (kind, product_key_for_sku(sku), sku, (line.name or "").strip() or sku, line.quantity, True,
                 line.product_id, line.variant_id or 0)
        raw.append((facts, inc, tax))

    for kind, inc, tax in (
        (SpecialLine.SHIPPING, order.shipping_cost_inc_tax, order.shipping_cost_tax),
        (SpecialLine.HANDLING, order.handling_cost_inc_tax, order.handling_cost_tax),
        (SpecialLine.WRAPPING, order.wrapping_cost_inc_tax, order.wrapping_cost_tax),
    ):
        if inc and inc != ZERO:
            product = specials.products[kind]
            facts = (kind.value, f"special:{kind.value}", product.sku, product.name, 1, False, 0, 0)
            raw.append((facts, inc, tax or ZERO))

    total_inc = _cents(order.total_inc_tax)
    total_tax = _cents(order.total_tax)
    amounts = [(_cents(inc), _cents(tax)) for _, inc, tax in raw]
    amounts = _reconcile(order.id, amounts, total_inc, total_tax)

    lines: list[PlannedLine] = []
    for (facts, _, _), (inc, tax) in zip(raw, amounts):
        lines.extend(_split_units(facts, inc - tax, tax, order.id))

    billing = order.billing_address
    email = (billing.email or "").strip() if billing else ""
    address = {name: (getattr(billing, name) if billing else "") or "" for name in _ADDRESS_FIELDS}
    customer = PlannedCustomer(email=email or None, **address)
    return SalePlan(
        bc_order_id=order.id,
        invoice_number=invoice_number(order.id, generation),
        pos_state=state,
        unpaid=statuses.is_unpaid(order.status_id, order.payment_status),
        customer=customer,
        lines=tuple(lines),
        total_inc_tax=total_inc,
        total_tax=total_tax,
        payment_method=order.payment_method or "",
        sale_date=order.date_created,
        note=f"BigCommerce order #{order.id}",
        content_hash=content_hash or order_content_hash(order),
    )


def _paid_inc_tax(line: Any) -> Decimal:
    discounted = getattr(line, "discounted_total_inc_tax", None)
    return discounted if discounted is not None else line.total_inc_tax


def _scaled_tax(line: Any, paid_inc: Decimal) -> Decimal:
    """The line's tax after discounts: its total_tax scaled by paid / undiscounted."""
    if not line.total_inc_tax:
        return ZERO
    if paid_inc == line.total_inc_tax:
        return line.total_tax
    return line.total_tax * paid_inc / line.total_inc_tax


def _cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _reconcile(order_id: int, amounts: list[tuple[Decimal, Decimal]], total_inc: Decimal,
               total_tax: Decimal) -> list[tuple[Decimal, Decimal]]:
    """Put the rounding residue on the largest (most-taxed) line; refuse an order whose lines do not
    add up."""
    if not amounts:
        if total_inc != ZERO:
            raise MappingError(f"the order has no lines but a total of {total_inc}", order_id=order_id)
        return amounts
    gap_inc = total_inc - sum(a for a, _ in amounts)
    gap_tax = total_tax - sum(t for _, t in amounts)
    tolerance = CENT * max(2, len(amounts))
    if abs(gap_inc) > tolerance or abs(gap_tax) > tolerance:
        raise MappingError(
            f"lines, shipping, handling and wrapping add up to {total_inc - gap_inc} incl. tax"
            f" ({total_tax - gap_tax} tax) but the order's total is {total_inc} ({total_tax} tax);"
            " the order is inconsistent, check it in BigCommerce",
            order_id=order_id,
        )
    amounts = list(amounts)
    largest = max(range(len(amounts)), key=lambda i: amounts[i][0])
    inc, tax = amounts[largest]
    amounts[largest] = (inc + gap_inc, tax)
    # The tax residue goes to the most-taxed line: put on the largest line it could give a
    # tax-exempt line a tax (even a negative one).
    most_taxed = max(range(len(amounts)), key=lambda i: amounts[i][1])
    inc, tax = amounts[most_taxed]
    amounts[most_taxed] = (inc, tax + gap_tax)
    return amounts


# What a planned line is, before its unit amounts are known: kind, product_key, sku, name,
# quantity, track_inventory, bc_product_id, bc_variant_id (PlannedLine's own order).
_LineFacts = tuple[str, str, str, str, int, bool, int, int]


def _split_units(facts: _LineFacts, price_total: Decimal, tax_total: Decimal,
                 order_id: int | None = None) -> list[PlannedLine]:
    sku, qty = facts[2], facts[4]
    if qty <= 0:
        raise MappingError(f"line {sku!r} has quantity {qty}", order_id=order_id)
    # PlannedLine's fields before the quantity, and after the unit amounts.
    head, tail = facts[:4], facts[5:]
    unit_price = (price_total / qty).quantize(CENT, rounding=ROUND_DOWN)
    unit_tax = (tax_total / qty).quantize(CENT, rounding=ROUND_DOWN)
    if unit_price * qty == price_total and unit_tax * qty == tax_total:
        return [PlannedLine(*head, qty, unit_price, unit_tax, *tail)]
    rest_price = price_total - unit_price * (qty - 1)
    rest_tax = tax_total - unit_tax * (qty - 1)
    return [PlannedLine(*head, qty - 1, unit_price, unit_tax, *tail),
            PlannedLine(*head, 1, rest_price, rest_tax, *tail)]
