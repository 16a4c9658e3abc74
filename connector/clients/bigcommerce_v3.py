"""BigCommerce's V3 resources the connector uses: order metafields, webhooks, refunds, the catalogue,
and the V3 envelope's paging (reference §9, §10, §12, §13, §15). A mixin of BigCommerceClient
(bigcommerce.py), on its transport: paths and bodies only, HTTP is the transport's.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, AsyncIterator, Callable

from pydantic import ValidationError

from connector.clients.api_response import ApiResponse
from connector.clients.bigcommerce_v3_models import CatalogProduct, Metafield, Refund
from connector.errors import NotFoundError, PermanentApiError
from connector.values import as_utc, http_date, to_iso8601, whole_number

log = logging.getLogger("connector.bigcommerce")

API = "BigCommerce"
PAGE_LIMIT = 250  # the documented maximum for V2 and V3 collections; more can answer 413


class V3Resources:
    # -- order metafields (V3) --------------------------------------------------------------

    def iter_order_metafields(
        self,
        *,
        namespace: str | None = None,
        key: str | None = None,
        keys: tuple[str, ...] | None = None,
        modified_since: datetime | None = None,
        on_server_time: Callable[[datetime], None] | None = None,
    ) -> AsyncIterator[Metafield]:
        """Every order metafield matching the filters, across all orders (batch endpoint). `keys`:
        any of these keys, in one call (`key:in`). on_server_time: called with each answer's Date
        (BigCommerce's clock, which stamps date_modified), when it has a readable one."""
        params = query({"namespace": namespace, "key": key, "key:in": keys or None,
                         "date_modified:min": metafield_date(modified_since)})
        return self._metafields("/v3/orders/metafields", params, on_server_time)

    async def list_metafields_for_order(
        self, order_id: int, *, namespace: str | None = None, key: str | None = None
    ) -> list[Metafield]:
        path = f"/v3/orders/{int(order_id)}/metafields"
        params = query({"namespace": namespace, "key": key})
        return [m async for m in self._metafields(path, params)]

    async def _metafields(self, path: str, params: dict[str, Any],
                          on_server_time: Callable[[datetime], None] | None = None) -> AsyncIterator[Metafield]:
        """The rows that parse, each with its answer's Date (Metafield.answered_at: the time to go
        by for one without date_modified). One that does not parse is logged and passed over, so that
        it does not hold every other order's metafields back at each read."""
        answered: list[datetime | None] = [None]  # the Date of the answer whose rows come now

        def on_answer(server_now: datetime | None) -> None:
            answered[0] = server_now
            if server_now is not None and on_server_time is not None:
                on_server_time(server_now)

        async for row in self._iter_v3(path, params, lambda row: row, on_answer=on_answer):
            try:
                metafield = Metafield.model_validate(row)
            except ValidationError as exc:
                who = row.get("resource_id") if isinstance(row, dict) else None
                log.error("order metafield %s of order %s does not parse; passed over: %s",
                          row.get("id") if isinstance(row, dict) else "?", who, what_is_wrong(exc))
                continue
            metafield._answered_at = answered[0]
            yield metafield

    # -- webhooks (V3) ------------------------------------------------------------------------

    async def list_hooks(self) -> list[dict[str, Any]]:
        """Every webhook of this store and API account (GET /v3/hooks, all pages)."""
        return [hook async for hook in self._iter_v3("/v3/hooks", {}, dict)]

    async def create_hook(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._hook_write("POST", "/v3/hooks", body)

    async def update_hook(self, hook_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return await self._hook_write("PUT", f"/v3/hooks/{int(hook_id)}", body)

    async def delete_hook(self, hook_id: int) -> None:
        """DELETE /v3/hooks/{id}; a hook already gone (404, e.g. a repeat whose first answer was lost) is done."""
        try:
            await self.transport.request("DELETE", f"/v3/hooks/{int(hook_id)}", safe_to_repeat=True)
        except NotFoundError:
            pass

    async def _hook_write(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        # Setting a hook to the same scope, destination and headers again changes nothing: safe to repeat.
        response = await self.transport.request(method, path, json=body, safe_to_repeat=method == "PUT")
        data = response.json_or_retry(API, path)
        if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
            raise unexpected("expected a V3 envelope {data: webhook}", response, path, data)
        return data["data"]

    # -- refunds (V3) -------------------------------------------------------------------------

    async def iter_refunds(self, *, created_since: datetime | None = None, created_until: datetime | None = None,
                           order_ids: tuple[int, ...] | None = None,
                           on_invalid: Callable[[Any, str], None] | None = None) -> AsyncIterator[Refund]:
        """Every refund created since then (up to then; both bounds inclusive, §15), of these orders,
        oldest first: one call per cycle. `on_invalid(row, what is wrong)`: a row that does not
        parse goes there and the rest come (without it, it raises)."""
        params = query({"created:min": created_since, "created:max": created_until, "order_id:in": order_ids})
        async for row in self._iter_v3("/v3/orders/payment_actions/refunds", params, lambda row: row):
            try:
                refund = Refund.model_validate(row)
            except ValidationError as exc:
                if on_invalid is None:
                    raise
                on_invalid(row, what_is_wrong(exc))
                continue
            yield refund

    # -- catalog (V3) -----------------------------------------------------------------------

    async def catalog_product(self, product_id: int) -> CatalogProduct:
        """One catalog product with its variants (NotFoundError when it no longer exists)."""
        path = f"/v3/catalog/products/{int(product_id)}"
        response = await self.transport.request("GET", path, params={"include": "variants"})
        body = response.json_or_retry(API, path)
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise unexpected("expected a V3 envelope {data: product}", response, path, body)
        return CatalogProduct.model_validate(body["data"])

    # -- V3 paging --------------------------------------------------------------------------

    async def _iter_v3(
        self, path: str, params: dict[str, Any], parse: Callable[[Any], Any],
        on_server_time: Callable[[datetime], None] | None = None,
        on_answer: Callable[[datetime | None], None] | None = None,
    ) -> AsyncIterator[Any]:
        """Follow meta.pagination (current_page / total_pages) until the last page. Some V3 lists
        are specified with an empty `meta` (the refunds list: metaEmpty_Full) and V3 pagination is
        optional: without it, pages are read until an empty one (or one that repeats the last, from
        a server that ignores `page`), never stopping after the first. on_server_time: each readable
        Date; on_answer: each answer's Date or None."""
        page, previous = 1, None
        while True:
            response = await self.transport.request(
                "GET", path, params={**params, "limit": PAGE_LIMIT, "page": page}
            )
            body = response.json_or_retry(API, path) if response.content.strip() else {}
            server_now = http_date(response.headers.get_list("Date"))
            if on_server_time is not None and server_now:
                on_server_time(server_now)
            if on_answer is not None:  # every answer, before its rows: its Date, or None
                on_answer(server_now)
            if not isinstance(body, dict):
                raise unexpected("expected a V3 envelope {data, meta}", response, path, body)
            rows = body.get("data") or []
            if not rows or rows == previous:
                return
            for row in rows:
                yield parse(row)
            meta = body.get("meta")
            pagination = (meta.get("pagination") if isinstance(meta, dict) else None) or {}
            total, current = (whole_number(pagination.get(k)) for k in ("total_pages", "current_page"))
            if total is not None and (page if current is None else current) >= total:
                return
            page, previous = page + 1, rows


def what_is_wrong(exc: ValidationError) -> str:
    """A validation error in one line: each field and what is wrong with it."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def query(filters: dict[str, Any]) -> dict[str, Any]:
    """Query parameters from filters: None left out, datetimes as ISO-8601 UTC, lists comma-joined."""
    return {k: _value(v) for k, v in filters.items() if v is not None}


def metafield_date(moment: datetime | None) -> str | None:
    """A metafield filter's date in the form orders.v3.yml documents (`date_modified:min=2019-09-04T00:00:00`,
    no offset), in UTC, as BigCommerce stamps metafields: a server that reads only that form refuses an
    offset, and the ID-verification poll would read no verdict."""
    return None if moment is None else as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S")


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_iso8601(value)
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return value


def unexpected(message: str, response: ApiResponse, path: str, body: Any) -> PermanentApiError:
    """A 2xx answer whose shape is not the documented one."""
    return PermanentApiError(message, api=API, method=response.request.method, path=path,
                             status=response.status_code, body=body)
