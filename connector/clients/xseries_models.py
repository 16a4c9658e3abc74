"""Typed X-Series objects: what the connector reads from and writes to Lightspeed Retail.

Field names are the API's own (xseries-api.md §7–§10, the API 2.0 OpenAPI file, the 0.9
register_sales body in §8.2/§8.7). Read models tolerate extra fields, because the API adds fields
without notice. Inside Python, money and quantities are Decimal and dates are aware UTC; on the
X-Series wire money is a JSON number, so write models serialize Decimal → float only when dumped
as JSON, and read models parse numbers through str() (0.1 stays 0.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, model_validator

from connector.values import as_utc, parse_iso8601, parse_money

# -- scalar types ------------------------------------------------------------------------------


def _optional_money_in(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    return parse_money(value)


_EXACT_INTEGERS = 2**53


def _decimal_out(value: Decimal) -> int | float:
    # X-Series takes JSON numbers; float(str) keeps every value with ≤ 15 significant digits exact.
    # Whole values go as integers (quantity 2, not 2.0), as in the documented examples.
    # (Money here is finite: parse_money refuses NaN and infinities.)
    whole = int(value)
    if whole == value and -_EXACT_INTEGERS < whole < _EXACT_INTEGERS:
        return whole
    return float(value)


# Values the 0.9 API has been seen to use for "no date".
_NO_DATE = frozenset({"", "0000-00-00 00:00:00", "0000-00-00T00:00:00+00:00"})


def _optional_date_in(value: object) -> datetime | None:
    """2.0 ISO-8601 ('2014-09-18T01:37:56+00:00') or 0.9 '2016-05-05 23:35:34' (UTC) → aware UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        if value.strip() in _NO_DATE:
            return None
        return parse_iso8601(value)
    raise ValueError(f"not a date: {value!r}")


def _sale_date_out(value: datetime) -> str:
    """The 0.9 sale body's own format, always UTC: '2016-05-05 23:35:34'."""
    utc = as_utc(value)
    if utc.year < 1000:  # isoformat pads the year to four digits, strftime does not
        return utc.strftime("%Y-%m-%d %H:%M:%S")
    return utc.replace(tzinfo=None).isoformat(" ", "seconds")

Money = Annotated[Decimal, BeforeValidator(parse_money), PlainSerializer(_decimal_out, when_used="json")]
OptionalMoney = Annotated[
    Decimal | None,
    BeforeValidator(_optional_money_in),
    PlainSerializer(lambda v: None if v is None else _decimal_out(v), when_used="json"),
]
# Quantities travel like money: JSON numbers on the wire, Decimal inside.
Quantity = Money
OptionalQuantity = OptionalMoney
UtcDatetime = Annotated[datetime | None, BeforeValidator(_optional_date_in)]
SaleDate = Annotated[
    datetime | None,
    BeforeValidator(_optional_date_in),
    PlainSerializer(lambda v: None if v is None else _sale_date_out(v), when_used="json"),
]


class _ReadModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _WriteModel(BaseModel):
    # Extra fields are allowed so a caller can send a documented field we did not model
    # (short_code, accounts_transaction_id, product_codes…); they are serialized as given.
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_body(self) -> dict[str, Any]:
        """The JSON body: unset optional fields left out, Decimal as numbers, dates formatted."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> bytes:
        """to_body() as the encoded document (UTF-8, compact), serialized in one step by
        pydantic-core: half the CPU of to_body() + json.dumps, and what a sale's binding keeps."""
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)


class _Versioned(_ReadModel):
    """An object of a 2.0 version-cursor feed (§6): its version, and when it was deleted (None: live)."""

    version: int | None = None
    deleted_at: UtcDatetime = None


# -- reference data ----------------------------------------------------------------------------


class RetailerCurrency(_ReadModel):
    code: str | None = None


class Retailer(_ReadModel):
    id: str
    name: str | None = None
    # Drives the price/tax maths of every sale line: prices are entered tax-exclusive or not.
    tax_exclusive: bool | None = None
    currency: RetailerCurrency | None = None
    discount_product_id: str | None = None
    no_tax_group_id: str | None = None  # the retailer's own tax for tax-free lines (§7)

    @model_validator(mode="before")
    @classmethod
    def _currency_as_code(cls, data: Any) -> Any:
        # Tolerate a bare currency code where the spec has {"code", "symbol"}.
        if isinstance(data, dict) and isinstance(data.get("currency"), str):
            data = {**data, "currency": {"code": data["currency"]}}
        return data

    @property
    def currency_code(self) -> str | None:
        return self.currency.code if self.currency else None


