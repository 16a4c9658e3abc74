"""BigCommerce's fixed order statuses (ids 0–14). Merchants may rename them (custom_label), so code
keys on the id; the system names are accepted in mapping files for readability."""

from __future__ import annotations

SYSTEM_NAMES: dict[int, str] = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}
# Before the goods leave: the only statuses that re-open an order whose sale was voided (issue 16,
# point 3). Refunded, Partially Refunded or Disputed after a cancellation are money moving, not an
# order coming back; Shipped or Completed after one is a merchant's correction we do not guess at.
PRE_SHIPMENT: frozenset[int] = frozenset({7, 8, 9, 11, 12})
# Statuses whose BigCommerce meaning says the payment was confirmed (Awaiting Fulfillment: "payment has
# been confirmed"; the ones after it). Not Manual Verification Required or Disputed: an ID check or a
# dispute puts an order there whether it was paid or not.
PAYMENT_CONFIRMED: frozenset[int] = frozenset({2, 3, 8, 9, 10, 11})
DECLINED = 6
# The goods left: after a void they write nothing (a cancelled order marked Completed to archive it
# must not become a sale), but after Declined — an ID check failed, then passed and shipped before the
# next poll — the goods may have left with no sale: a person is asked (shipped_after_declined).
SHIPPED_OR_COMPLETED: frozenset[int] = frozenset({2, 3, 10})


def shipped_after_declined(invoice: str, status_id: int) -> str:
    return (f"sale {invoice} was voided when the order was Declined, and the order is now"
            f" {SYSTEM_NAMES.get(status_id, status_id)}: if the goods"
            " left, move the order back to Awaiting Fulfillment (order-sync writes its new sale, then"
            " follow it to its status) or write the sale in X-Series by hand; then resolve this")


_BY_NAME = {name.casefold(): status_id for status_id, name in SYSTEM_NAMES.items()}


def status_id_from_name(value: object) -> int | None:
    """An id (int or digit string) or a system name (case-insensitive) → the id; None if unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in SYSTEM_NAMES else None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return status_id_from_name(int(text))
        return _BY_NAME.get(text.casefold())
    return None


def status_name(status_id: int) -> str:
    return SYSTEM_NAMES.get(status_id, f"status {status_id}")
