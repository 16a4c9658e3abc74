"""Typed X-Series objects: what the connector reads from and writes to Lightspeed Retail.

Field names are the API's own (xseries-api.md §7–§10, the API 2.0 OpenAPI file); the sales are in
xseries_sale_models.py, the scalar types and base models in xseries_fields.py. Read models tolerate extra
fields, because the API adds fields without notice. Inside Python, money and quantities are Decimal and
dates are aware UTC; on the X-Series wire money is a JSON number, so write models serialize Decimal →
float only when dumped as JSON, and read models parse numbers through str() (0.1 stays 0.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import ConfigDict, model_validator

from connector.clients.xseries_fields import (Money, OptionalMoney, OptionalQuantity, Quantity, ReadModel,
                                              UtcDatetime, Versioned, WriteModel)


# -- reference data ----------------------------------------------------------------------------


class RetailerCurrency(ReadModel):
    code: str | None = None


class Retailer(ReadModel):
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


class Outlet(Versioned):
    id: str
    name: str | None = None


class Register(Versioned):
    id: str
    name: str | None = None
    outlet_id: str | None = None
    invoice_prefix: str | None = None
    invoice_suffix: str | None = None
    is_open: bool | None = None


class User(ReadModel):
    id: str
    username: str | None = None
    display_name: str | None = None
    email: str | None = None
    account_type: str | None = None
    restricted_outlet_ids: list[str] | None = None  # empty or absent: every outlet
    deleted_at: UtcDatetime = None


class PaymentType(Versioned):
    id: str  # the value of retailer_payment_type_id on a sale payment
    name: str | None = None


class TaxRate(ReadModel):
    id: str | None = None
    name: str | None = None
    rate: Money = Decimal(0)  # 0.1 = 10 %
    display_name: str | None = None


class Tax(Versioned):
    id: str
    name: str | None = None
    display_name: str | None = None
    is_default: bool | None = None
    rates: list[TaxRate] = []

    @model_validator(mode="before")
    @classmethod
    def _null_rates(cls, data: Any) -> Any:
        # The spec does not require `rates`; null, as an implementation may send it, is as absent:
        # a tax with no component rates (rate 0).
        if isinstance(data, dict) and "rates" in data and data["rates"] is None:
            data = {k: v for k, v in data.items() if k != "rates"}
        return data

    @property
    def rate(self) -> Decimal:
        """The tax's total rate (0.15 = 15 %); a group tax charges the sum of its rates."""
        return sum((r.rate for r in self.rates), Decimal(0))


# -- products ----------------------------------------------------------------------------------


class Product(Versioned):
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


class VariantAttribute(ReadModel):
    """A variant attribute such as "Size" (GET /api/2.0/variant_attributes)."""

    id: str
    name: str | None = None
    deleted_at: UtcDatetime = None


class ProductInventory(WriteModel):
    outlet_id: str
    current_amount: Quantity


class _ProductBody(WriteModel):
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


class Customer(Versioned):
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    customer_code: str | None = None


class CustomerCreate(WriteModel):
    """Body of POST /api/2.0/customers; first_name and last_name are required by the API."""

    first_name: str
    last_name: str
    email: str | None = None
    customer_code: str | None = None
    phone: str | None = None
    company_name: str | None = None
    physical_address_1: str | None = None
    physical_address_2: str | None = None
    physical_city: str | None = None
    physical_postcode: str | None = None
    physical_state: str | None = None
    physical_country_id: str | None = None


# -- inventory ---------------------------------------------------------------------------------


class InventoryRecord(ReadModel):
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
