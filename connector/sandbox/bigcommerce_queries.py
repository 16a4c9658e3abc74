"""Query filters and paging of the simulated BigCommerce store, and the refusals they raise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connector.sandbox.transport import query_value
from connector.values import parse_any_date, parse_iso8601

MAX_LIMIT = 250
DEFAULT_LIMIT = 50


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


class Queries:
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
