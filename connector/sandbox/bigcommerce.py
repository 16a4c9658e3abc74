"""A stateful BigCommerce store: V2 orders and statuses, V3 order metafields and catalog lookups.

It answers as shared/reference/bigcommerce-api.md describes: X-Auth-Token auth with V2 / V3 error
bodies, OAuth scopes, the store-wide quota in fixed windows (X-Rate-Limit-* headers, 429s), V2 paging
that ends in 204, RFC-2822 dates, 4-decimal money strings, the V3 envelope. Faults come from a seeded
FaultInjector. Python-side methods (add_order, set_status, set_metafield…) are the merchant and other
apps acting on the store; they never go through the quota or the faults.

Choices where the reference is silent or unverified:
- hide_incomplete_by_default (attribute): the order list leaves out status 0 unless status_id=0 is sent;
- metafield_key_in (attribute): the V3 metafield lists filter on `key:in` as the spec says ("filter");
  "refuse" answers 400 and "ignore" drops the filter, the two ways a live store could differ;
- date filters are inclusive at both ends (the reference does not say; date_bounds_exclusive, an
  attribute, makes them exclusive, the other way a live store could answer); a 401/403/404 is
  answered before the quota is counted, and a 429 never consumes quota;
- a successful PUT always bumps date_modified; renaming a status or setting a metafield does not;
- archived orders (`is_deleted: true`, only through an override) are left out of lists;
- without `consignment_structure=object`, `include=consignments` leaves the link object in place;
- `include=fees` embeds the fee array; GET /orders/{id}/fees answers {"fees": [...]} as the spec's
  example does.
"""

from __future__ import annotations

import bisect
import copy
import heapq
import itertools
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from email.utils import format_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from connector.clock import SYSTEM_CLOCK, Clock
from connector.sandbox.bigcommerce_consignments import COST_FIELDS, consignments_object, link, shipping_consignment
from connector.sandbox.bigcommerce_hooks import HookRefused, check_body, clash, new_hook, scope_full
from connector.sandbox.bigcommerce_merchant import MerchantSide, OrderDates, whole_seconds
from connector.sandbox.bigcommerce_statuses import SYSTEM_STATUSES, status_json
from connector.sandbox.faults import FaultConfig, FaultInjector, LoggedRequest, SimulatedTimeout
from connector.sandbox.transport import Simulator, find_route, query_value, route, within
from connector.values import parse_any_date, parse_iso8601

MAX_LIMIT = 250
DEFAULT_LIMIT = 50
V3_ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"

ORDERS_READ = frozenset({"store_v2_orders", "store_v2_orders_read_only"})
ORDERS_MODIFY = frozenset({"store_v2_orders"})
PRODUCTS_READ = frozenset({"store_v2_products", "store_v2_products_read_only"})

# PUT /v2/orders/{id}: what the simulated store lets a client change. Everything else the order
# shows is refused with BigCommerce's read-only message, which is also what the connector must
# never send (reference §6: send only status_id, optionally staff_notes).
WRITABLE_ORDER_FIELDS = frozenset({"status_id", "staff_notes", "customer_message", "external_order_id"})

HOOK_NOT_FOUND = "The webhook was not found."
PRODUCT_NOT_FOUND = "The requested product was not found."

SORTABLE_FIELDS = ("id", "customer_id", "date_created", "date_modified", "status_id", "channel_id", "external_id")


@dataclass(eq=False)
class _Refusal(Exception):
    """An error answer decided while handling a request; rendered as a V2 or V3 error body."""

    status: int
    message: str
    errors: dict[str, str] | None = None


def _found(store: dict[int, Any], key: int, message: str = "The requested resource was not found.") -> Any:
    """store[key], or the 404 a missing one answers."""
    if key not in store:
        raise _Refusal(404, message)
    return store[key]


