"""How the simulated BigCommerce store builds an order: statuses, line items, totals, consignments.

Pure functions over plain dicts, kept apart from the HTTP layer so the money rules can be read (and
tested) on their own. Every money value leaves here as a 4-decimal string, the way V2 shows them;
the arithmetic inside is Decimal, rounded half-up to 4 places like the store's own figures.

Money rules (reference §3/§4; the shape of the spec example order 218):
- a tax-exclusive store stores ex-tax unit prices and derives inc-tax ones; a tax-inclusive store
  stores inc-tax unit prices and derives ex-tax ones (`is_tax_inclusive_pricing` says which are exact);
- line totals are unit price × quantity, so they always agree with the unit prices shown;
- shipping / handling / wrapping are given ex tax and taxed at the order's rate;
- the order-level (manual) discount is an amount off the tax-inclusive total, spread over the lines
  in proportion to `price_ex_tax` (orderProductAppliedDiscounts); the lines' shares sum exactly to it;
- total_inc_tax = subtotal_inc_tax + shipping_inc + handling_inc + wrapping_inc - discount, and
  total_tax = total_inc_tax - total_ex_tax.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connector.values import cents, money_str

FOUR_PLACES = Decimal("0.0001")
ZERO = Decimal(0)


def round4(value: Decimal) -> Decimal:
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


# --- statuses (reference §5; names, descriptions and control-panel order from the O2 examples) ---

@dataclass(frozen=True)
class SystemStatus:
    id: int
    name: str
    description: str
    sort_order: int


SYSTEM_STATUSES: dict[int, SystemStatus] = {
    s.id: s
    for s in (
        SystemStatus(0, "Incomplete", "An incomplete order happens when a shopper reached the payment page, but did not complete the transaction.", 0),
        SystemStatus(1, "Pending", "Customer started the checkout process, but did not complete it.", 1),
        SystemStatus(2, "Shipped", "Order has been shipped, but receipt has not been confirmed; seller has used the Ship Items action.", 8),
        SystemStatus(3, "Partially Shipped", "Only some items in the order have been shipped, due to some products being pre-order only or other reasons.", 6),
        SystemStatus(4, "Refunded", "Seller has used the Refund action.", 11),
        SystemStatus(5, "Cancelled", "Seller has cancelled an order, due to a stock inconsistency or other reasons.", 9),
        SystemStatus(6, "Declined", "Seller has marked the order as declined for lack of manual payment, or other reasons.", 10),
        SystemStatus(7, "Awaiting Payment", "Customer has completed checkout process, but payment has yet to be confirmed.", 2),
        SystemStatus(8, "Awaiting Pickup", "Order has been pulled, and is awaiting customer pickup from a seller-specified location.", 5),
        SystemStatus(9, "Awaiting Shipment", "Order has been pulled and packaged, and is awaiting collection from a shipping provider.", 4),
        SystemStatus(10, "Completed", "Client has paid for their digital product and their file(s) are available for download.", 7),
        SystemStatus(11, "Awaiting Fulfillment", "Customer has completed the checkout process and payment has been confirmed.", 3),
        SystemStatus(12, "Manual Verification Required", "Order is on hold while some aspect needs to be manually confirmed.", 13),
        SystemStatus(13, "Disputed", "Customer has initiated a dispute resolution process for the PayPal transaction that paid for the order.", 12),
        SystemStatus(14, "Partially Refunded", "Seller has partially refunded the order.", 14),
    )
}

# What the payment looks like for an order created in a given status (a plausible store, not a rule
# of the API: payment_status is read-only and set by the gateway).
PAYMENT_STATUS_FOR: dict[int, str] = {
    0: "", 1: "", 4: "refunded", 5: "void", 6: "declined", 7: "pending", 14: "partially refunded",
}


def status_json(status_id: int, custom_label: str) -> dict[str, Any]:
    """orderStatus_Base plus the `order` (control-panel position) that the spec examples carry."""
    s = SYSTEM_STATUSES[status_id]
    return {
        "id": s.id, "name": s.name, "system_label": s.name, "custom_label": custom_label,
        "system_description": s.description, "order": s.sort_order,
    }


# --- money ---

@dataclass(frozen=True)
class Charge:
    """One taxed amount (a unit price, a line total, shipping…) in both bases."""

    ex_tax: Decimal
    inc_tax: Decimal

    @property
    def tax(self) -> Decimal:
        return self.inc_tax - self.ex_tax

    def times(self, quantity: int) -> "Charge":
        return Charge(self.ex_tax * quantity, self.inc_tax * quantity)


def charge_from(amount: Decimal, tax_rate: Decimal, *, amount_includes_tax: bool) -> Charge:
    """A price as the store holds it → both bases, the given one exact.

    Tax added to an ex-tax price is rounded to the cent (the store's figures then stay in cents,
    like "65.2300" in the spec example); an ex-tax price taken out of an inc-tax one keeps 4
    places (like "62.6793").
    """
    amount = round4(Decimal(amount))
    if amount_includes_tax:
        return Charge(round4(amount / (1 + tax_rate)), amount)
    return Charge(amount, amount + cents(amount * tax_rate))


def spread_discount(discount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `discount` over lines in proportion to `weights`, in cents; the shares sum exactly to it."""
    total_weight = sum(weights, ZERO)
    if discount == 0 or total_weight == 0:
        return [ZERO for _ in weights]
    shares: list[Decimal] = []
    remaining = discount
    for index, weight in enumerate(weights):
        if index == len(weights) - 1:
            shares.append(remaining)
        else:
            share = cents(discount * weight / total_weight)
            shares.append(share)
            remaining -= share
    return shares


