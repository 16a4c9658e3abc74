"""Typed BigCommerce objects, parsed once at the client boundary (reference §3, §4, §5); the V3
ones (metafields, refunds, catalogue) are in bigcommerce_v3_models.py, on the types defined here.

Past this module nothing sees a money string or a date string: money is Decimal (parsed with
connector.values.parse_money, which refuses "1,234.00" rather than guess), dates are aware UTC
(V2 sends RFC-2822, V3 sends ISO-8601). Fields BigCommerce adds later are tolerated and kept
(extra="allow"), so a new API field never breaks a sync.

An order that cannot be parsed raises OrderValidationError naming the order and the bad fields, so
one broken order can be set aside without hiding which one it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Callable, Iterable, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, TypeAdapter, ValidationError

from connector.errors import OrderSyncError
from connector.values import as_utc, parse_iso8601, parse_money, parse_rfc2822


class OrderValidationError(OrderSyncError):
    """A BigCommerce order whose data is not what the API documents (missing or malformed fields)."""

    def __init__(self, order_id: int | None, message: str) -> None:
        super().__init__(message)
        self.order_id = order_id

    def __str__(self) -> str:
        who = f"order {self.order_id}" if self.order_id is not None else "order (no id)"
        return f"BigCommerce {who}: {self.args[0]}"


# -- scalar parsers ----------------------------------------------------------------------------


def _blank_is_none(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`parse`, with None and '' read as no value."""

    def parse_optional(value: Any) -> Any:
        if value is None or value == "":
            return None
        return parse(value)

    return parse_optional


def _date(parse: Callable[[Any], datetime]) -> Callable[[Any], datetime]:
    """`parse` for the API's date strings; a datetime (a model built in Python) is made UTC."""
    return lambda value: as_utc(value) if isinstance(value, datetime) else parse(value)


def _str_or_empty(value: Any) -> str:
    # V2 sends null for some text fields that are '' elsewhere; the difference means nothing here.
    return "" if value is None else value


# Plain validators: the parser returns the final value (Decimal, aware datetime), so pydantic need
# not check it again as its own Decimal / datetime type. An order has about sixty such fields, and an
# import reads them for every order (issue 6: ≤ 1 ms of connector CPU per order).
Money = Annotated[Decimal, PlainValidator(parse_money)]
OptionalMoney = Annotated[Decimal | None, PlainValidator(_blank_is_none(parse_money))]
V2Date = Annotated[datetime, PlainValidator(_date(parse_rfc2822))]
# date_shipped is '' until the order is fully shipped.
OptionalV2Date = Annotated[datetime | None, PlainValidator(_blank_is_none(_date(parse_rfc2822)))]
V3Date = Annotated[datetime, BeforeValidator(_date(parse_iso8601))]
OptionalV3Date = Annotated[datetime | None, BeforeValidator(_blank_is_none(_date(parse_iso8601)))]
Text = Annotated[str, BeforeValidator(_str_or_empty)]
# A count of items: a negative or fractional quantity is a data error, never rounded.
Quantity = Annotated[int, Field(ge=0, strict=False)]

ZERO = Decimal("0")


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=False)


# -- orders ------------------------------------------------------------------------------------


class _Address(ApiModel):
    first_name: Text = ""
    last_name: Text = ""
    company: Text = ""
    street_1: Text = ""
    street_2: Text = ""
    city: Text = ""
    state: Text = ""
    zip: Text = ""
    country: Text = ""
    country_iso2: Text = ""


class BillingAddress(_Address):
    phone: Text = ""
    email: Text = ""


class ShippingAddress(_Address):
    """Where a shipping consignment goes, and how (O2 `shippingConsignment_Get`)."""

    id: int | None = None
    shipping_method: Text = ""
    # Its own charges: an order shipping to several addresses may tax each at its own rate.
    cost_inc_tax: OptionalMoney = None
    cost_tax: OptionalMoney = None
    cost_tax_class_id: int | None = None
    handling_cost_inc_tax: OptionalMoney = None
    handling_cost_tax: OptionalMoney = None
    handling_cost_tax_class_id: int | None = None


