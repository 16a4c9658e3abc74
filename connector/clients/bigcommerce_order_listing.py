"""How BigCommerce's order list is read (V2, reference §2): paged by key, each order parsed, and counted.
A mixin of BigCommerceClient (bigcommerce.py), on its transport."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Callable

from connector.clients.api_response import ApiResponse
from connector.clients.bigcommerce_models import Order, OrderValidationError
from connector.clients.bigcommerce_v3 import API, PAGE_LIMIT, query, unexpected
from connector.errors import ApiError, CredentialsError
from connector.values import http_date, parse_any_date, parse_rfc2822, to_iso8601, whole_number

# Embeds every consignment with its line items and the order's fees, saving a /products and a
# /fees call per order (reference §4, §15).
ORDER_INCLUDE = {"include": "consignments.line_items,fees", "consignment_structure": "object"}

OnInvalidOrder = Callable[[OrderValidationError, dict[str, Any]], None]
OnServerTime = Callable[[datetime], None]


class OrderListing:
    def iter_orders_modified(
        self, since: datetime, until: datetime, *, on_invalid: OnInvalidOrder | None = None,
        on_server_time: OnServerTime | None = None,
    ) -> AsyncIterator[Order]:
        """Orders with since <= date_modified <= until, oldest change first, whether BigCommerce's
        bounds include their own second or not (_iter_orders); the caller owns overlap and dedupe
        across cycles. `until` should be fixed at the start of a cycle so
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
        """Orders with since <= date_created <= until, oldest first (historical import). None: no bound. on_page: called
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
        A full page within one second has no such key: that second and the next are read whole by
        id (_read_seconds), and the listing goes on from the second after.

        on_invalid: called with (error, raw order) for an order that does not parse, and the
        iteration goes on; without it the error is raised (one bad order stops the listing). An
        order whose parts could not be read (an ApiError other than refused credentials) is passed
        to it too, as an OrderValidationError marked retryable.

        The date bounds are the orders wanted: [min, max] inclusive. Whether BigCommerce's include
        their own second is unverified, so the second before and the one after are asked too and the
        rows outside dropped here: else an exclusive store loses the orders of a bound's second (of
        two import chunks meeting at midnight, the order placed at midnight was in neither).
        """
        key_field = filters["sort"].split(":")[0]  # date_modified or date_created
        lower_param, upper_param = f"min_{key_field}", f"max_{key_field}"
        since = lower = parse_any_date(filters[lower_param]) if filters.get(lower_param) else None
        until = parse_any_date(filters[upper_param]) if filters.get(upper_param) else None
        if lower is not None:
            lower -= timedelta(seconds=1)
        if until is not None:
            filters = {**filters, upper_param: to_iso8601(until + timedelta(seconds=1))}
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
            inside = [raw for raw in rows if _within(_row_date(raw, key_field), since, until)]
            async for order in self._take_rows(inside, key_field, seen, on_invalid, on_page):
                yield order
            if len(rows) < PAGE_LIMIT:
                return
            first, last = _row_date(rows[0], key_field), _row_date(rows[-1], key_field)
            if last is None:
                page += 1  # no key to restart from: the rare malformed row
                continue
            restart = last - timedelta(seconds=1)
            stuck = first == last or (lower is not None and restart <= lower)
            if stuck and (lower is None or last >= lower):
                # A full page within one second, or ending in the second after the one it started
                # from: ties have no promised order, so page numbers could skip some. Read that
                # last second and the next whole, by id, and go on after them.
                async for order in self._read_seconds(filters, key_field, last, seen, on_invalid,
                                                      on_page, on_server_time, (since, until)):
                    yield order
                lower, page = last + timedelta(seconds=1), 1
                if until is not None and lower + timedelta(seconds=1) > until:
                    return  # keys are whole seconds: nothing after `lower` is left below `upper`
            elif lower is None or restart > lower:
                lower, page = restart, 1
            else:
                page += 1  # rows before the bound asked for: no key to restart from either
                continue
            seen = {i: key for i, key in seen.items() if key is None or key >= lower}

    async def _read_seconds(
        self, filters: dict[str, Any], key_field: str, second: datetime, seen: dict[int, datetime | None],
        on_invalid: OnInvalidOrder | None, on_page: Callable[[list[int]], None] | None,
        on_server_time: OnServerTime | None, bounds: tuple[datetime | None, datetime | None],
    ) -> AsyncIterator[Order]:
        """Every order whose key is `second` or the second after (within `bounds`), in the default sort (by id
        ascending, the only order the reference promises, §2), paged by min_id from the last id read:
        an order leaving the window meanwhile shifts no page. The reference does not say whether
        date bounds include their own second, so the window asked is the second before to two after
        and rows outside the two seconds are dropped; the listing then goes on from the second after,
        which a bound including it repeats (dropped) and one excluding it skips (already read here).
        min_id from the last id read works either way too (at worst one repeat)."""
        params = {name: value for name, value in filters.items() if name != "sort"}
        params[f"min_{key_field}"] = to_iso8601(second - timedelta(seconds=1))
        params[f"max_{key_field}"] = to_iso8601(second + timedelta(seconds=2))
        wanted = [when for when in (second, second + timedelta(seconds=1)) if _within(when, *bounds)]
        while True:
            rows = await self._orders_page_raw(page=1, limit=PAGE_LIMIT, filters=params,
                                               on_server_time=on_server_time)
            inside = [raw for raw in rows if _row_date(raw, key_field) in wanted]
            async for order in self._take_rows(inside, key_field, seen, on_invalid, on_page):
                yield order
            ids = [raw["id"] for raw in rows if isinstance(raw, dict) and isinstance(raw.get("id"), int)]
            if len(rows) < PAGE_LIMIT or not ids or params.get("min_id") == max(ids):
                return
            params["min_id"] = max(ids)

    async def _take_rows(
        self, rows: list[Any], key_field: str, seen: dict[int, datetime | None],
        on_invalid: OnInvalidOrder | None, on_page: Callable[[list[int]], None] | None,
    ) -> AsyncIterator[Order]:
        """The orders of one page not yielded before (`seen`, updated here), parsed."""
        if on_page is not None:
            on_page([raw["id"] for raw in rows if isinstance(raw, dict) and isinstance(raw.get("id"), int)
                     and raw["id"] not in seen])
        for raw in rows:
            try:
                order = await self._parse_order(raw)
            except CredentialsError:
                raise  # nothing will read: a person must fix the token
            except ApiError as exc:
                # One order's parts (/products, /fees…) kept failing past the transport's retries:
                # that order waits in the failed queue, the listing (and the orders after it) go on.
                raw_id = raw.get("id") if isinstance(raw, dict) else None
                if on_invalid is None or not isinstance(raw_id, int):
                    raise
                if raw_id not in seen:
                    seen[raw_id] = None
                    on_invalid(OrderValidationError(raw_id, f"could not be read: {exc}", retryable=True), raw)
                continue
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
        rows = v2_list(response, "/v2/orders")
        if on_server_time is not None and (server_now := http_date(response.headers.get_list("Date"))):
            on_server_time(server_now)
        return rows

    async def count_orders(self, **filters: Any) -> int:
        """GET /v2/orders/count with the list's filters (datetimes sent as ISO-8601 UTC)."""
        response = await self.transport.request("GET", "/v2/orders/count", params=query(filters))
        if response.status_code == 204 or not response.content:
            return 0
        data = response.json_or_retry(API, "/v2/orders/count")
        # The spec types `count` as number: a whole number sent as 45.0 is 45 orders.
        count = whole_number(data.get("count")) if isinstance(data, dict) else None
        if count is None:
            raise unexpected("order count answer has no whole-number 'count'", response, "/v2/orders/count", data)
        return count


def v2_list(response: ApiResponse, path: str) -> list[dict[str, Any]]:
    """A V2 collection: 204 or an empty body mean no rows (past the last page, or no match)."""
    if response.status_code == 204 or not response.content.strip():
        return []
    data = response.json_or_retry(API, path)
    if not isinstance(data, list):
        raise unexpected("expected a JSON array", response, path, data)
    return data


def _within(when: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    """Whether a row's key is within the bounds asked (one without a readable key is kept: an
    invalid order, reported as such)."""
    return when is None or ((since is None or when >= since) and (until is None or when <= until))


def _row_date(raw: Any, field: str) -> datetime | None:
    """The sort key of a raw order row, or None when it is missing or malformed."""
    if not isinstance(raw, dict):
        return None
    try:
        return parse_rfc2822(raw.get(field))
    except (TypeError, ValueError):
        return None
