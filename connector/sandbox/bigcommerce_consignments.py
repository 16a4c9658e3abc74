"""Where the simulated store sends an order's lines: its consignments (O2 `orderConsignment_Get`).

Each line goes to one consignment: a pickup one when it has a pickup method, the download one for
digital lines, the e-mail one for gift certificates, else the shipping consignment of its address.
Every consignment lists its lines in full (`include=consignments.line_items`) or as links.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# The address fields an order's billing address, its shipping addresses and consignments share.
ADDRESS_FIELDS = (
    "first_name", "last_name", "company", "street_1", "street_2", "city", "state", "zip", "country",
    "country_iso2", "phone", "email",
)

# A shipping consignment's cost fields → the order fields it copies (the shipping ones drop "shipping_").
COST_FIELDS = {
    name.replace("shipping_", ""): name for name in (
        "base_shipping_cost", "shipping_cost_ex_tax", "shipping_cost_inc_tax", "shipping_cost_tax",
        "base_handling_cost", "handling_cost_ex_tax", "handling_cost_inc_tax", "handling_cost_tax",
    )
}

# A pickup consignment as the O2 example shows one; add_order(pickup={...}) overrides fields.
DEFAULT_PICKUP = {
    "pickup_method_display_name": "Pick Up", "collection_instructions": "Bring your ID",
    "collection_time_description": "9am - 6pm",
    "location": {
        "id": 1, "name": "Location 1", "code": "LOCATION-1", "address_line_1": "123 Main Street",
        "address_line_2": "Suite 101", "city": "Austin", "state": "Texas", "postal_code": "78726",
        "country_alpha2": "US", "email": "location1@example.com", "phone": "+1 111-111-1111",
    },
}


def link(api_url: str, resource: str) -> dict[str, str]:
    """The `{url, resource}` object V2 uses in place of a sub-resource's data."""
    return {"url": api_url + resource, "resource": resource}


def _line_items(order_id: int, lines: list[dict[str, Any]], *, api_url: str, embed_lines: bool) -> list[dict[str, Any]]:
    if embed_lines:
        return [dict(line) for line in lines]
    return [link(api_url, f"/orders/{order_id}/products/{line['id']}") for line in lines]


def shipping_consignment(
    address: dict[str, Any], order: dict[str, Any], lines: list[dict[str, Any]], *, api_url: str,
    embed_lines: bool,
) -> dict[str, Any]:
    """shippingConsignment_Get for one shipping address; costs are JSON numbers here."""
    order_id = order["id"]
    address_id = address["id"]

    def number(field: str) -> float:
        try:
            return float(Decimal(str(order.get(field, "0"))))
        except ArithmeticError:
            return 0.0

    def class_id(field: str) -> int:
        value = order.get(field)
        return value if isinstance(value, int) else 0

    return {
        "id": address_id,
        **{k: address[k] for k in (*ADDRESS_FIELDS, "form_fields")},
        "shipping_method": address["shipping_method"],
        "line_items": _line_items(order_id, lines, api_url=api_url, embed_lines=embed_lines),
        "items_total": sum(int(line["quantity"]) for line in lines),
        "items_shipped": sum(int(line["quantity_shipped"]) for line in lines),
        **{name: number(field) for name, field in COST_FIELDS.items()},
        "cost_tax_class_id": class_id("shipping_cost_tax_class_id"),
        "handling_cost_tax_class_id": class_id("handling_cost_tax_class_id"),
        "shipping_zone_id": 1,
        "shipping_zone_name": address["country"],
        "shipping_quotes": link(
            api_url, f"/orders/{order_id}/consignments/shipping/{address_id}/shipping_quotes"
        ),
    }


def consignments_object(
    order: dict[str, Any], addresses: list[dict[str, Any]], pickups: list[dict[str, Any]],
    lines: list[dict[str, Any]], *, api_url: str, embed_lines: bool,
) -> dict[str, Any]:
    """orderConsignment_Get: each line in the one consignment that fulfils it."""
    order_id = order["id"]

    def items(own: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _line_items(order_id, own, api_url=api_url, embed_lines=embed_lines)

    def by_type(kind: str) -> list[dict[str, Any]]:
        return [line for line in lines if line["type"] == kind and not line["order_pickup_method_id"]]

    digital, gifts = by_type("digital"), by_type("giftcertificate")
    recipient = (order.get("billing_address") or {}).get("email", "")
    return {
        "pickups": [
            {**pickup, "line_items": items([
                line for line in lines if line["order_pickup_method_id"] == pickup["pickup_method_id"]])}
            for pickup in pickups
        ],
        "shipping": [
            shipping_consignment(address, order, [
                line for line in by_type("physical") if line["order_address_id"] == address["id"]
            ], api_url=api_url, embed_lines=embed_lines)
            for address in addresses
        ],
        "downloads": [{"recipient_email": recipient, "line_items": items(digital)}] if digital else [],
        "email": {"gift_certificates": [{"recipient_email": recipient, "line_items": items(gifts)}] if gifts else []},
    }
