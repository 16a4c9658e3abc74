"""BigCommerce REST client: orders (V2), order statuses (V2); its V3 resources (order metafields,
webhooks, refunds, catalog) are in bigcommerce_v3.py.

Builds paths and parses bodies; everything about HTTP (retries, error types, pacing) lives in
connector.clients.transport and connector.clients.bigcommerce_pacer. References: §2 (order list
filters and paging), §3/§4 (order and line shapes), §6 (status PUT), §9 (V3 paging), §10 (catalog),
§13 (metafields) of /work/shared/reference/bigcommerce-api.md.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Awaitable, Callable

import httpx

from connector.clients.bigcommerce_models import Order, OrderStatus, OrderStatusRead, OrderValidationError
from connector.clients.bigcommerce_pacer import BigCommercePacer
from connector.clients.bigcommerce_v3 import API, PAGE_LIMIT, V3Resources, query, unexpected
from connector.clients.transport import ApiResponse, ApiTransport, RetryPolicy, TransportClient
from connector.clock import SYSTEM_CLOCK, Clock
from connector.errors import ConfigError
from connector.values import http_date, parse_any_date, parse_rfc2822, to_iso8601, whole_number

log = logging.getLogger("connector.bigcommerce")

# Embeds every consignment with its line items and the order's fees, saving a /products and a
# /fees call per order (reference §4, §15).
ORDER_INCLUDE = {"include": "consignments.line_items,fees", "consignment_structure": "object"}

OnInvalidOrder = Callable[[OrderValidationError, dict[str, Any]], None]
OnServerTime = Callable[[datetime], None]


class BigCommerceClient(V3Resources, TransportClient):
    def __init__(
        self,
        *,
        store_hash: str,
        access_token: str,
        api_url: str = "https://api.bigcommerce.com",
        http_transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        store_hash = (store_hash or "").strip()
        if not store_hash or "/" in store_hash:
            raise ConfigError("BigCommerce store hash is empty or malformed (expected e.g. 'abc123')")
        if not access_token or not access_token.strip():
            raise ConfigError("BigCommerce access token is empty")
        self.store_hash = store_hash
        # A request unanswered after twice the timeout has failed; it no longer holds quota.
        self.pacer = BigCommercePacer(clock, in_flight_expiry=2 * timeout + 5.0)
        # The token lives only in the transport's header dict; it is never logged or put in errors.
        self.transport = ApiTransport(
            api=API,
            base_url=f"{api_url.rstrip('/')}/stores/{store_hash}",
            headers={"X-Auth-Token": access_token.strip()},
            pacer=self.pacer,
            retry=retry,
            clock=clock,
            http_transport=http_transport,
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"BigCommerceClient(store_hash={self.store_hash!r})"

    # -- orders (V2) ------------------------------------------------------------------------

    def iter_orders_modified(
        self, since: datetime, until: datetime, *, on_invalid: OnInvalidOrder | None = None,
        on_server_time: OnServerTime | None = None,
    ) -> AsyncIterator[Order]:
        """Orders with since <= date_modified <= until, oldest change first.

        The bounds are sent as given (BigCommerce's filter resolution is one second); the caller
        owns overlap and dedupe across cycles. `until` should be fixed at the start of a cycle so
        orders modified while paging fall into the next cycle instead of shifting pages.
        on_server_time: called with the Date header of each page's answer (BigCommerce's clock, which
        stamps date_modified; ours may differ), when the answer has a readable one.
        """
        filters = {"min_date_modified": since, "max_date_modified": until, "sort": "date_modified:asc"}
        return self._iter_orders(query(filters), on_invalid, on_server_time=on_server_time)

    def iter_orders_created(
        self,
        since: datetime | None,
        until: datetime | None,
        *,
        on_invalid: OnInvalidOrder | None = None,
        on_page: Callable[[list[int]], None] | None = None,
    ) -> AsyncIterator[Order]:
        """Orders by creation date, oldest first (historical import). None: no bound. on_page: called
        with the ids of each page read, before its orders are yielded (to read their state at once)."""
        filters = {"sort": "date_created:asc", "min_date_created": since, "max_date_created": until}
        return self._iter_orders(query(filters), on_invalid, on_page)

    async def _iter_orders(
        self, filters: dict[str, Any], on_invalid: OnInvalidOrder | None,
        on_page: Callable[[list[int]], None] | None = None, *, on_server_time: OnServerTime | None = None,
    ) -> AsyncIterator[Order]:
        """Page through /v2/orders until a short or empty page.

        Paging is by key, not by page number: after a full page the next request starts one second
        before the last order's date (page 1). Page numbers drift when orders sharing one second
        come back in a different order between requests, and a drifted order would be skipped;
        restarting re-reads that second instead, and repeats are dropped here. The second before,
        not the last date itself: the reference does not say whether min_date_* includes its bound,
        and if it does not, the orders sharing the last date beyond this page would be skipped.
        Only when a whole page lies within that second do we step to the next page number.

        on_invalid: called with (error, raw order) for an order that does not parse, and the
        iteration goes on; without it the error is raised (one bad order stops the listing).
        """
        key_field = filters["sort"].split(":")[0]  # date_modified or date_created
        lower_param = f"min_{key_field}"
        lower = parse_any_date(filters[lower_param]) if filters.get(lower_param) else None
        page = 1
        # Ids already yielded that the next request can return again: those whose sort key is
        # at or after `lower` (it restarts there, inclusive). Older ones are forgotten as `lower`
        # moves on, so a 100,000-order import holds about one page of ids, not all of them. Rows
        # without a readable key (invalid orders) are kept: they are rare, and a repeat of one
        # would count its failure twice.
        seen: dict[int, datetime | None] = {}
        while True:
            params = dict(filters)
            if lower is not None:
                params[lower_param] = to_iso8601(lower)
            rows = await self._orders_page_raw(page=page, limit=PAGE_LIMIT, filters=params,
                                               on_server_time=on_server_time)
            if on_page is not None:
                on_page([raw["id"] for raw in rows if isinstance(raw, dict) and isinstance(raw.get("id"), int)
                         and raw["id"] not in seen])
            for raw in rows:
                try:
                    order = await self._parse_order(raw)
                except OrderValidationError as exc:
                    raw_id = raw.get("id") if isinstance(raw, dict) else None
                    if isinstance(raw_id, int):
                        if raw_id in seen:
                            continue
                        seen[raw_id] = None
                    if on_invalid is None:
                        raise
                    on_invalid(exc, raw)
                    continue
                if order.id in seen:
                    continue
                seen[order.id] = getattr(order, key_field)
                yield order
            if len(rows) < PAGE_LIMIT:
                return
            last = _row_date(rows[-1], key_field)
            restart = last - timedelta(seconds=1) if last is not None else None
            if restart is not None and (lower is None or restart > lower):
                lower, page = restart, 1
                seen = {i: key for i, key in seen.items() if key is None or key >= lower}
            else:
                page += 1

    async def newest_orders(self, limit: int = 10) -> list[tuple[int, int]]:
        """(id, status_id) of the newest orders, read without parsing the rest: a start-up check must
        not stop on one malformed order."""
        rows = await self._orders_page_raw(page=1, limit=limit, filters={"sort": "date_created:desc"})
        return [(row["id"], row["status_id"]) for row in rows if isinstance(row, dict)
                and isinstance(row.get("id"), int) and isinstance(row.get("status_id"), int)]

    async def _orders_page_raw(
        self, *, page: int, limit: int, filters: dict[str, Any], on_server_time: OnServerTime | None = None,
    ) -> list[dict[str, Any]]:
        if not 1 <= limit <= PAGE_LIMIT:
            raise ValueError(f"limit must be 1..{PAGE_LIMIT}, got {limit}")
        params = {
            **query(filters),
            "limit": limit,
            **ORDER_INCLUDE,
            "page": page,
        }
        response = await self.transport.request("GET", "/v2/orders", params=params)
        rows = _v2_list(response, "/v2/orders")
        if on_server_time is not None and (server_now := http_date(response.headers.get_list("Date"))):
            on_server_time(server_now)
        return rows

    async def count_orders(self, **filters: Any) -> int:
        """GET /v2/orders/count with the list's filters (datetimes sent as ISO-8601 UTC)."""
        response = await self.transport.request("GET", "/v2/orders/count", params=query(filters))
        if response.status_code == 204 or not response.content:
            return 0
        data = response.json_or_retry(API, "/v2/orders/count")
        if not isinstance(data, dict) or not isinstance(data.get("count"), int):
            raise unexpected("order count answer has no integer 'count'", response, "/v2/orders/count", data)
        return data["count"]

    async def get_order(self, order_id: int) -> Order:
        response = await self.transport.request("GET", f"/v2/orders/{int(order_id)}", params=ORDER_INCLUDE)
        data = response.json_or_retry(API, f"/v2/orders/{order_id}")
        if not isinstance(data, dict):
            raise OrderValidationError(order_id, "the order answer is not a JSON object")
        return await self._parse_order(data)

    async def get_order_status(self, order_id: int) -> OrderStatusRead:
        """The order's status id alone, for ID verification's decisions: read from the answer without
        parsing the rest (nor asking for its lines), so an order whose other fields do not parse
        still gets its verdict."""
        path = f"/v2/orders/{int(order_id)}"
        response = await self.transport.request("GET", path)
        return OrderStatusRead.from_answer(order_id, response.json_or_retry(API, path))

    async def list_order_products(self, order_id: int) -> list[dict[str, Any]]:
        """Raw line items of one order from /v2/orders/{id}/products, all pages."""
        return await self._v2_all(f"/v2/orders/{int(order_id)}/products")

    async def list_order_shipping_addresses(self, order_id: int) -> list[dict[str, Any]]:
        """Raw shipping addresses of one order from /v2/orders/{id}/shipping_addresses, all pages."""
        return await self._v2_all(f"/v2/orders/{int(order_id)}/shipping_addresses")

    async def _v2_all(self, path: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self.transport.request(
                "GET", path, params={"limit": PAGE_LIMIT, "page": page}
            )
            batch = _v2_list(response, path)
            rows.extend(batch)
            if len(batch) < PAGE_LIMIT:
                return rows
            page += 1

    async def list_order_fees(self, order_id: int) -> list[dict[str, Any]]:
        """Raw fees of one order from /v2/orders/{id}/fees: the spec's example answers
        {"fees": [...]}, a bare array is read too."""
        path = f"/v2/orders/{int(order_id)}/fees"
        response = await self.transport.request("GET", path)
        if response.status_code == 204 or not response.content.strip():
            return []
        data = response.json_or_retry(API, path)
        fees = data.get("fees") if isinstance(data, dict) else data
        if not isinstance(fees, list):
            raise unexpected("expected the order's fees as an array", response, path, data)
        return fees

    async def _parse_order(self, data: dict[str, Any]) -> Order:
        order = Order.from_api(data)
        products = fees = addresses = None
        if not order.lines_included:
            # The store did not embed the line items (include ignored, or links only): fetch them.
            log.info("order %s: line items not embedded, reading /products", order.id)
            products = await self.list_order_products(order.id)
            if not order.shipping_addresses and (whole_number(data.get("shipping_address_count")) or 0) > 0:
                # Nor the shipping consignments: the sale's address, method and per-address charges.
                addresses = await self.list_order_shipping_addresses(order.id)
        if not order.fees_included and isinstance(data.get("fees"), dict):
            # A link object where include=fees should have put the fees: fetch them.
            log.info("order %s: fees not embedded, reading /fees", order.id)
            fees = await self.list_order_fees(order.id)
        if products is None and fees is None:
            return order
        return Order.from_api(data, products=products, fees=fees, shipping_addresses=addresses)

    async def list_order_statuses(self) -> list[OrderStatus]:
        response = await self.transport.request("GET", "/v2/order_statuses")
        return [OrderStatus.model_validate(row) for row in _v2_list(response, "/v2/order_statuses")]

    async def update_order_status(self, order_id: int, status_id: int, *,
                                  before_resend: Callable[[], Awaitable[None]] | None = None) -> OrderStatusRead:
        """PUT only {"status_id": n}: any other field could be rejected or change the order.

        Setting a status is idempotent (a repeat sets the same value), so the transport may send it
        again after a 429, a 5xx or a timeout; `before_resend` runs right before each repeat (after
        the wait, during which the order may have moved: ID verification reads it again there).
        Only the answer's status id is read: an applied write whose other fields do not parse is
        still known to be applied. A 2xx without one (204, a partial object; §6 promises the order)
        is applied all the same: the order is read to tell its status.
        """
        path = f"/v2/orders/{int(order_id)}"
        response = await self.transport.request(
            "PUT", path, json={"status_id": int(status_id)}, safe_to_repeat=True, before_resend=before_resend,
        )
        if response.status_code != 204 and response.content.strip():
            try:
                return OrderStatusRead.from_answer(order_id, response.json_or_retry(API, path))
            except OrderValidationError:
                pass
        log.info("order %s: the status write's answer has no status_id; reading the order", order_id)
        return await self.get_order_status(order_id)


def _v2_list(response: ApiResponse, path: str) -> list[dict[str, Any]]:
    """A V2 collection: 204 or an empty body mean no rows (past the last page, or no match)."""
    if response.status_code == 204 or not response.content.strip():
        return []
    data = response.json_or_retry(API, path)
    if not isinstance(data, list):
        raise unexpected("expected a JSON array", response, path, data)
    return data


def _row_date(raw: Any, field: str) -> datetime | None:
    """The sort key of a raw order row, or None when it is missing or malformed."""
    if not isinstance(raw, dict):
        return None
    try:
        return parse_rfc2822(raw.get(field))
    except (TypeError, ValueError):
        return None
