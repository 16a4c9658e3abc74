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
- orders sharing a date come back by id under a date sort (the reference promises an order only for
  the default sort, by id); ties_unordered (an attribute) shuffles them on each request instead, with
  a seeded generator, the other way a live store could answer;
- a successful PUT always bumps date_modified; renaming a status or setting a metafield does not;
- archived orders (`is_deleted: true`, only through an override) are left out of lists;
- without `consignment_structure=object`, `include=consignments` leaves the link object in place;
- `include=fees` embeds the fee array; GET /orders/{id}/fees answers {"fees": [...]} as the spec's
  example does.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from connector.clock import SYSTEM_CLOCK, Clock
from connector.sandbox.bigcommerce_catalog import Catalog
from connector.sandbox.bigcommerce_hooks import Webhooks
from connector.sandbox.bigcommerce_merchant import MerchantSide, OrderDates, whole_seconds
from connector.sandbox.bigcommerce_metafields import Metafields
from connector.sandbox.bigcommerce_queries import _Refusal
from connector.sandbox.bigcommerce_refunds import Refunds
from connector.sandbox.bigcommerce_statuses import SYSTEM_STATUSES
from connector.sandbox.bigcommerce_v2 import V2Orders
from connector.sandbox.faults import FaultConfig, FaultInjector, LoggedRequest, SimulatedTimeout
from connector.sandbox.transport import Simulator, find_route, route

V3_ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"

ORDERS_READ = frozenset({"store_v2_orders", "store_v2_orders_read_only"})
ORDERS_MODIFY = frozenset({"store_v2_orders"})
PRODUCTS_READ = frozenset({"store_v2_products", "store_v2_products_read_only"})


# Each resource group's endpoints are a mixin; this class holds the state, routes and request gate.
class BigCommerceSimulator(MerchantSide, V2Orders, Metafields, Webhooks, Refunds, Catalog, Simulator):
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
        self.ties_unordered = False
        self.tie_shuffle = random.Random(7)  # seeded: a test sees the same "unordered" ties each run

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
