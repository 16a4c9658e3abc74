"""BigCommerce REST client: orders (V2), order statuses (V2); reading the order list is in
bigcommerce_order_listing.py, its V3 resources (order metafields, webhooks, refunds, catalog) in
bigcommerce_v3.py.

Builds paths and parses bodies; everything about HTTP (retries, error types, pacing) lives in
connector.clients.transport and connector.clients.bigcommerce_pacer. References: §2 (order list
filters and paging), §3/§4 (order and line shapes), §6 (status PUT), §9 (V3 paging), §10 (catalog),
§13 (metafields) of /work/shared/reference/bigcommerce-api.md.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

import httpx

from connector.clients.bigcommerce_models import Order, OrderStatus, OrderStatusRead, OrderValidationError
from connector.clients.bigcommerce_order_listing import ORDER_INCLUDE, OrderListing, v2_list
from connector.clients.bigcommerce_pacer import BigCommercePacer
from connector.clients.bigcommerce_v3 import API, PAGE_LIMIT, V3Resources, unexpected
from connector.clients.transport import ApiTransport, RetryPolicy, TransportClient
from connector.clock import SYSTEM_CLOCK, Clock
from connector.errors import ConfigError
from connector.values import whole_number

log = logging.getLogger("connector.bigcommerce")


class BigCommerceClient(OrderListing, V3Resources, TransportClient):
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
            batch = v2_list(response, path)
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
        return [OrderStatus.model_validate(row) for row in v2_list(response, "/v2/order_statuses")]

    async def update_order_status(self, order_id: int, status_id: int, *,
                                  before_send: Callable[[], Awaitable[None]] | None = None) -> OrderStatusRead:
        """PUT only {"status_id": n}: any other field could be rejected or change the order.

        Setting a status is idempotent (a repeat sets the same value), so the transport may send it
        again after a 429, a 5xx or a timeout; `before_send` runs right before each attempt, the
        first included, after any wait for the quota or a backoff, during which the order may have
        moved: ID verification reads it again there.
        Only the answer's status id is read: an applied write whose other fields do not parse is
        still known to be applied. A 2xx without one (204, a partial object; §6 promises the order)
        is applied all the same: the order is read to tell its status.
        """
        path = f"/v2/orders/{int(order_id)}"
        response = await self.transport.request(
            "PUT", path, json={"status_id": int(status_id)}, safe_to_repeat=True, before_send=before_send,
        )
        if response.status_code != 204 and response.content.strip():
            try:
                return OrderStatusRead.from_answer(order_id, response.json_or_retry(API, path))
            except OrderValidationError:
                pass
        log.info("order %s: the status write's answer has no status_id; reading the order", order_id)
        return await self.get_order_status(order_id)