class OrderFee(ApiModel):
    """An order-level fee (O2 `orderFees_Resp`, e.g. "Package Protection"); part of total_inc_tax."""

    id: int | None = None
    type: Text = ""
    display_name_customer: Text = ""
    display_name_merchant: Text = ""
    source: Text = ""
    base_cost: Money = ZERO
    # What the fee adds to the order: required, like the order's own amounts. The spec's own
    # example spells it `cost_exc_tax` once: both spellings are read.
    cost_ex_tax: Money = Field(validation_alias=AliasChoices("cost_ex_tax", "cost_exc_tax"))
    cost_inc_tax: Money
    cost_tax: Money
    tax_class_id: int | None = None  # None: the store's default fee tax class


class AppliedDiscount(ApiModel):
    """A discount on one line: `target` "order" (a share of an order-level discount) or "product"."""

    id: str | int
    amount: Money
    name: Text = ""
    code: str | None = None
    target: str | None = None


class ProductOption(ApiModel):
    id: int | None = None
    option_id: int | None = None
    display_name: Text = ""
    display_value: Text = ""
    value: Any = None
    type: str | None = None
    name: str | None = None


ConsignmentKind = Literal["shipping", "pickup", "download", "email"]


class OrderLine(ApiModel):
    """One order product (O2 `orderProducts`). Prices are per unit, totals are × quantity."""

    id: int
    order_id: int
    product_id: int  # 0 for a custom (non-catalog) item
    variant_id: int | None = None  # 0 for custom items; absent in some API answers
    name: Text
    sku: Text = ""
    type: str | None = None  # physical, digital, giftcertificate
    quantity: Quantity
    base_price: Money
    price_ex_tax: Money
    price_inc_tax: Money
    price_tax: Money
    total_ex_tax: Money
    total_inc_tax: Money
    total_tax: Money
    # Line total after all discounts, tax included; absent on older stores.
    discounted_total_inc_tax: OptionalMoney = None
    # The merchant's unit cost; orderProducts carries no tax class (the order's charges do).
    cost_price_ex_tax: OptionalMoney = None
    applied_discounts: list[AppliedDiscount] = Field(default_factory=list)
    product_options: list[ProductOption] = Field(default_factory=list)
    # Which consignment the line came from (None when read from /orders/{id}/products).
    consignment: ConsignmentKind | None = None


_FLAG = TypeAdapter(bool | None)


@dataclass(frozen=True)
class OrderStatusRead:
    """An order's status id, read alone from an order answer (ID verification needs nothing else)."""

    order_id: int
    status_id: int
    archived: bool = False  # is_deleted: true (§2); absent means not archived

    @classmethod
    def from_answer(cls, order_id: int, data: Any) -> "OrderStatusRead":
        status_id = data.get("status_id") if isinstance(data, dict) else None
        if isinstance(status_id, str) and status_id.strip().isdigit():
            status_id = int(status_id)
        if isinstance(status_id, bool) or not isinstance(status_id, int):
            raise OrderValidationError(order_id, f"the order answer has no integer status_id ({status_id!r})")
        try:  # read as the order mirror's model reads it (pydantic's bool: "true", 1…), so both agree
            archived = bool(_FLAG.validate_python(data.get("is_deleted")))
        except ValidationError:
            raise OrderValidationError(order_id, f"is_deleted is not a boolean ({data.get('is_deleted')!r})") from None
        return cls(order_id, status_id, archived)


