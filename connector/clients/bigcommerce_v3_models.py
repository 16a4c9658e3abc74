"""Typed BigCommerce V3 objects the connector reads: order metafields (§13), refunds (§15) and the
catalogue's products and variants (§10). Scalar types and the base model are bigcommerce_fields.py's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, PrivateAttr

from connector.clients.bigcommerce_fields import ApiModel, Money, OptionalMoney, OptionalV3Date, Text, V3Date


class Metafield(ApiModel):
    """An order metafield. orders.v3.yml's Metafield is allOf(MetafieldBase, {id, date_created,
    date_modified, owner_client_id}) and MetafieldBase requires only permission_set: id and both dates
    may be absent. key, value, namespace and resource_id stay required: without them there is no
    verdict, or no order to apply it to."""

    id: int | None = None
    key: str
    value: Text
    namespace: str
    resource_type: str = "order"  # read from the orders' endpoints only
    resource_id: int
    description: Text = ""
    date_created: OptionalV3Date = None
    date_modified: OptionalV3Date = None
    # The Date of the answer that carried it (BigCommerce's clock, set by the client), when readable.
    _answered_at: datetime | None = PrivateAttr(default=None)

    @property
    def answered_at(self) -> datetime | None:
        return self._answered_at

    @property
    def stamp(self) -> datetime | None:
        """The metafield's own time: date_modified, else date_created (when it was first written,
        at or before its value was set); None when it has neither."""
        return self.date_modified or self.date_created


class RefundItem(ApiModel):
    """What a refund gave back (§15): item_id is the order product for PRODUCT and GIFT_WRAPPING,
    the order address for SHIPPING and HANDLING, the order for ORDER and FEE."""

    item_type: Literal["PRODUCT", "GIFT_WRAPPING", "SHIPPING", "HANDLING", "ORDER", "FEE"]
    item_id: int | None = None
    quantity: int | None = None  # PRODUCT only
    requested_amount: OptionalMoney = None
    reason: Text = ""


class RefundPayment(ApiModel):
    provider_id: Text = ""  # "storecredit", "giftcertificate" or a gateway
    amount: Money
    offline: bool = False
    is_declined: bool = False


class Refund(ApiModel):
    """One refund of an order (GET /v3/orders/payment_actions/refunds). Final: never undone."""

    id: int
    order_id: int
    created: V3Date
    reason: Text = ""
    total_amount: Money
    total_tax: OptionalMoney = None
    items: list[RefundItem] = []
    payments: list[RefundPayment] = []


class VariantOptionValue(ApiModel):
    """One option of a variant, e.g. option "Size" (option_display_name), value "L" (label)."""

    id: int | None = None
    label: Text = ""
    option_id: int | None = None
    option_display_name: Text = ""


class CatalogVariant(ApiModel):
    id: int
    product_id: int
    sku: Text = ""
    # None: the variant takes the product's price (calculated_price is the one that applies).
    price: OptionalMoney = None
    calculated_price: OptionalMoney = None
    cost_price: OptionalMoney = None
    option_values: list[VariantOptionValue] = Field(default_factory=list)


class CatalogProduct(ApiModel):
    id: int
    name: Text
    sku: Text = ""
    price: Money
    cost_price: OptionalMoney = None
    tax_class_id: int | None = None
    type: str | None = None
    variants: list[CatalogVariant] = Field(default_factory=list)
