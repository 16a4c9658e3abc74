"""How an order is known again: its sale's invoice number, and the hashes that tell a change.

The invoice number is deterministic (BC-<order>[-<generation>]): after a lost answer the sale is
looked up by it, never guessed (reference §8.4). The content hashes tell a change worth a write
from one that is not, and an edit of what the sale shows from a change of status.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

INVOICE_PREFIX = "BC-"


def invoice_number(bc_order_id: int, generation: int = 1) -> str:
    """The sale's deterministic reference: how a lost sale write is found again (reference §8.4).
    A re-opened order's later sales carry their generation: BC-123-2."""
    base = f"{INVOICE_PREFIX}{bc_order_id}"
    return base if generation <= 1 else f"{base}-{generation}"


def invoice_forms(invoice: str, affixes: tuple[str, str] = ("", "")) -> tuple[str, ...]:
    """The invoice numbers a sale given `invoice` may carry in X-Series: as given, and with the
    register's prefix and suffix, which §8.2 says a given number "should use" (unverified whether a
    server adds them itself): a sale is looked up under both before anything is written again."""
    prefix, suffix = affixes
    affixed = f"{prefix}{invoice}{suffix}"
    return (invoice,) if affixed == invoice or invoice.startswith(prefix) and invoice.endswith(suffix) \
        else (invoice, affixed)


def without_affixes(number: str, affixes: tuple[str, str] = ("", "")) -> str:
    """An invoice number read back (or typed by a person, in any case), without the register's
    prefix and suffix when it has both."""
    prefix, suffix = affixes
    folded = number.casefold()
    if (prefix or suffix) and folded.startswith(prefix.casefold()) and folded.endswith(suffix.casefold()) \
            and len(number) > len(prefix) + len(suffix):
        return number[len(prefix):len(number) - len(suffix)]
    return number


# json.dumps(payload, sort_keys=True) without a new encoder per order (json.dumps builds one whenever
# it is given an option). The text, and so every binding's stored hash, is the same.
_hash_json = json.JSONEncoder(sort_keys=True).encode


def _sold(order: Any) -> dict[str, Any]:
    """What the order sold, line by line, and its charges."""
    return {
        "lines": [[line.id, line.product_id, line.variant_id, line.sku, line.quantity, str(_paid_inc_tax(line))]
                  for line in order.lines],
        "costs": [str(order.shipping_cost_inc_tax), str(order.handling_cost_inc_tax),
                  str(order.wrapping_cost_inc_tax)],
    }


def sale_content_hash(order: Any) -> str:
    """What a sale shows of its order — lines, quantities, prices, charges, fees, totals: when it
    changes after the sale was written, the order was edited (issue 16, point 4); a change of
    status or payment is not an edit."""
    payload = {**_sold(order), "totals": [str(order.total_inc_tax), str(order.total_tax)],
               "fees": [[fee.id, str(fee.cost_inc_tax)] for fee in getattr(order, "fees", [])]}
    return hashlib.sha256(_hash_json(payload).encode()).hexdigest()


def order_content_hash(order: Any) -> str:
    """What, in an order, the POS mirror depends on. A change of anything else (a staff note, a
    shipment date) is not worth a write; a change of this is detected even when date_modified
    did not move (domain note C.4). Fees and tenders count only when the order has them, so the
    hashes stored before they were mirrored still match."""
    payload = {
        "status": order.status_id,
        "total_inc_tax": str(order.total_inc_tax),
        "total_tax": str(order.total_tax),
        "payment_method": order.payment_method,
        "payment_status": order.payment_status,
        "email": (order.billing_address.email or "").casefold() if order.billing_address else "",
        **_sold(order),
    }
    fees = [[fee.id, str(fee.cost_inc_tax)] for fee in getattr(order, "fees", [])]
    if fees:
        payload["fees"] = fees
    if order.gift_certificate_amount or order.store_credit_amount:
        payload["tenders"] = [str(order.gift_certificate_amount), str(order.store_credit_amount)]
    if getattr(order, "is_deleted", None):  # an order restored from the archive is mirrored then
        payload["archived"] = True
    return hashlib.sha256(_hash_json(payload).encode()).hexdigest()


def _paid_inc_tax(line: Any) -> Decimal:
    discounted = getattr(line, "discounted_total_inc_tax", None)
    return discounted if discounted is not None else line.total_inc_tax