class Order(ApiModel):
    """A V2 order (O2 `order_Resp`) with its line items flattened from the embedded consignments."""

    # Strict: the order's identity is never coerced (JSON true would otherwise become order 1).
    id: int = Field(strict=True)
    customer_id: int  # 0 = guest
    date_created: V2Date
    date_modified: V2Date
    date_shipped: OptionalV2Date = None
    status_id: int
    status: Text

    # The amounts a sale is built from: required, an order without them cannot be mirrored.
    subtotal_ex_tax: Money
    subtotal_inc_tax: Money
    subtotal_tax: Money
    shipping_cost_ex_tax: Money
    shipping_cost_inc_tax: Money
    shipping_cost_tax: Money
    total_ex_tax: Money
    total_inc_tax: Money
    total_tax: Money
    # Charges and adjustments that many orders do not use: absent means none.
    base_shipping_cost: Money = ZERO
    shipping_cost_tax_class_id: int | None = None
    handling_cost_tax_class_id: int | None = None
    wrapping_cost_tax_class_id: int | None = None
    base_handling_cost: Money = ZERO
    handling_cost_ex_tax: Money = ZERO
    handling_cost_inc_tax: Money = ZERO
    handling_cost_tax: Money = ZERO
    base_wrapping_cost: Money = ZERO
    wrapping_cost_ex_tax: Money = ZERO
    wrapping_cost_inc_tax: Money = ZERO
    wrapping_cost_tax: Money = ZERO
    discount_amount: Money = ZERO
    coupon_discount: Money = ZERO
    store_credit_amount: Money = ZERO
    gift_certificate_amount: Money = ZERO
    # The spec says this "always returns 0"; refunds are read from status_id / V3 refunds.
    refunded_amount: Money = ZERO

    is_tax_inclusive_pricing: bool = False
    payment_method: Text = ""
    payment_status: Text = ""
    currency_code: str | None = None
    # The transactional currency (what the shopper paid in), despite its name (reference §15).
    default_currency_code: str | None = None
    order_is_digital: bool = False
    # Archived by the merchant (DELETE /v2/orders/{id}, §2); whether lists show archived orders is
    # not documented, so the order path looks at it (None: not said, not archived).
    is_deleted: bool | None = None
    customer_message: Text = ""
    billing_address: BillingAddress

    lines: list[OrderLine] = Field(default_factory=list)
    # False when the answer did not embed consignments (e.g. the answer to a PUT): `lines` is then
    # empty because it was not sent, not because the order has none.
    lines_included: bool = False
    fees: list[OrderFee] = Field(default_factory=list)
    # False when the answer held no fee array (a link object, or no `fees` at all).
    fees_included: bool = False
    # Read from the embedded shipping consignments (the answer's own `shipping_addresses` is a
    # link object); empty when consignments are not embedded.
    shipping_addresses: list[ShippingAddress] = Field(default_factory=list)

    @classmethod
    def from_api(
        cls, data: dict[str, Any], products: list[dict[str, Any]] | None = None,
        fees: list[dict[str, Any]] | None = None, shipping_addresses: list[dict[str, Any]] | None = None,
    ) -> "Order":
        """Parse a V2 order. `products` (from /orders/{id}/products) replaces embedded lines,
        `fees` (from /orders/{id}/fees) the embedded fees, `shipping_addresses` (from
        /orders/{id}/shipping_addresses, same fields) the embedded shipping consignments."""
        order_id = _order_id_of(data)
        if not isinstance(data, dict):
            raise OrderValidationError(order_id, f"expected a JSON object, got {type(data).__name__}")
        lines = products
        if lines is None:
            embedded = consignment_lines(data.get("consignments"))
            if embedded is not None:
                lines = [{**line, "consignment": kind} for kind, line in embedded]
        if fees is None and isinstance(data.get("fees"), list):
            fees = data["fees"]
        fields = {
            **data, "lines": lines or [], "lines_included": lines is not None,
            "fees": fees or [], "fees_included": fees is not None,
            "shipping_addresses": shipping_consignments(data.get("consignments") if shipping_addresses is None
                                                        else {"shipping": shipping_addresses}),
        }
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise OrderValidationError(order_id, _describe(exc, fields["lines"])) from None


