"""Typed X-Series sales: the 0.9 register_sales body the connector writes (§8.2), the sale it reads
back (§8.5), the legacy status a sale's state and attributes tell (§8.1), and the part of a write's
answer the order path keeps. Scalar types and base models are xseries_fields.py's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, model_validator

from connector.clients.xseries_fields import (
    Money,
    OptionalMoney,
    OptionalQuantity,
    Quantity,
    ReadModel,
    SaleDate,
    UtcDatetime,
    Versioned,
    WriteModel,
)


# -- sales: the 0.9 write body -----------------------------------------------------------------


def _sequence_out(value: int | None) -> str | None:
    # The documented 0.9 examples send the line order as a string ("0", "1", …).
    return None if value is None else str(value)


def _flag_out(value: bool | None) -> int | None:
    # price_set is 0/1 in the documented 0.9 body.
    return None if value is None else int(value)


class RegisterSaleProduct(WriteModel):
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


class RegisterSalePayment(WriteModel):
    retailer_payment_type_id: str
    amount: Money  # tax-inclusive amount paid
    payment_date: SaleDate = None
    register_id: str | None = None
    id: str | None = None  # an existing payment, on update


class RegisterSale(WriteModel):
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


class SaleLine(ReadModel):
    id: str | None = None
    product_id: str | None = None
    quantity: OptionalQuantity = None
    price: OptionalMoney = None
    tax: OptionalMoney = None  # per unit
    tax_id: str | None = None
    discount: OptionalMoney = None
    cost: OptionalMoney = None


class SalePayment(ReadModel):
    id: str | None = None
    amount: OptionalMoney = None
    payment_date: UtcDatetime = None
    retailer_payment_type_id: str | None = None


# 0.9 name → the 2.0 name the read model uses.
_SALE_09_NAMES = {
    "register_sale_products": "line_items",
    "register_sale_payments": "payments",
    "register_sale_attributes": "attributes",
}


class Sale(Versioned):
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
        return _totals(data)

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


def _nested(data: Any, key: str, outer: str, inner: str) -> Any:
    """`data` with `key` read from the date-versioned sale's `outer{inner}` (§8.6) when it has none."""
    if isinstance(data, dict) and data.get(key) is None and isinstance(data.get(outer), dict):
        return {**data, key: data[outer].get(inner)}
    return data


def _totals(data: Any) -> Any:
    """`data` with total_price / total_tax read from the date-versioned `totals{price, tax}` (§8.6)
    when it has neither."""
    if isinstance(data, dict) and isinstance(data.get("totals"), dict) \
            and data.get("total_price") is None and data.get("total_tax") is None:
        return {**data, "total_price": data["totals"].get("price"), "total_tax": data["totals"].get("tax")}
    return data


class WrittenLine(BaseModel):
    """A line or payment of a sale write's answer: only what ties it to what was posted."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    product_id: str | None = None
    retailer_payment_type_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_2026(cls, data: Any) -> Any:
        # The date-versioned sale names a line's product product{id}, a payment's type type{config_id}.
        return _nested(_nested(data, "product_id", "product", "id"), "retailer_payment_type_id", "type", "config_id")


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

    @model_validator(mode="before")
    @classmethod
    def _read_20(cls, data: Any) -> Any:
        # The answer's shape is unverified (§13): a 2.0-shaped sale (§8.5, §8.6) names its lines
        # line_items and its payments payments; their ids are what a later re-post must name.
        if isinstance(data, dict):
            renamed = {old: data[new] for old, new in _SALE_09_NAMES.items()
                       if data.get(old) is None and data.get(new) is not None and old != "register_sale_attributes"}
            data = _totals({**data, **renamed} if renamed else data)
        return data

    @classmethod
    def of(cls, sale: Sale | WrittenSale) -> WrittenSale:
        """A write's answer as it is, or a sale read (found by its invoice number after a lost answer)
        read the same way: its lines' and payments' ids are what a later re-post must name either way."""
        if isinstance(sale, WrittenSale):
            return sale
        return cls.model_validate(sale.model_dump(include={"id", "status", "state", "invoice_number",
                                                           "line_items", "payments"}))

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