class Outlet(_Versioned):
    id: str
    name: str | None = None


class Register(_Versioned):
    id: str
    name: str | None = None
    outlet_id: str | None = None
    invoice_prefix: str | None = None
    invoice_suffix: str | None = None
    is_open: bool | None = None


class User(_ReadModel):
    id: str
    username: str | None = None
    display_name: str | None = None
    email: str | None = None
    account_type: str | None = None
    deleted_at: UtcDatetime = None


class PaymentType(_Versioned):
    id: str  # the value of retailer_payment_type_id on a sale payment
    name: str | None = None


class TaxRate(_ReadModel):
    id: str | None = None
    name: str | None = None
    rate: Money = Decimal(0)  # 0.1 = 10 %
    display_name: str | None = None


class Tax(_Versioned):
    id: str
    name: str | None = None
    display_name: str | None = None
    is_default: bool | None = None
    rates: list[TaxRate] = []

    @property
    def rate(self) -> Decimal:
        """The tax's total rate (0.15 = 15 %); a group tax charges the sum of its rates."""
        return sum((r.rate for r in self.rates), Decimal(0))


# -- products ----------------------------------------------------------------------------------


class Product(_Versioned):
    id: str
    sku: str | None = None
    name: str | None = None
    handle: str | None = None
    variant_parent_id: str | None = None
    price_excluding_tax: OptionalMoney = None
    price_including_tax: OptionalMoney = None
    supply_price: OptionalMoney = None
    has_inventory: bool | None = None  # False: not stock-tracked
    source: str | None = None
    source_id: str | None = None
    is_active: bool | None = None


class VariantAttribute(_ReadModel):
    """A variant attribute such as "Size" (GET /api/2.0/variant_attributes)."""

    id: str
    name: str | None = None
    deleted_at: UtcDatetime = None


class ProductInventory(_WriteModel):
    outlet_id: str
    current_amount: Quantity


class _ProductBody(_WriteModel):
    # Only the spec's own fields: the API drops an undeclared one silently (a track_inventory on
    # the 2.0 body left the product stock-tracked), so a typo or a 2.1/0.9 field must fail here.
    model_config = ConfigDict(extra="forbid")


class _PricedBody(_ProductBody):
    price_excluding_tax: OptionalMoney = None
    price_including_tax: OptionalMoney = None
    supply_price: OptionalMoney = None

    @model_validator(mode="after")
    def _one_price(self) -> "_PricedBody":
        # The API refuses a body with both prices (spec: "You cannot include both").
        if self.price_excluding_tax is not None and self.price_including_tax is not None:
            raise ValueError("give price_excluding_tax or price_including_tax, not both")
        return self


class VariantDefinition(_ProductBody):
    attribute_id: str  # a VariantAttribute id
    value: str  # e.g. "L"


class ProductVariantCreate(_PricedBody):
    """One variant of a family created by POST /api/2.0/products (ProductAddVariantPayload)."""

    variant_definitions: list[VariantDefinition]
    sku: str | None = None
    inventory: list[ProductInventory] | None = None


class ProductCreate(_PricedBody):
    """Body of POST /api/2.0/products (ProductCreateBody; only `name` is required). With
    `variants`, one call creates a variant family named `name`. Products made this way are always
    stock-tracked: the 2.0 body cannot say otherwise (ProductCreate09 can)."""

    name: str
    sku: str | None = None
    handle: str | None = None
    description: str | None = None
    source: str | None = None
    source_id: str | None = None
    source_variant_id: str | None = None
    is_active: bool | None = True
    inventory: list[ProductInventory] | None = None
    variants: list[ProductVariantCreate] | None = None


class ProductCreate09(_ProductBody):
    """Body of POST /api/products (0.9 "Create or update product"): the one product create that can
    say a product is not stock-tracked. Only keys of the Postman collection's 0.9 example."""

    name: str
    sku: str
    handle: str
    source_id: str | None = None
    active: bool = True
    track_inventory: bool = False