# --- building an order ---

@dataclass
class LineInput:
    product_id: int
    variant_id: int
    sku: str
    name: str
    unit_price: Decimal
    quantity: int

    @classmethod
    def from_dict(cls, line: dict[str, Any]) -> "LineInput":
        return cls(
            product_id=int(line.get("product_id", 0)),
            variant_id=int(line.get("variant_id", 0)),
            sku=str(line.get("sku", "")),
            name=str(line["name"]),
            unit_price=Decimal(str(line["unit_price"])),
            quantity=int(line["quantity"]),
        )


def build_line(
    line: LineInput, *, line_id: int, order_id: int, address_id: int, tax_rate: Decimal,
    tax_inclusive: bool, discount_share: Decimal,
) -> dict[str, Any]:
    """One orderProducts object (only fields the O2 schema declares: it forbids any other)."""
    unit = charge_from(line.unit_price, tax_rate, amount_includes_tax=tax_inclusive)
    total = unit.times(line.quantity)
    applied = []
    if discount_share:
        applied.append({
            "id": "manual-discount", "amount": money_str(discount_share), "name": "Manual Discount",
            "code": None, "target": "order",
        })
    base_price = unit.inc_tax if tax_inclusive else unit.ex_tax
    custom = line.product_id == 0
    return {
        "id": line_id,
        "order_id": order_id,
        "product_id": line.product_id,
        "variant_id": 0 if custom else line.variant_id,
        "order_pickup_method_id": 0,
        "order_address_id": address_id,
        "name": line.name,
        "name_customer": line.name,
        "name_merchant": line.name,
        "sku": line.sku,
        "upc": "",
        "type": "physical",
        "base_price": money_str(base_price),
        "price_ex_tax": money_str(unit.ex_tax),
        "price_inc_tax": money_str(unit.inc_tax),
        "price_tax": money_str(unit.tax),
        "base_total": money_str(base_price * line.quantity),
        "total_ex_tax": money_str(total.ex_tax),
        "total_inc_tax": money_str(total.inc_tax),
        "total_tax": money_str(total.tax),
        "discounted_total_inc_tax": money_str(total.inc_tax - discount_share),
        "quantity": line.quantity,
        "base_cost_price": "0.0000",
        "cost_price_inc_tax": "0.0000",
        "cost_price_ex_tax": "0.0000",
        "cost_price_tax": "0.0000",
        "weight": 1,
        "width": "0.0000",
        "height": "0.0000",
        "depth": "0.0000",
        "is_refunded": False,
        "quantity_refunded": 0,
        "refund_amount": "0.0000",
        "return_id": 0,
        "wrapping_id": 0,
        "wrapping_name": "",
        "base_wrapping_cost": "0.0000",
        "wrapping_cost_ex_tax": "0.0000",
        "wrapping_cost_inc_tax": "0.0000",
        "wrapping_cost_tax": "0.0000",
        "wrapping_message": "",
        "quantity_shipped": 0,
        "event_name": None,
        "event_date": None,
        "fixed_shipping_cost": "0.0000",
        "ebay_item_id": "",
        "ebay_transaction_id": "",
        "option_set_id": None,
        "parent_order_product_id": None,
        "is_bundled_product": False,
        "bin_picking_number": "",
        "external_id": None,
        "brand": "",
        "gift_certificate_id": None,
        "applied_discounts": applied,
        "product_options": [],
        "configurable_fields": [],
    }


