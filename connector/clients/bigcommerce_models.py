"""Typed BigCommerce orders and order statuses, parsed once at the client boundary (reference §3, §4,
§5): an order's parts are in bigcommerce_order_parts.py, the field types in bigcommerce_fields.py, the
V3 objects (metafields, refunds, catalogue) in bigcommerce_v3_models.py.

Past the client nothing sees a money string or a date string: money is Decimal (parsed with
connector.values.parse_money, which refuses "1,234.00" rather than guess), dates are aware UTC
(V2 sends RFC-2822, V3 sends ISO-8601). Fields BigCommerce adds later are tolerated and kept
(extra="allow"), so a new API field never breaks a sync.

An order that cannot be parsed raises OrderValidationError naming the order and the bad fields, so
one broken order can be set aside without hiding which one it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from pydantic import Field, TypeAdapter, ValidationError

from connector.clients.bigcommerce_consignments import consignment_lines, shipping_consignments
from connector.clients.bigcommerce_fields import ZERO, ApiModel, Money, OptionalV2Date, Text, V2Date
from connector.clients.bigcommerce_order_parts import BillingAddress, OrderFee, OrderLine, ShippingAddress
from connector.errors import OrderSyncError


class OrderValidationError(OrderSyncError):
    """A BigCommerce order whose data is not what the API documents (missing or malformed fields).

    retryable: the order could not be read whole (a part of it, e.g. its /products, kept failing),
    not that its data is wrong: the failed queue tries it again rather than parking it."""

    def __init__(self, order_id: int | None, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.order_id = order_id
        self.retryable = retryable

    def __str__(self) -> str:
        who = f"order {self.order_id}" if self.order_id is not None else "order (no id)"
        return f"BigCommerce {who}: {self.args[0]}"


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
            embedded = consignment_lines(data.get("consignments"), data.get("items_total"))
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
