"""The V2 endpoints of the simulated store: orders (filters, sorting, paging, the one write), their
sub-resources, and the order statuses."""

from __future__ import annotations

import bisect
import copy
import heapq
import json
import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connector.sandbox.bigcommerce_consignments import COST_FIELDS, consignments_object, link, shipping_consignment
from connector.sandbox.bigcommerce_queries import Queries, _found, _Refusal
from connector.sandbox.bigcommerce_statuses import SYSTEM_STATUSES, status_json
from connector.sandbox.transport import within

# PUT /v2/orders/{id}: what the simulated store lets a client change. Everything else the order
# shows is refused with BigCommerce's read-only message, which is also what the connector must
# never send (reference §6: send only status_id, optionally staff_notes).
WRITABLE_ORDER_FIELDS = frozenset({"status_id", "staff_notes", "customer_message", "external_order_id"})

SORTABLE_FIELDS = ("id", "customer_id", "date_created", "date_modified", "status_id", "channel_id", "external_id")


class V2Orders(Queries):
    def _matching_orders(self, request: Request) -> list[dict[str, Any]]:
        min_id, max_id = self._int(request, "min_id"), self._int(request, "max_id")
        given = {name: self._int(request, name) for name in ("customer_id", "status_id")}
        exact = {name: value for name, value in given.items() if value is not None}  # fields the order must equal
        hide_incomplete = "status_id" not in exact and self.hide_incomplete_by_default
        bounds = {
            name: self._date(request, name)
            for name in ("min_date_created", "max_date_created", "min_date_modified", "max_date_modified")
        }
        min_total, max_total = (self._total(request, name) for name in ("min_total", "max_total"))
        email = request.query_params.get("email")
        rows = []
        # Dates first: an import pages by date, so they turn most orders away at once. (Rows are
        # in no particular order here; the list orders them.)
        for order_id in self._candidates(bounds["min_date_created"], bounds["max_date_created"]):
            order = self.orders[order_id]
            dates = self._dates[order_id]
            if not (within(dates.created, bounds["min_date_created"], bounds["max_date_created"])
                    and within(dates.modified, bounds["min_date_modified"], bounds["max_date_modified"])):
                continue
            if self.date_bounds_exclusive and (
                    dates.created in (bounds["min_date_created"], bounds["max_date_created"])
                    or dates.modified in (bounds["min_date_modified"], bounds["max_date_modified"])):
                continue
            if order.get("is_deleted") is True or (hide_incomplete and order.get("status_id") == 0):
                continue
            if not within(order_id, min_id, max_id) or any(order.get(k) != v for k, v in exact.items()):
                continue
            if email is not None and str((order.get("billing_address") or {}).get("email", "")).lower() != email.lower():
                continue
            if self._total_matches(order, min_total, max_total):
                rows.append(order)
        return rows

    def _candidates(self, earliest: datetime | None, latest: datetime | None) -> Iterable[int]:
        """Ids of the orders created in [earliest, latest] (either open), in no particular order."""
        if earliest is None and latest is None:
            return self.orders.keys()
        index = self._by_created
        start = 0 if earliest is None else bisect.bisect_left(index, (earliest, -math.inf))
        end = len(index) if latest is None else bisect.bisect_right(index, (latest, math.inf))
        return [order_id for _, order_id in index[start:end]]

    @staticmethod
    def _total_matches(order: dict[str, Any], low: Decimal | None, high: Decimal | None) -> bool:
        if low is None and high is None:
            return True
        try:
            total = Decimal(str(order.get("total_inc_tax")))
        except InvalidOperation:
            return False  # a malformed total (planted by a test) matches no total filter
        return within(total, low, high)

    def _page_of(self, request: Request, rows: list[dict[str, Any]], page: int, limit: int) -> list[dict[str, Any]]:
        """Page `page` of the rows in the requested order. Only the first page × limit rows are
        ordered (a heap, not a sort of every match: a 100,000-order store is listed 400 times)."""
        text = request.query_params.get("sort") or "id"
        name, _, direction = text.partition(":")
        direction = direction or "asc"
        if name not in SORTABLE_FIELDS or direction not in ("asc", "desc"):
            raise _Refusal(400, f"The sort '{text}' is invalid; use one of {', '.join(SORTABLE_FIELDS)} with :asc or :desc.")

        def key(order: dict[str, Any]) -> tuple:
            # Dates sort on the real ones (an override may have malformed the JSON).
            dates = self._dates[order["id"]]
            value = getattr(dates, name.removeprefix("date_")) if name.startswith("date_") else order.get(name)
            # Ties break on id, in the same direction, so paging never shuffles equal rows; unless
            # ties_unordered, where equal dates come back in a new order on each request (only the
            # default sort, by id, has an order the reference promises).
            if self.ties_unordered and name.startswith("date_"):
                return (value is None, value if value is not None else 0, self.tie_shuffle.random())
            return (value is None, value if value is not None else 0, order["id"])

        first = heapq.nlargest if direction == "desc" else heapq.nsmallest
        return first(page * limit, rows, key=key)[(page - 1) * limit:]

    def _render_order(self, request: Request, order: dict[str, Any]) -> dict[str, Any]:
        result = copy.deepcopy(order)
        includes = set(self._in_list(request, "include"))
        wants_object = request.query_params.get("consignment_structure") == "object"
        if wants_object and includes & {"consignments", "consignments.line_items"}:
            result["consignments"] = self._consignments(order, embed_lines="consignments.line_items" in includes)
        if "fees" in includes:
            result["fees"] = copy.deepcopy(self.order_fees.get(order["id"], []))
        return result

    def _consignments(self, order: dict[str, Any], *, embed_lines: bool) -> dict[str, Any]:
        order_id = order["id"]
        return consignments_object(
            order, self.shipping_addresses.get(order_id, []), self.pickups.get(order_id, []),
            self.order_products.get(order_id, []), api_url=self.v2_url, embed_lines=embed_lines,
        )

    async def _list_orders(self, request: Request) -> Response:
        page, limit = self._page_and_limit(request)
        chunk = self._page_of(request, self._matching_orders(request), page, limit)
        return self._v2_list([self._render_order(request, o) for o in chunk])

    async def _count_orders(self, request: Request) -> Response:
        rows = self._matching_orders(request)
        counts = Counter(o.get("status_id") for o in rows)
        # Each status as /order_statuses shows it, its `order` renamed sort_order, with its count.
        statuses = [
            {**{k: v for k, v in status_json(s.id, self.custom_labels[s.id]).items() if k != "order"},
             "count": counts[s.id], "sort_order": s.sort_order}
            for s in sorted(SYSTEM_STATUSES.values(), key=lambda s: s.sort_order)
        ]
        return JSONResponse({"statuses": statuses, "count": len(rows)})

    async def _get_order(self, request: Request, order_id: int) -> Response:
        return JSONResponse(self._render_order(request, _found(self.orders, order_id)))

    async def _put_order(self, request: Request, order_id: int) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.split(";")[0].strip().lower() == "application/json":
            raise _Refusal(415, "The request body must be JSON: send Content-Type: application/json.")
        order = _found(self.orders, order_id)
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise _Refusal(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict) or not body:
            raise _Refusal(400, "The request body must be a JSON object with the fields to change.")
        for name in body:
            if name not in WRITABLE_ORDER_FIELDS:
                raise _Refusal(400, f"The field '{name}' cannot be written to. Please remove it from your request before trying again.")
        if "status_id" in body:
            status_id = body["status_id"]
            if isinstance(status_id, bool) or not isinstance(status_id, int) or status_id not in SYSTEM_STATUSES:
                raise _Refusal(400, f"The field 'status_id' is invalid: {status_id!r} is not an order status.")
        texts = {name: value for name, value in body.items() if name != "status_id"}
        for name, value in texts.items():
            if not isinstance(value, str):
                raise _Refusal(400, f"The field '{name}' must be a string.")
        if len(body.get("staff_notes", "")) > 65535:
            raise _Refusal(400, "The field 'staff_notes' is longer than 65535 characters.")
        if "status_id" in body:
            self._apply_status(order_id, body["status_id"])
        order.update(texts)
        self.touch(order_id)
        return JSONResponse(self._render_order(request, order))

    async def _list_order_products(self, request: Request, order_id: int) -> Response:
        _found(self.orders, order_id)
        lines = sorted(self.order_products[order_id], key=lambda line: line["id"])
        return self._v2_page(request, copy.deepcopy(lines))

    async def _get_order_product(self, request: Request, order_id: int, line_id: int) -> Response:
        # The path parameter is the order line id (older V2 docs; the spec's wording is unverified).
        _found(self.orders, order_id)
        lines = {line["id"]: line for line in self.order_products[order_id]}
        return JSONResponse(copy.deepcopy(_found(lines, line_id)))

    async def _list_shipping_addresses(self, request: Request, order_id: int) -> Response:
        order = _found(self.orders, order_id)
        rows = []
        for address in self.shipping_addresses[order_id]:
            own = [line for line in self.order_products[order_id] if line["order_address_id"] == address["id"]]
            consignment = shipping_consignment(address, order, own, api_url=self.v2_url, embed_lines=False)
            row = {k: v for k, v in consignment.items() if k not in ("line_items", "shipping_quotes")}
            for name in COST_FIELDS:
                row[name] = f"{Decimal(str(row[name])):.4f}"  # strings here, numbers in consignments
            row["order_id"] = order_id
            row["shipping_quotes"] = link(self.v2_url, f"/orders/{order_id}/shipping_addresses/{address['id']}/shipping_quotes")
            rows.append(row)
        return self._v2_page(request, rows)

    async def _get_consignments(self, request: Request, order_id: int) -> Response:
        order = _found(self.orders, order_id)
        embed_lines = "consignments.line_items" in self._in_list(request, "include")
        return JSONResponse(self._consignments(order, embed_lines=embed_lines))

    async def _list_fees(self, request: Request, order_id: int) -> Response:
        # The spec's example answers {"fees": [...]} (its schema, one fee object, allows that).
        _found(self.orders, order_id)
        return JSONResponse({"fees": copy.deepcopy(self.order_fees.get(order_id, []))})

    async def _list_coupons(self, request: Request, order_id: int) -> Response:
        _found(self.orders, order_id)
        return self._v2_page(request, copy.deepcopy(self.order_coupons.get(order_id, [])))

    async def _list_statuses(self, request: Request) -> Response:
        return JSONResponse([status_json(sid, self.custom_labels[sid]) for sid in sorted(SYSTEM_STATUSES)])

    async def _get_status(self, request: Request, status_id: int) -> Response:
        _found(SYSTEM_STATUSES, status_id)
        return JSONResponse(status_json(status_id, self.custom_labels[status_id]))
