"""What a SalePlan says an order's sale holds (its customer, tenders and lines), and the binding keys
that name its products."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from connector.mapping.status_table import PosState

ZERO = Decimal("0")
DISCOUNT_KEY = "special:discount"  # the retailer's discount_product_id, never created


def product_key_for_sku(sku: str) -> str:
    return "sku:" + sku.strip().casefold()


def product_key_for_custom(sku: str) -> str:
    """A custom line's or gift certificate's key: apart from the catalogue's, so that a catalogue line
    of the same SKU is never sold on the product made for it untracked without a look at it."""
    return "custom:" + sku.strip().casefold()


def email_key(email: str) -> str:
    """An e-mail as bindings and the customer index key it: lowercased as X-Series' search results are
    compared, never casefolded ("straße@" and "strasse@" are two mailboxes). For an ASCII e-mail both
    are the same, so keys stored by older versions (casefolded) still match."""
    return email.strip().lower()


def custom_product_sku(name: str) -> str:
    """A stable SKU for a custom line without one, so the same custom item reuses one product."""
    digest = hashlib.sha1(name.strip().casefold().encode()).hexdigest()[:10]
    return f"bc-custom-{digest}"


@dataclass(frozen=True)
class PlannedCustomer:
    email: str | None  # None: no e-mail; a paid sale goes without a customer, an unpaid one to the walk-in
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
        return email_key(self.email) if self.email else None


@dataclass(frozen=True)
class PlannedPayment:
    tender: str  # "gift_certificate" | "store_credit" | "method"
    method: str  # BigCommerce payment_method for "method"; "" otherwise
    amount: Decimal  # tax-inclusive, 2 decimals


@dataclass(frozen=True)
class PlannedLine:
    kind: str  # product | custom | gift_certificate | shipping | handling | wrapping | fee | discount
    # Binding key: "sku:<sku casefolded>"; a catalogue line without SKU "bc:<product_id>:<variant_id>";
    # a custom line or gift certificate "custom:<sku casefolded>" (product_key_for_custom);
    # specials "special:<kind>"; the sale-level discount line DISCOUNT_KEY.
    product_key: str
    sku: str  # a catalogue line without SKU: bc-<product_id>-<variant_id>
    name: str  # a variant line: "<product name> / <option values>", e.g. "Oxford Shirt / L"
    quantity: int  # the discount line: -1
    unit_price: Decimal  # ex tax, as sold (list − product-level discount), up to PRICE_PLACES decimals
    unit_tax: Decimal
    tax_id: str  # the X-Series tax (TaxBook.pick)
    tax_source: str  # "rate" | "class" | "default" | "none" (untaxed, on the zero-rate tax)
    unit_discount: Decimal = ZERO  # product-level discount per unit, ex tax
    unit_cost: Decimal | None = None  # the merchant's cost per unit, ex tax, when known
    list_price: Decimal | None = None  # catalogue unit price (base_price), for product creation
    list_price_includes_tax: bool = False  # the store's pricing mode
    track_inventory: bool = True  # False: custom, gift_certificate and every special or discount line
    bc_product_id: int = 0
    bc_variant_id: int = 0
    family_name: str = ""  # a variant line: its catalogue product's name (the X-Series family)
    options: tuple[tuple[str, str], ...] = ()  # a variant line: (option name, value) pairs
    # What a refund names it by: the order product it sells, or for one address's shipping or
    # handling line that address (§15: SHIPPING and HANDLING items name the consignment); else 0.
    bc_line_id: int = 0


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
    note: str  # order number, shipping method and address, fees, the shopper's message
    content_hash: str
    payments: tuple[PlannedPayment, ...]  # what each tender paid, adding up to total_inc_tax
    currency: str  # the order's transactional currency; "" when the order does not say
    attributes: tuple[str, ...]  # ("delivery",), ("pickup",) or ()
    source_id: str  # "<order id>", "<order id>-<generation>" from the second sale on
    extra: dict[str, Any] = field(default_factory=dict)
    # Order product id → its gift wrapping (incl. tax), which a wrapping refund of that product gives
    # back when it names no amount (the sale has one wrapping line for the order).
    wrapping_by_line: dict[int, Decimal] = field(default_factory=dict)
    # X-Series tax id → its rate (0.2 = 20 %), for the taxes the lines carry: a refund's tax is split
    # at the tax's own rate, not one read back from a line's cent-rounded price and tax.
    rates: dict[str, Decimal] = field(default_factory=dict)

    def rate_of(self, line: PlannedLine) -> Decimal:
        """The rate a line of this sale was taxed at: its X-Series tax's when that tax was picked for
        its rate (a line on the default tax, or its class's, may be at another); else its tax over its
        price, which cents rounding blurs (0.17 / 0.82 for a 20 % 0.99)."""
        if line.tax_source == "rate" and line.tax_id in self.rates:
            return self.rates[line.tax_id]
        return line.unit_tax / line.unit_price if line.unit_price else ZERO
