"""The simulated BigCommerce store's order statuses (reference §5; names, descriptions and
control-panel order from the O2 examples)."""

from __future__ import annotations

from typing import Any, NamedTuple


class SystemStatus(NamedTuple):
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