def order_money(
    lines: list[dict[str, Any]], *, tax_rate: Decimal, tax_inclusive: bool, discount: Decimal,
    shipping_ex_tax: Decimal, handling_ex_tax: Decimal, wrapping_ex_tax: Decimal,
) -> dict[str, Any]:
    """The order-level money fields, as strings, from the built lines and the extra charges."""
    subtotal = Charge(sum((Decimal(line["total_ex_tax"]) for line in lines), ZERO),
                      sum((Decimal(line["total_inc_tax"]) for line in lines), ZERO))
    shipping = charge_from(shipping_ex_tax, tax_rate, amount_includes_tax=False)
    handling = charge_from(handling_ex_tax, tax_rate, amount_includes_tax=False)
    wrapping = charge_from(wrapping_ex_tax, tax_rate, amount_includes_tax=False)
    discount = round4(Decimal(discount))
    discount_ex = round4(discount / (1 + tax_rate))
    total_inc = subtotal.inc_tax + shipping.inc_tax + handling.inc_tax + wrapping.inc_tax - discount
    total_ex = subtotal.ex_tax + shipping.ex_tax + handling.ex_tax + wrapping.ex_tax - discount_ex

    def cost_fields(name: str, charge: Charge) -> dict[str, Any]:
        # base_shipping_cost, shipping_cost_ex_tax, …: the same five fields for each charge
        return {
            f"base_{name}_cost": money_str(charge.inc_tax if tax_inclusive else charge.ex_tax),
            f"{name}_cost_ex_tax": money_str(charge.ex_tax),
            f"{name}_cost_inc_tax": money_str(charge.inc_tax),
            f"{name}_cost_tax": money_str(charge.tax),
            f"{name}_cost_tax_class_id": 0,
        }

    return {
        "subtotal_ex_tax": money_str(subtotal.ex_tax),
        "subtotal_inc_tax": money_str(subtotal.inc_tax),
        "subtotal_tax": money_str(subtotal.tax),
        **cost_fields("shipping", shipping),
        **cost_fields("handling", handling),
        **cost_fields("wrapping", wrapping),
        "total_ex_tax": money_str(total_ex),
        "total_inc_tax": money_str(total_inc),
        "total_tax": money_str(total_inc - total_ex),
        "discount_amount": money_str(discount),
        "coupon_discount": "0.0000",
        "is_tax_inclusive_pricing": tax_inclusive,
        "items_total": sum(int(line["quantity"]) for line in lines),
    }


# The address fields an order's billing address, its shipping addresses and consignments share.
ADDRESS_FIELDS = (
    "first_name", "last_name", "company", "street_1", "street_2", "city", "state", "zip", "country",
    "country_iso2", "phone", "email",
)


def link(api_url: str, resource: str) -> dict[str, str]:
    """The `{url, resource}` object V2 uses in place of a sub-resource's data."""
    return {"url": api_url + resource, "resource": resource}


def shipping_consignment(
    address: dict[str, Any], order: dict[str, Any], lines: list[dict[str, Any]], *, api_url: str,
    embed_lines: bool,
) -> dict[str, Any]:
    """shippingConsignment_Get for the order's one shipping address; costs are JSON numbers here."""
    order_id = order["id"]
    address_id = address["id"]

    def number(field: str) -> float:
        try:
            return float(Decimal(str(order.get(field, "0"))))
        except ArithmeticError:
            return 0.0

    return {
        "id": address_id,
        **{k: address[k] for k in (*ADDRESS_FIELDS, "form_fields")},
        "shipping_method": address["shipping_method"],
        "line_items": (
            [dict(line) for line in lines]
            if embed_lines
            else [link(api_url, f"/orders/{order_id}/products/{line['id']}") for line in lines]
        ),
        "items_total": sum(int(line["quantity"]) for line in lines),
        "items_shipped": sum(int(line["quantity_shipped"]) for line in lines),
        "base_cost": number("base_shipping_cost"),
        "cost_ex_tax": number("shipping_cost_ex_tax"),
        "cost_inc_tax": number("shipping_cost_inc_tax"),
        "cost_tax": number("shipping_cost_tax"),
        "cost_tax_class_id": 0,
        "base_handling_cost": number("base_handling_cost"),
        "handling_cost_ex_tax": number("handling_cost_ex_tax"),
        "handling_cost_inc_tax": number("handling_cost_inc_tax"),
        "handling_cost_tax": number("handling_cost_tax"),
        "handling_cost_tax_class_id": 0,
        "shipping_zone_id": 1,
        "shipping_zone_name": address["country"],
        "shipping_quotes": link(
            api_url, f"/orders/{order_id}/consignments/shipping/{address_id}/shipping_quotes"
        ),
    }


def consignments_object(
    order: dict[str, Any], addresses: list[dict[str, Any]], lines: list[dict[str, Any]], *,
    api_url: str, embed_lines: bool,
) -> dict[str, Any]:
    """orderConsignment_Get: every simulated line ships to the order's shipping address."""
    shipping = []
    for address in addresses:
        own_lines = [line for line in lines if line["order_address_id"] == address["id"]]
        shipping.append(shipping_consignment(address, order, own_lines, api_url=api_url, embed_lines=embed_lines))
    return {"pickups": [], "shipping": shipping, "downloads": [], "email": {"gift_certificates": []}}