# -- customers ---------------------------------------------------------------------------------


class Customer(_Versioned):
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    customer_code: str | None = None


class CustomerCreate(_WriteModel):
    """Body of POST /api/2.0/customers; first_name and last_name are required by the API."""

    first_name: str
    last_name: str
    email: str | None = None
    phone: str | None = None
    company_name: str | None = None
    physical_address_1: str | None = None
    physical_address_2: str | None = None
    physical_city: str | None = None
    physical_postcode: str | None = None
    physical_state: str | None = None
    physical_country_id: str | None = None


# -- sales: the 0.9 write body -----------------------------------------------------------------


def _sequence_out(value: int | None) -> str | None:
    # The documented 0.9 examples send the line order as a string ("0", "1", …).
    return None if value is None else str(value)


def _flag_out(value: bool | None) -> int | None:
    # price_set is 0/1 in the documented 0.9 body.
    return None if value is None else int(value)


class RegisterSaleProduct(_WriteModel):
    product_id: str
    quantity: Quantity  # negative for returns
    price: Money  # unit price excluding tax
    tax: Money  # unit tax amount, not a rate
    tax_id: str
    register_id: str | None = None
    sequence: Annotated[int | None, PlainSerializer(_sequence_out, when_used="json")] = None
    price_set: Annotated[bool | None, PlainSerializer(_flag_out, when_used="json")] = None
    discount: OptionalMoney = None
    cost: OptionalMoney = None
    loyalty_value: OptionalMoney = None
    status: str | None = "CONFIRMED"
    id: str | None = None  # an existing line, on update


class RegisterSalePayment(_WriteModel):
    retailer_payment_type_id: str
    amount: Money  # tax-inclusive amount paid
    payment_date: SaleDate = None
    register_id: str | None = None
    id: str | None = None  # an existing payment, on update


class RegisterSale(_WriteModel):
    """Body of POST /api/register_sales: a complete sale, to create (no id) or replace (with id)."""

    id: str | None = None
    register_id: str
    user_id: str
    customer_id: str | None = None
    sale_date: SaleDate = None
    status: str  # legacy status (CLOSED, VOIDED, ONACCOUNT, AWAITING_DISPATCH…)
    state: str | None = None  # parked / pending / closed / voided: the 2025+ docs send both
    register_sale_attributes: list[str] = []
    note: str | None = None
    invoice_number: str | None = None
    source: str | None = None
    source_id: str | None = None
    register_sale_products: list[RegisterSaleProduct] = []
    register_sale_payments: list[RegisterSalePayment] = []


# -- sales: read model -------------------------------------------------------------------------


class SaleLine(_ReadModel):
    id: str | None = None
    product_id: str | None = None
    quantity: OptionalQuantity = None
    price: OptionalMoney = None
    tax: OptionalMoney = None  # per unit
    tax_id: str | None = None
    discount: OptionalMoney = None
    cost: OptionalMoney = None


class SalePayment(_ReadModel):
    amount: OptionalMoney = None
    payment_date: UtcDatetime = None
    retailer_payment_type_id: str | None = None


# 0.9 name → the 2.0 name the read model uses.
_SALE_09_NAMES = {
    "register_sale_products": "line_items",
    "register_sale_payments": "payments",
    "register_sale_attributes": "attributes",
}


