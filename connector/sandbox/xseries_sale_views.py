"""How the X-Series simulator shows a stored sale: the 0.9 `register_sale` and the 2.0 `Sale`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connector.values import to_iso8601

if TYPE_CHECKING:  # pragma: no cover
    from connector.sandbox.xseries import XSeriesSimulator


def _date_09(value: datetime) -> str:
    # 0.9 sale examples use "2016-05-05 23:35:34" in UTC (reference §3).
    return to_iso8601(value).replace("T", " ")[:19]


# Stored sale fields each read shows as they are.
_SALE_KEYS_09 = ("id", "source", "source_id", "register_id", "customer_id", "user_id", "total_price",
                 "total_cost", "total_tax", "status", "state", "short_code", "invoice_number",
                 "invoice_sequence", "return_for")
_SALE_KEYS_20 = ("id", "outlet_id", "register_id", "user_id", "customer_id", "invoice_number",
                 "invoice_sequence", "source", "source_id", "status", "state", "note", "short_code",
                 "return_for", "total_price", "total_tax", "deleted_at", "version")
_SALE_DATES = ("sale_date", "created_at", "updated_at")


def render_sale_09(sim: XSeriesSimulator, sale: dict[str, Any]) -> dict[str, Any]:
    """The sale inside a 0.9 `register_sale` answer (reference §8.7; the exact field set is [I])."""
    customer = sim.customers.get(sale["customer_id"]) if sale["customer_id"] else None
    paid = sum((p["amount"] for p in sale["payments"]), Decimal(0))
    first_tax = sim.taxes.get(sale["line_items"][0]["tax_id"]) if sale["line_items"] else None
    return {
        **{key: sale[key] for key in _SALE_KEYS_09},
        **{key: _date_09(sale[key]) for key in _SALE_DATES},
        "market_id": "1",
        "customer_name": f"{customer['first_name']} {customer['last_name']}" if customer else "",
        "user_name": sim.users[sale["user_id"]]["username"],
        "tax_name": (first_tax or sim.taxes[sim.default_tax_id])["name"],
        "note": sale["note"] or "",
        "register_sale_attributes": list(sale["attributes"]),
        "accounts_transaction_id": sale["accounts_transaction_id"] or "",
        "totals": {
            "total_tax": sale["total_tax"],
            "total_price": sale["total_price"],
            "total_payment": paid,
            "total_to_pay": sale["total_price"] + sale["total_tax"] - paid,
        },
        "register_sale_products": [_line_09(sim, line) for line in sale["line_items"]],
        "register_sale_payments": [_payment_09(sim, p) for p in sale["payments"]],
    }


def _line_09(sim: XSeriesSimulator, line: dict[str, Any]) -> dict[str, Any]:
    product = sim.products[line["product_id"]]
    tax = sim.taxes[line["tax_id"]]
    return {
        **{key: line[key] for key in ("id", "product_id", "register_id", "quantity", "price", "cost",
                                      "discount", "loyalty_value", "tax", "tax_id", "status")},
        **{key: product[key] for key in ("handle", "sku", "name")},
        "sequence": str(line["sequence"]),
        "price_set": int(line["price_set"]),
        "tax_name": tax["name"],
        "tax_rate": sum((rate["rate"] for rate in tax["rates"]), Decimal(0)),
        "tax_total": line["quantity"] * line["tax"],
        "price_total": line["quantity"] * line["price"],
        "display_retail_price_tax_inclusive": 0 if sim.tax_exclusive else 1,
        "attributes": [],
    }


def _payment(sim: XSeriesSimulator, payment: dict[str, Any]) -> dict[str, Any]:
    """The fields a payment shows in both read shapes."""
    ptype = sim.payment_types[payment["retailer_payment_type_id"]]
    return {
        **{key: payment[key] for key in ("id", "register_id", "retailer_payment_type_id", "amount")},
        "payment_type_id": str(ptype["type_id"]),
        "name": ptype["name"],
    }


def _payment_09(sim: XSeriesSimulator, payment: dict[str, Any]) -> dict[str, Any]:
    shown = _payment(sim, payment)
    return {**shown, "label": shown["name"], "payment_date": _date_09(payment["payment_date"])}


def render_sale_20(sim: XSeriesSimulator, sale: dict[str, Any]) -> dict[str, Any]:
    """The 2.0 Sale object (spec schema Sale + the `state`/`attributes` fields of 2025-09)."""
    taxes: dict[str, dict[str, Any]] = {}
    line_items = []
    for line in sale["line_items"]:
        tax = sim.taxes[line["tax_id"]]
        rate = tax["rates"][0]
        if line["status"] != "VOIDED":
            entry = taxes.setdefault(rate["id"], {
                "id": rate["id"], "name": tax["name"], "rate": rate["rate"], "amount": Decimal(0),
            })
            entry["amount"] += line["quantity"] * line["tax"]
        line_items.append(_line_20(line, rate["id"]))
    payments = [
        {**_payment(sim, p), "payment_date": to_iso8601(p["payment_date"]), "external_attributes": [],
         "outlet_id": sim.registers[p["register_id"]]["outlet_id"]
         if p["register_id"] in sim.registers else sale["outlet_id"]}
        for p in sale["payments"]
    ]
    return {
        **{key: sale[key] for key in _SALE_KEYS_20},
        **{key: to_iso8601(sale[key]) for key in _SALE_DATES},
        "receipt_number": sale["invoice_number"],
        "attributes": list(sale["attributes"]),
        "total_loyalty": Decimal(0),
        "line_items": line_items,
        "payments": payments,
        "adjustments": [],
        "taxes": list(taxes.values()),
    }


def _line_20(line: dict[str, Any], rate_id: str) -> dict[str, Any]:
    qty = line["quantity"]
    shown = {key: line[key] for key in ("id", "product_id", "tax_id", "quantity", "price_set", "status",
                                        "sequence", "note")}
    for name in ("price", "cost", "discount", "tax", "loyalty_value"):
        # The spec names each amount several ways: `price` = `unit_price`, `price_total` = `total_price`.
        shown.update({name: line[name], f"unit_{name}": line[name], f"total_{name}": qty * line[name]})
        if name != "loyalty_value":
            shown[f"{name}_total"] = qty * line[name]
    shown["tax_components"] = [{"rate_id": rate_id, "total_tax": qty * line["tax"]}]
    shown["is_return"] = qty < 0
    return shown
