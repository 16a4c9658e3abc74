"""Refunds of the BigCommerce simulator (reference §15, spec orders.v3.yml `Refund`).

A refund is made by the merchant (`BigCommerceSimulator.refund`, as the control panel's refund
screen would) and read through GET /v3/orders/payment_actions/refunds (every order, filters
order_id:in, id:in, created:min, created:max; ascending by id) and
GET /v3/orders/{order_id}/payment_actions/refunds. As on a live store: returned units are counted on
the order's lines (quantity_refunded, is_refunded), the order moves to Refunded or Partially
Refunded with its payment_status, the order's refunded_amount stays 0 (the spec says it always is),
and a refund is final.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from connector.sandbox.bigcommerce_queries import Queries, _found
from connector.sandbox.transport import within
from connector.values import parse_iso8601, parse_money, to_iso8601

CENT = Decimal("0.01")
AMOUNT_ITEMS = ("SHIPPING", "HANDLING", "ORDER", "FEE")
ITEM_TYPES = ("PRODUCT", "GIFT_WRAPPING", *AMOUNT_ITEMS)


def _money(value: Any) -> Decimal:
    return parse_money(value).quantize(CENT)


def refund_json(refund_id: int, order: dict[str, Any], lines: list[dict[str, Any]], items: list[dict[str, Any]],
                payments: list[dict[str, Any]] | None, *, reason: str, created, user_id: int = 1) -> dict[str, Any]:
    """The refund of `items` (RefundItem dicts as the API shows them) on an order, with its amounts
    computed as BigCommerce computes them: units at what the shopper paid for them (order-level
    discounts included), wrapping as charged, other items at their requested amounts. Raises
    ValueError for a refund the control panel would refuse. Counts returned units on `lines`."""
    by_id = {line["id"]: line for line in lines}
    total, tax, built = Decimal(0), Decimal(0), []
    for item in items:
        kind = item.get("item_type")
        if kind not in ITEM_TYPES:
            raise ValueError(f"unknown item_type {kind!r}")
        entry = {"item_type": kind, "item_id": item.get("item_id", order["id"]), "reason": item.get("reason", ""),
                 "requested_amount": None, "quantity": None}
        if kind == "PRODUCT":
            line = by_id.get(entry["item_id"])
            quantity = int(item.get("quantity") or 0)
            if line is None or quantity < 1 or quantity > line["quantity"] - line["quantity_refunded"]:
                raise ValueError(f"cannot refund {quantity} of order product {entry['item_id']}")
            paid = _money(line["discounted_total_inc_tax"]) * quantity / line["quantity"]
            total += paid.quantize(CENT)
            tax += (_money(line["total_tax"]) * quantity / line["quantity"]).quantize(CENT)
            entry["quantity"] = quantity
        elif kind == "GIFT_WRAPPING":
            total += _money(order["wrapping_cost_inc_tax"])
            tax += _money(order["wrapping_cost_tax"])
        else:
            entry["requested_amount"] = str(_money(item["requested_amount"]))
            total += _money(item["requested_amount"])
        built.append(entry)
    if payments is None:
        payments = [{"provider_id": "testgateway", "amount": str(total)}]
    paid = sum((_money(p["amount"]) for p in payments), Decimal(0))
    if paid != total:
        raise ValueError(f"refund payments {paid} do not add up to the refund's {total}")
    for entry in built:
        if entry["item_type"] == "PRODUCT":
            line = by_id[entry["item_id"]]
            line["quantity_refunded"] += entry["quantity"]
            line["is_refunded"] = line["quantity_refunded"] >= line["quantity"]
    return {
        "id": refund_id, "order_id": order["id"], "user_id": user_id, "created": to_iso8601(created),
        "reason": reason, "total_amount": float(total), "total_tax": float(tax),
        "uses_merchant_override_values": False, "items": built,
        "payments": [{"id": refund_id * 10 + i, "provider_id": p["provider_id"], "amount": float(_money(p["amount"])),
                      "offline": bool(p.get("offline", False)), "is_declined": False, "declined_message": "",
                      "transaction_id": p.get("transaction_id", "")} for i, p in enumerate(payments)],
    }


def fully_refunded(order: dict[str, Any], lines: list[dict[str, Any]], refunds: list[dict[str, Any]]) -> bool:
    return sum(Decimal(str(r["total_amount"])) for r in refunds) >= _money(order["total_inc_tax"]) \
        and all(line["is_refunded"] for line in lines)


class Refunds(Queries):
    def refund(self, order_id: int, items: list[dict[str, Any]], *, payments: list[dict[str, Any]] | None = None,
               reason: str = "") -> dict[str, Any]:
        """The merchant refunds `items` (RefundItem dicts: item_type, item_id, quantity or
        requested_amount) to `payments` (provider_id, amount; default: all to the gateway). The
        order moves to Partially Refunded, or Refunded once everything is given back."""
        order = self.orders[order_id]
        refund = refund_json(next(self._ids["refund"]), order, self.order_products[order_id], items, payments,
                             reason=reason, created=self._now())
        self.refunds[refund["id"]] = refund
        done = fully_refunded(order, self.order_products[order_id],
                              [r for r in self.refunds.values() if r["order_id"] == order_id])
        self._apply_status(order_id, 4 if done else 14)
        order["payment_status"] = "refunded" if done else "partially refunded"
        self.touch(order_id)
        return copy.deepcopy(refund)

    def _refund_rows(self, request: Request, order_ids: set[str]) -> list[dict[str, Any]]:
        ids = self._any_of(request, "id")
        created_min = self._date(request, "created:min", v3=True)
        created_max = self._date(request, "created:max", v3=True)
        return [copy.deepcopy(r) for _, r in sorted(self.refunds.items())
                if (not order_ids or str(r["order_id"]) in order_ids) and (not ids or str(r["id"]) in ids)
                and within(parse_iso8601(r["created"]), created_min, created_max)]

    async def _list_refunds(self, request: Request) -> Response:
        return self._v3_page(request, self._refund_rows(request, set(self._in_list(request, "order_id:in"))))

    async def _list_order_refunds(self, request: Request, order_id: int) -> Response:
        _found(self.orders, order_id, f"Order {order_id} was not found.")
        return self._v3_page(request, self._refund_rows(request, {str(order_id)}))
