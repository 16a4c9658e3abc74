"""SalePlan → the X-Series 0.9 register_sales body (pure).

How each POS state is written (reference §8.1–§8.3):
- closed, paid:    status CLOSED, state closed, one payment of the order's total.
- closed, unpaid:  status ONACCOUNT, state pending, attribute onaccount, no payment (the balance
                   lands on the customer's account; stock moves as for CLOSED). Without a customer
                   (an order with no e-mail) it is written CLOSED with no payment instead, since an
                   on-account sale needs a customer.
- voided:          status VOIDED, state voided: X-Series returns the lines to stock and deletes
                   the payments. To void an existing sale the same complete body is re-posted with
                   its id (0.9 updates are full replacements, not patches).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from connector.clients.xseries_models import wire_number, wire_sale_date
from connector.mapping.sale_plan import SalePlan
from connector.mapping.status_table import PosState

SOURCE = "BIGCOMMERCE"


@dataclass(frozen=True)
class PosRefs:
    """X-Series ids resolved once at start-up from the config's names."""

    outlet_id: str
    register_id: str
    user_id: str
    default_tax_id: str
    no_tax_id: str
    payment_type_ids: dict[str, str]  # payment table target → payment type id


def sale_status(plan: SalePlan, state: PosState, has_customer: bool) -> tuple[str, str, list[str]]:
    """(legacy status, state, attributes) for a plan written in `state`."""
    if state is PosState.VOIDED:
        return "VOIDED", "voided", []
    if plan.unpaid and has_customer:
        return "ONACCOUNT", "pending", ["onaccount"]
    return "CLOSED", "closed", []


def register_sale_document(
    plan: SalePlan,
    state: PosState,
    refs: PosRefs,
    product_ids: dict[str, str],
    customer_id: str | None,
    payment_type_id: str | None,
    sale_id: str | None = None,
) -> dict[str, Any]:
    """The register_sales body as the JSON document itself: what RegisterSale(...).to_body() gives,
    field for field and in the same order (no null fields; money as JSON numbers, the sale date
    in the 0.9 form). Built without the pydantic models because an import builds one per order,
    and the models cost half of it twice over — validating the values on the way in, and calling
    a serializer per field on the way out (issue 6: ≤ 1 ms of connector CPU per order).
    tests/mapping/test_register_sale_document.py holds every document equal to its model's JSON."""
    status, new_state, attributes = sale_status(plan, state, customer_id is not None)
    register_id = refs.register_id
    products = []
    for index, line in enumerate(plan.lines):
        products.append({
            "product_id": product_ids[line.product_key],
            "quantity": wire_number(line.quantity),
            "price": wire_number(line.unit_price),
            "tax": wire_number(line.unit_tax),
            "tax_id": refs.default_tax_id if line.unit_tax else refs.no_tax_id,
            "register_id": register_id,
            "sequence": str(index),
            # The price comes from BigCommerce: X-Series must not re-price it from a price book.
            "price_set": 1,
            "status": "CONFIRMED",
        })
    payments = []
    if status == "CLOSED" and not plan.unpaid and plan.total_inc_tax and payment_type_id:
        payment: dict[str, Any] = {"retailer_payment_type_id": payment_type_id,
                                   "amount": wire_number(plan.total_inc_tax)}
        if plan.sale_date is not None:
            payment["payment_date"] = wire_sale_date(plan.sale_date)
        payment["register_id"] = register_id
        payments.append(payment)
    document: dict[str, Any] = {}
    if sale_id is not None:
        document["id"] = sale_id
    document["register_id"] = register_id
    document["user_id"] = refs.user_id
    if customer_id is not None:
        document["customer_id"] = customer_id
    if plan.sale_date is not None:
        document["sale_date"] = wire_sale_date(plan.sale_date)
    document["status"] = status
    document["state"] = new_state
    document["register_sale_attributes"] = attributes
    if plan.note is not None:
        document["note"] = plan.note
    document["invoice_number"] = plan.invoice_number
    document["source"] = SOURCE
    document["source_id"] = str(plan.bc_order_id)
    document["register_sale_products"] = products
    document["register_sale_payments"] = payments
    return document


def encode_register_sale(document: dict[str, Any]) -> bytes:
    """The document as sent and as its binding keeps it: compact UTF-8 JSON, as RegisterSale.to_json()."""
    return orjson.dumps(document)