class Sale(_Versioned):
    """A sale as read back: the 0.9 `register_sale` answer or the 2.0 sale, normalised."""

    id: str
    status: str | None = None
    state: str | None = None
    invoice_number: str | None = None
    source: str | None = None
    source_id: str | None = None
    register_id: str | None = None
    user_id: str | None = None
    customer_id: str | None = None
    return_for: str | None = None
    note: str | None = None
    sale_date: UtcDatetime = None
    total_price: OptionalMoney = None  # excluding tax
    total_tax: OptionalMoney = None
    attributes: list[Any] = []
    line_items: list[SaleLine] = []
    payments: list[SalePayment] = []

    @model_validator(mode="before")
    @classmethod
    def _normalise_09(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in _SALE_09_NAMES.items():
            if old in data:
                data.setdefault(new, data.pop(old))
        for key in ("line_items", "payments", "attributes"):
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @property
    def total_including_tax(self) -> Decimal | None:
        if self.total_price is None or self.total_tax is None:
            return None
        return self.total_price + self.total_tax

    @property
    def status_code(self) -> str:
        """The legacy status, upper case; told by `state` and `attributes` when the read has no
        `status` (being replaced by them, §8.1): "" when neither says."""
        return status_code(self.status, self.state, self.attributes)


# The legacy status of a state and its first telling attribute (§8.1's mapping table).
_BY_ATTRIBUTE = {"onaccount": ("ONACCOUNT", "ONACCOUNT_CLOSED"), "layby": ("LAYBY", "LAYBY_CLOSED"),
                 "delivery": ("AWAITING_DISPATCH", "DISPATCHED_CLOSED"),
                 "pickup": ("AWAITING_PICKUP", "PICKED_UP_CLOSED"), "service": ("SERVICE", "SERVICE_CLOSED")}


def status_code(status: str | None, state: str | None, attributes: list[Any] = ()) -> str:
    if status:
        return status.upper()
    state = (state or "").lower()
    if state in ("voided", "parked"):
        return "VOIDED" if state == "voided" else "SAVED"
    if state not in ("pending", "closed"):
        return ""
    names = [str(a).lower() for a in attributes]
    for name, (pending, closed) in _BY_ATTRIBUTE.items():  # onaccount and layby first: they say more
        if name in names:
            return closed if state == "closed" else pending
    return "CLOSED" if state == "closed" else "OPEN"


class WrittenLine(BaseModel):
    """A line or payment of a sale write's answer: only what ties it to what was posted."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    product_id: str | None = None
    retailer_payment_type_id: str | None = None


class WrittenSale(BaseModel):
    """What the answer to a sale write must tell the order path: which sale it is, its state, and
    the ids its lines and payments were given (a later re-post names them, §8.3).

    Read instead of the whole Sale when nothing else is used: a sale answer echoes every line and
    payment, and validating them (Decimal for each amount) cost about 25 µs per sale (issue 6)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: str | None = None
    state: str | None = None
    invoice_number: str | None = None
    total_price: OptionalMoney = None  # what X-Series made of the lines (ex tax), when it says
    total_tax: OptionalMoney = None
    register_sale_products: list[WrittenLine] | None = None
    register_sale_payments: list[WrittenLine] | None = None

    def ids_into(self, body: RegisterSale) -> RegisterSale:
        """`body` (what was posted) with the ids this answer gave its lines and payments. A re-post
        replaces the whole sale, and lines it leaves out "are deleted and replaced" (§8.3): a void
        that named none would void new lines, not the sold ones. Matched by position, only where
        the answer echoes as many, the same products and tenders; else left without ids, as sent."""
        def matched(posted: list, answered: list[WrittenLine] | None, key: str) -> list | None:
            if not answered or len(answered) != len(posted) or any(a.id is None for a in answered):
                return None
            if any(getattr(a, key) not in (None, getattr(p, key)) for p, a in zip(posted, answered)):
                return None
            return [p.model_copy(update={"id": a.id}) for p, a in zip(posted, answered)]

        lines = matched(body.register_sale_products, self.register_sale_products, "product_id")
        payments = matched(body.register_sale_payments, self.register_sale_payments, "retailer_payment_type_id")
        update = {"register_sale_products": lines, "register_sale_payments": payments}
        return body.model_copy(update={k: v for k, v in update.items() if v is not None})


# -- inventory ---------------------------------------------------------------------------------


class InventoryRecord(_ReadModel):
    outlet_id: str
    product_id: str
    # The spec names inventory_level; live stores also send current_amount (same meaning).
    inventory_level: OptionalQuantity = None
    current_amount: OptionalQuantity = None
    version: int | None = None

    @property
    def level(self) -> Decimal | None:
        return self.current_amount if self.current_amount is not None else self.inventory_level


# -- version-cursor pages ----------------------------------------------------------------------

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """One page of a 2.0 version-cursor list; the next page starts after max_version."""

    items: list[T] = field(default_factory=list)
    max_version: int | None = None


class ProductPage(Page[Product]):
    pass