class OrderStatus(ApiModel):
    id: int
    name: Text
    system_label: Text = ""
    custom_label: Text = ""

    @property
    def label(self) -> str:
        """What the merchant sees (their renamed label, or the system one)."""
        return self.custom_label or self.system_label or self.name


# -- helpers -----------------------------------------------------------------------------------

_CONSIGNMENT_LISTS: tuple[tuple[str, ConsignmentKind], ...] = (
    ("shipping", "shipping"),
    ("pickups", "pickup"),
    ("downloads", "download"),
)


def consignment_lines(consignments: Any) -> list[tuple[ConsignmentKind, dict[str, Any]]] | None:
    """The line items embedded in an order's consignments (O2 `orderConsignment_Get`), in order.

    Returns None when the consignments are not embedded with their line items (a link object
    `{url, resource}`, or line items given as links or left out): the lines must then be fetched from
    /orders/{id}/products. Accepts the object structure and the older array of such objects.
    A line that appears in two consignments is kept once.
    """
    if consignments is None:
        return None
    groups = consignments if isinstance(consignments, list) else [consignments]
    if not groups:
        return None
    by_id: dict[Any, tuple[ConsignmentKind, dict[str, Any]]] = {}  # the first one of each line id
    for group in groups:
        if not isinstance(group, dict) or _is_link(group):
            return None
        found: list[tuple[ConsignmentKind, Any]] = [
            (kind, c) for key, kind in _CONSIGNMENT_LISTS for c in _as_list(group.get(key))
        ]
        email = group.get("email")
        if isinstance(email, dict):
            found += [("email", c) for c in _as_list(email.get("gift_certificates"))]
        for kind, consignment in found:
            items = _line_items(consignment)
            if items is None:
                return None
            for item in items:
                by_id.setdefault(item.get("id"), (kind, item))
    return list(by_id.values())


_ADDRESS_KEYS = tuple(ShippingAddress.model_fields)


def shipping_consignments(consignments: Any) -> list[dict[str, Any]]:
    """The embedded shipping consignments' addresses and shipping methods (only those fields: the
    lines are the order's, the costs its own); [] when not embedded."""
    groups = consignments if isinstance(consignments, list) else [consignments]
    return [
        {k: c[k] for k in _ADDRESS_KEYS if k in c}
        for group in groups if isinstance(group, dict) and not _is_link(group)
        for c in _as_list(group.get("shipping")) if isinstance(c, dict)
    ]


def _line_items(consignment: Any) -> list[dict[str, Any]] | None:
    """A consignment's embedded line items; None if they are only links, or left out (the spec
    requires no property of a consignment: `include=consignments` alone may omit them)."""
    if not isinstance(consignment, dict):
        return []
    if consignment.get("line_items") is None:
        return None
    items = _as_list(consignment["line_items"])
    if any(not isinstance(item, dict) or _is_link(item) for item in items):
        return None
    return items


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _is_link(value: dict[str, Any]) -> bool:
    return "resource" in value and "id" not in value


def _order_id_of(data: Any) -> int | None:
    if isinstance(data, dict):
        raw = data.get("id")
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
    return None


def _describe(exc: ValidationError, lines: list[dict[str, Any]]) -> str:
    """'total_inc_tax: Value error, not a money value ...; line 65 quantity: ...'."""
    parts = [f"{_where(error['loc'], lines)}: {error['msg']}" for error in exc.errors(include_url=False)]
    return "invalid data: " + "; ".join(parts)


def _where(loc: Iterable[Any], lines: list[dict[str, Any]]) -> str:
    loc = list(loc)
    if len(loc) >= 2 and loc[0] == "lines" and isinstance(loc[1], int):
        index = loc[1]
        line_id = lines[index].get("id") if index < len(lines) else None
        rest = ".".join(str(p) for p in loc[2:])
        name = f"line {line_id}" if line_id is not None else f"line #{index + 1}"
        return f"{name} {rest}".strip()
    return ".".join(str(p) for p in loc) or "order"
