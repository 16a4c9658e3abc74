"""What a BigCommerce order holds besides its own amounts: its addresses, fees and line items (O2)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field

from connector.clients.bigcommerce_fields import ZERO, ApiModel, Money, OptionalMoney, Quantity, Text


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