class BigCommerceSimulator(MerchantSide, Simulator):
    base_url = "http://bigcommerce.sim"
    secret_header = "x-auth-token"

    def __init__(
        self,
        *,
        store_hash: str = "abc123",
        access_token: str = "bc-test-token",
        clock: Clock = SYSTEM_CLOCK,
        quota: int = 150,
        window_ms: int = 30_000,
        faults: FaultConfig | None = None,
        tax_inclusive: bool = False,
        scopes: set[str] | None = None,
    ) -> None:
        self.store_hash = store_hash
        self.access_token = access_token
        self.clock = clock
        self.quota = quota
        self.window_ms = window_ms
        self.faults = FaultInjector(faults)
        self.tax_inclusive = tax_inclusive
        self.scopes = scopes  # None: the token has every scope
        self.hide_incomplete_by_default = False
        self.date_bounds_exclusive = False

        self.orders: dict[int, dict[str, Any]] = {}
        self.order_products: dict[int, list[dict[str, Any]]] = {}
        self.shipping_addresses: dict[int, list[dict[str, Any]]] = {}
        self.pickups: dict[int, list[dict[str, Any]]] = {}
        self.order_fees: dict[int, list[dict[str, Any]]] = {}
        self.order_coupons: dict[int, list[dict[str, Any]]] = {}
        self.metafields: dict[int, dict[str, Any]] = {}
        self.refunds: dict[int, dict[str, Any]] = {}  # refund id → Refund JSON (bigcommerce_refunds.py)
        self.hooks: dict[int, dict[str, Any]] = {}  # webhook id → webhook_Full (bigcommerce_hooks.py)
        self.metafield_key_in = "filter"  # | "refuse" | "ignore"
        self.catalog_products: dict[int, dict[str, Any]] = {}
        self.catalog_variants: dict[int, dict[str, Any]] = {}
        self.custom_labels: dict[int, str] = {sid: s.name for sid, s in SYSTEM_STATUSES.items()}

        self._dates: dict[int, OrderDates] = {}
        # (date created, id), sorted: a date_created range is a bisect, not a scan (the import lists a
        # 100,000-order store 400 times).
        self._by_created: list[tuple[datetime, int]] = []
        self._next_order_id = 100
        # Id sequences by kind ("line", "fee", "variant"…), each from 1; catalog products from 111.
        self._ids: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._ids["product"] = itertools.count(111)
        self._routes = self._build_routes()
        super().__init__()

    # ------------------------------------------------------------------ wiring

    @property
    def v2_url(self) -> str:
        return f"{self.base_url}/stores/{self.store_hash}/v2"

    def _now(self) -> datetime:
        return whole_seconds(self.clock.now())

    # ------------------------------------------------------------------ HTTP plumbing

    def _build_routes(self) -> dict[str, list[Route]]:
        return {
            "v2": [
                route("/orders", self._list_orders),
                route("/orders/count", self._count_orders),
                route("/orders/{order_id:int}", self._get_order),
                route("/orders/{order_id:int}", self._put_order, "PUT"),
                route("/orders/{order_id:int}/products", self._list_order_products),
                route("/orders/{order_id:int}/products/{line_id:int}", self._get_order_product),
                route("/orders/{order_id:int}/shipping_addresses", self._list_shipping_addresses),
                route("/orders/{order_id:int}/consignments", self._get_consignments),
                route("/orders/{order_id:int}/fees", self._list_fees),
                route("/orders/{order_id:int}/coupons", self._list_coupons),
                route("/order_statuses", self._list_statuses),
                route("/order_statuses/{status_id:int}", self._get_status),
            ],
            "v3": [
                route("/orders/metafields", self._batch_metafields),
                route("/orders/{order_id:int}/metafields", self._order_metafields),
                route("/hooks", self._list_hooks),
                route("/hooks", self._create_hook, "POST"),
                route("/hooks/{hook_id:int}", self._get_hook),
                route("/hooks/{hook_id:int}", self._update_hook, "PUT"),
                route("/hooks/{hook_id:int}", self._delete_hook, "DELETE"),
                route("/orders/payment_actions/refunds", self._list_refunds),
                route("/orders/{order_id:int}/payment_actions/refunds", self._list_order_refunds),
                route("/catalog/products", self._list_catalog_products),
                route("/catalog/products/{product_id:int}", self._get_catalog_product),
                route("/catalog/products/{product_id:int}/variants", self._list_product_variants),
                route("/catalog/variants", self._list_catalog_variants),
            ],
        }

    def _quota(self) -> tuple[int, float]:
        return self.quota, self.window_ms / 1000

    def _rate_headers(self) -> dict[str, str]:
        left_s = self._window_left()
        if left_s > 0:
            reset_ms, left = math.ceil(left_s * 1000), max(self.quota - self._window_used, 0)
        else:
            reset_ms, left = self.window_ms, self.quota  # the next request opens a fresh window
        return {
            # Every answer carries these (errors too), so the real API's Date rides along: the
            # connector reads the store's clock from it, and a test can skew that clock from ours.
            "Date": format_datetime(self._now(), usegmt=True),
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(left),
        }

    def _too_many_requests(self, version: str) -> Response:
        headers = self._rate_headers()
        headers["X-Retry-After"] = str(max(1, math.ceil(int(headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000)))
        return self._error(version, 429, "You have exceeded the request quota; please retry later.", headers=headers)

    def _error(self, version: str, status: int, message: str, *, errors: dict[str, str] | None = None,
               headers: dict[str, str] | None = None) -> Response:
        if version == "v3":
            body: Any = {"status": status, "title": message, "type": V3_ERROR_TYPE, "errors": errors or {}}
        else:
            body = [{"status": status, "message": message}]
        return JSONResponse(body, status_code=status, headers=headers or self._rate_headers())

    async def _answer(self, request: Request, entry: LoggedRequest) -> Response:
        path = request.url.path
        method = request.method
        match = re.match(r"^/stores/(?P<hash>[^/]+)/(?P<version>v2|v3)(?P<rest>/.*)$", path)
        version = match["version"] if match else "v2"

        await self.faults.delay()
        fault = self.faults.pick_before(path)
        if fault is not None:
            entry.fault = fault
            if fault == "timeout":
                raise SimulatedTimeout(f"{method} {path}")
            if fault == "429":
                return self._too_many_requests(version)
            return self._error(version, 500, "Internal Server Error")

        if request.headers.get("x-auth-token") != self.access_token:
            return self._error(version, 401, "You were not authorised to access this resource. Check the X-Auth-Token header.")
        if match is None:
            return self._error(version, 404, "The requested resource was not found.")
        if match["hash"] != self.store_hash:
            return self._error(version, 403, "You don't have access to this store.")
        accept = request.headers.get("accept", "*/*")
        if not any(t in accept for t in ("json", "*/*", "application/*")):
            return self._error(version, 406, "The requested format is not acceptable; send Accept: application/json.")

        rest = match["rest"].rstrip("/") or "/"
        found, chosen, params = find_route(self._routes[version], method, rest)
        if found is Match.NONE:
            return self._error(version, 404, "The requested resource was not found.")
        if found is Match.PARTIAL:
            return self._error(version, 405, f"The method {method} is not allowed for this resource.")
        # The catalog needs a products scope, the order write the modify scope, the rest reads orders.
        needed = PRODUCTS_READ if rest.startswith("/catalog/") else ORDERS_MODIFY if method == "PUT" else ORDERS_READ
        if self.scopes is not None and not (self.scopes & needed):
            return self._error(version, 403, "You don't have a required scope to access the endpoint.")

        if self._take_quota() is not None:
            return self._too_many_requests(version)

        try:
            response = await chosen.endpoint(request, **params)
        except _Refusal as refusal:
            return self._error(version, refusal.status, refusal.message, errors=refusal.errors)
        response.headers.update(self._rate_headers())
        # Only a write can lose its answer (the injector says no for GET).
        if response.status_code < 300 and self.faults.lose_response(method, path):
            entry.fault = "lost_response"
            raise SimulatedTimeout(f"{method} {path}: applied, answer lost")
        return response

    # ------------------------------------------------------------------ query helpers

    @staticmethod
    def _int(request: Request, name: str, default: int | None = None) -> int | None:
        value = query_value(request.query_params, name, int,
                            lambda v: _Refusal(400, f"The filter '{name}' must be an integer: {v!r}."))
        return default if value is None else value

    @staticmethod
    def _total(request: Request, name: str) -> Decimal | None:
        return query_value(request.query_params, name, Decimal,
                           lambda _: _Refusal(400, f"The filter '{name}' must be a number."))

    @staticmethod
    def _date(request: Request, name: str, *, v3: bool = False) -> datetime | None:
        if v3:
            return query_value(request.query_params, name, parse_iso8601, lambda v: _Refusal(
                422, f"The filter '{name}' is not a valid date.", errors={name: f"invalid date {v!r}"}))
        return query_value(request.query_params, name, parse_any_date, lambda v: _Refusal(
            400, f"The filter '{name}' is not a valid RFC-2822 or ISO-8601 date: {v!r}."))

    def _page_and_limit(self, request: Request, *, v3: bool = False) -> tuple[int, int]:
        page = self._int(request, "page", 1)
        limit = self._int(request, "limit", DEFAULT_LIMIT)
        assert page is not None and limit is not None
        if page < 1 or limit < 1:
            raise _Refusal(422 if v3 else 400, "page and limit must be 1 or more.")
        if limit > MAX_LIMIT:
            if v3:
                raise _Refusal(422, f"The limit may not exceed {MAX_LIMIT}.", errors={"limit": f"max {MAX_LIMIT}"})
            raise _Refusal(413, f"The limit of {MAX_LIMIT} has been exceeded.")
        return page, limit

    @staticmethod
    def _v2_list(rows: list[Any]) -> Response:
        # V2 lists answer an empty result, or a page past the end, with 204 and no body.
        return JSONResponse(rows) if rows else Response(status_code=204)

    def _v2_page(self, request: Request, rows: list[Any]) -> Response:
        page, limit = self._page_and_limit(request)
        return self._v2_list(rows[(page - 1) * limit: page * limit])

    def _v3_page(self, request: Request, rows: list[Any]) -> Response:
        page, limit = self._page_and_limit(request, v3=True)
        chunk = rows[(page - 1) * limit: page * limit]
        total_pages = math.ceil(len(rows) / limit)
        links = {"current": f"?page={page}&limit={limit}",
                 **({"previous": f"?page={page - 1}&limit={limit}"} if page > 1 else {}),
                 **({"next": f"?page={page + 1}&limit={limit}"} if page < total_pages else {})}
        return JSONResponse({
            "data": chunk,
            "meta": {"pagination": {
                "total": len(rows), "count": len(chunk), "per_page": limit, "current_page": page,
                "total_pages": total_pages, "links": links,
            }},
        })

    @staticmethod
    def _in_list(request: Request, name: str) -> list[str]:
        """A comma list filter (`sku:in=a,b`); absent is empty."""
        return [part for part in request.query_params.get(name, "").split(",") if part != ""]

    def _any_of(self, request: Request, name: str, *, with_in_list: bool = True) -> set[str]:
        """The values a V3 filter accepts: `name:in` (a comma list) joined with a plain `name`."""
        values = set(self._in_list(request, f"{name}:in")) if with_in_list else set()
        if request.query_params.get(name) is not None:
            values.add(request.query_params[name])
        return values

    # ------------------------------------------------------------------ V2 orders

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
            # Ties break on id, in the same direction, so paging never shuffles equal rows.
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

    # ------------------------------------------------------------------ V3 metafields

    def _metafield_rows(self, request: Request, order_id: int | None) -> list[dict[str, Any]]:
        q = request.query_params
        namespaces = self._any_of(request, "namespace")
        if self._in_list(request, "key:in") and self.metafield_key_in == "refuse":
            raise _Refusal(400, "The filter 'key:in' is not supported.", errors={"key:in": q["key:in"]})
        keys = self._any_of(request, "key", with_in_list=self.metafield_key_in != "ignore")
        modified_min = self._date(request, "date_modified:min", v3=True)
        modified_max = self._date(request, "date_modified:max", v3=True)
        return [dict(m) for _, m in sorted(self.metafields.items())
                if (order_id is None or m["resource_id"] == order_id)
                and (not namespaces or m["namespace"] in namespaces) and (not keys or m["key"] in keys)
                and within(parse_iso8601(m["date_modified"]), modified_min, modified_max)]

    async def _batch_metafields(self, request: Request) -> Response:
        return self._v3_page(request, self._metafield_rows(request, None))

    async def _order_metafields(self, request: Request, order_id: int) -> Response:
        _found(self.orders, order_id, f"Order {order_id} was not found.")
        return self._v3_page(request, self._metafield_rows(request, order_id))

    # ------------------------------------------------------------------ V3 webhooks

    async def _list_hooks(self, request: Request) -> Response:
        q = request.query_params
        rows = [dict(h) for _, h in sorted(self.hooks.items())
                if ("scope" not in q or h["scope"] == q["scope"])
                and ("destination" not in q or h["destination"] == q["destination"])
                and ("is_active" not in q or str(h["is_active"]).lower() == q["is_active"].lower())]
        return self._v3_page(request, rows)

    async def _hook_body(self, request: Request, *, partial: bool) -> dict[str, Any]:
        try:
            return check_body(json.loads(await request.body() or b"null"), partial=partial)
        except (ValueError, HookRefused) as exc:
            raise _Refusal(422, f"The webhook is not valid: {exc}") from None

    async def _create_hook(self, request: Request) -> Response:
        hook = new_hook(next(self._ids["hook"]), self.store_hash, await self._hook_body(request, partial=False),
                        int(self._now().timestamp()))
        if clash(self.hooks, hook):
            raise _Refusal(422, "A webhook with this scope and destination already exists.")
        if scope_full(self.hooks, hook):
            raise _Refusal(422, "This client already has the most webhooks allowed for this scope.")
        self.hooks[hook["id"]] = hook
        return JSONResponse({"data": dict(hook), "meta": {}})

    async def _get_hook(self, request: Request, hook_id: int) -> Response:
        return JSONResponse({"data": dict(_found(self.hooks, hook_id, HOOK_NOT_FOUND)), "meta": {}})

    async def _update_hook(self, request: Request, hook_id: int) -> Response:
        hook = _found(self.hooks, hook_id, HOOK_NOT_FOUND)
        changed = {**hook, **await self._hook_body(request, partial=True), "updated_at": int(self._now().timestamp())}
        if clash(self.hooks, changed):
            raise _Refusal(422, "A webhook with this scope and destination already exists.")
        if scope_full(self.hooks, changed):
            raise _Refusal(422, "This client already has the most webhooks allowed for this scope.")
        hook.update(changed)
        return JSONResponse({"data": dict(hook), "meta": {}})

    async def _delete_hook(self, request: Request, hook_id: int) -> Response:
        return JSONResponse({"data": self.hooks.pop(_found(self.hooks, hook_id, HOOK_NOT_FOUND)["id"]), "meta": {}})

    # ------------------------------------------------------------------ V3 refunds

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

    # ------------------------------------------------------------------ V3 catalog

    async def _list_catalog_products(self, request: Request) -> Response:
        skus = self._any_of(request, "sku")
        with_variants = "variants" in self._in_list(request, "include")
        rows = [
            self._product_json(p, with_variants=with_variants)
            for _, p in sorted(self.catalog_products.items()) if not skus or p["sku"] in skus
        ]
        return self._v3_page(request, rows)

    async def _get_catalog_product(self, request: Request, product_id: int) -> Response:
        product = _found(self.catalog_products, product_id, PRODUCT_NOT_FOUND)
        with_variants = "variants" in self._in_list(request, "include")
        return JSONResponse({"data": self._product_json(product, with_variants=with_variants), "meta": {}})

    async def _list_product_variants(self, request: Request, product_id: int) -> Response:
        _found(self.catalog_products, product_id, PRODUCT_NOT_FOUND)
        return self._v3_page(request, self._variants(lambda v: v["product_id"] == product_id))

    async def _list_catalog_variants(self, request: Request) -> Response:
        sku = request.query_params.get("sku")
        return self._v3_page(request, self._variants(lambda v: sku is None or v["sku"] == sku))

    def _variants(self, keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Copies of the catalog variants `keep` accepts, by id (ids only grow: insertion order is
        id order, and sorting them for each product made seeding a large store quadratic)."""
        return [copy.deepcopy(v) for v in self.catalog_variants.values() if keep(v)]
