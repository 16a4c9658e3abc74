"""What staff need to fulfil a mirrored sale in X-Series: its attribute and its note (issue 15, point 8).

Sales carrying `delivery` or `pickup` appear on X-Series' Fulfillments page, where Lightspeed's own
BigCommerce integration puts online orders. BigCommerce tells how each line leaves the store by its
consignment (shipping, pickup, download, e-mail); an order in Awaiting Pickup is a pickup whatever
its consignments. The two attributes exclude each other: an order that ships anything is a delivery.
Digital-only orders carry neither.
"""

from __future__ import annotations

from typing import Any

AWAITING_PICKUP = 8


def sale_attributes(order: Any) -> tuple[str, ...]:
    kinds = {line.consignment for line in order.lines}
    if order.status_id == AWAITING_PICKUP or ("pickup" in kinds and "shipping" not in kinds):
        return ("pickup",)
    if "shipping" in kinds:
        return ("delivery",)
    if getattr(order, "order_is_digital", False) or None not in kinds:
        return ()
    # Lines read without their consignments (/orders/{id}/products): physical lines ship to an address.
    ships = getattr(order, "shipping_addresses", None) or getattr(order, "shipping_address_count", 0)
    physical = any(line.type == "physical" for line in order.lines if line.consignment is None)
    return ("delivery",) if ships and physical else ()


def sale_note(order: Any, fee_names: list[str]) -> str:
    """'BigCommerce order #N', then each shipping method and address (of the embedded shipping
    consignments), the fees and the shopper's message, one per line."""
    lines = [f"BigCommerce order #{order.id}"]
    for address in getattr(order, "shipping_addresses", None) or []:
        if address.shipping_method.strip():
            lines.append(f"Shipping: {address.shipping_method.strip()}")
        parts = (f"{address.first_name} {address.last_name}", address.company, address.street_1, address.street_2,
                 address.city, address.state, address.zip, address.country)
        where = ", ".join(part.strip() for part in parts if part.strip())
        if where:
            lines.append(f"Ship to: {where}")
    lines += [f"Fee: {name}" for name in fee_names if name]
    message = (getattr(order, "customer_message", "") or "").strip()
    if message:
        lines.append(f"Customer message: {message}")
    return "\n".join(lines)
