"""The HTTP side of the X-Series simulator: auth, scopes, the §4 rate limit, faults, routes, JSON."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from connector.sandbox.faults import LoggedRequest, SimulatedTimeout
from connector.sandbox.transport import find_route, route
from connector.sandbox.xseries_refusals import SimHttpError, bad_request, not_found
from connector.values import to_http_date, to_iso8601


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _json_value(value: Any) -> Any:
    """Internal values json cannot write: Decimal → number (X-Series sends money as JSON numbers),
    datetime → ISO-8601."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return to_iso8601(value)
    raise TypeError(f"not JSON: {value!r}")


@dataclass
class _Call:
    """What a handler needs from a request."""

    request: Request
    body: Any


class HttpSide:
    def _quota(self) -> tuple[int, float]:
        return self.rate_limit, self.window_seconds

    def _rate_headers(self) -> dict[str, str]:
        used = self._window_used if self._window_left() > 0 else 0
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(self.rate_limit - used, 0)),
        }

    def _too_many_requests(self, wait_seconds: float) -> Response:
        reset_at = self.clock.now() + timedelta(seconds=max(wait_seconds, 0))
        if reset_at.microsecond:
            # The HTTP-date has whole seconds: round up so a client never retries too early.
            reset_at = reset_at.replace(microsecond=0) + timedelta(seconds=1)
        return self._json(
            429, {"error": "Too Many Requests", "message": "Rate limiting enforced"},
            extra_headers={"Retry-After": to_http_date(reset_at)},
        )

    def _json(self, status: int, payload: Any, extra_headers: dict[str, str] | None = None) -> Response:
        return Response(
            json.dumps(payload, separators=(",", ":"), default=_json_value), status_code=status,
            headers={**self._rate_headers(), **(extra_headers or {})}, media_type="application/json",
        )

    def _authorized(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and value.strip() == self.token

    def _required_scope(self, method: str, path: str, query) -> str | None:
        parts = path.strip("/").split("/")
        if parts[:2] in (["api", "register_sales"], ["api", "products"]):  # the 0.9 writes
            resource = "sales" if parts[1] == "register_sales" else "products"
        elif parts[:2] == ["api", "2.0"] and len(parts) >= 3:
            resource = {"search": query.get("type") or "search", "user": "users"}.get(parts[2], parts[2])
            if parts[2] == "products" and parts[4:5] == ["inventory"]:
                resource = "inventory"
        else:
            return None
        return f"{resource}:{'write' if method in WRITE_METHODS else 'read'}"

    async def _answer(self, request: Request, entry: LoggedRequest) -> Response:
        method = request.method
        path = request.url.path
        await self.faults.delay()
        if not self._authorized(request):
            return self._json(401, {"error": "Access token is not valid"})
        wait = self._take_quota()
        if wait is not None:
            return self._too_many_requests(wait)
        scope = self._required_scope(method, path, request.query_params)
        if self.scopes is not None and scope is not None and scope not in self.scopes:
            return self._json(403, {"error": "permission denied"})

        fault = entry.fault = self.faults.pick_before(path)
        if fault == "5xx":
            return self._json(500, {"error": "Internal Server Error", "message": "simulated server error"})
        if fault == "429":
            return self._too_many_requests(self.injected_retry_after_seconds)
        if fault == "timeout":
            raise SimulatedTimeout(f"{method} {path}")  # nothing applied, no answer

        try:
            if not entry.body_is_json:
                raise bad_request("the body is not valid JSON")
            status, payload = self._route(method, path, _Call(request, entry.body))
        except SimHttpError as error:
            return self._json(error.status, error.body)

        if method in WRITE_METHODS and 200 <= status < 300 and self.faults.lose_response(method, path):
            entry.fault = "lost_response"  # applied, but the client never hears back
            raise SimulatedTimeout(f"{method} {path}")
        if method in WRITE_METHODS and self.faults.config.answer_delay_seconds and self.faults.applies_to(path):
            await asyncio.sleep(self.faults.config.answer_delay_seconds)
        return self._json(status, payload)

    def _build_routes(self) -> list[Route]:
        return [
            route("/api/2.0/retailer", lambda c: (200, {"data": self.retailer})),
            route("/api/2.0/outlets", lambda c: self._list(c, self.outlets.values())),
            route("/api/2.0/outlets/{id}", lambda c, id: self._one(self.outlets, id, "outlet")),
            route("/api/2.0/registers", lambda c: self._list(c, self.registers.values())),
            route("/api/2.0/registers/{id}", lambda c, id: self._one(self.registers, id, "register")),
            route("/api/2.0/registers/{id}/actions/open", self._open_register_http, "PUT"),
            route("/api/2.0/users", lambda c: self._list(c, self.users.values())),
            route("/api/2.0/users/{id}", lambda c, id: self._one(self.users, id, "user")),
            route("/api/2.0/user", self._get_current_user),
            route("/api/2.0/payment_types", lambda c: self._list(c, self.payment_types.values())),
            route("/api/2.0/taxes", lambda c: self._list(c, self.taxes.values())),
            route("/api/2.0/variant_attributes", self._list_variant_attributes),
            route("/api/2.0/products", self._list_products),
            route("/api/2.0/products", self._create_product_http, "POST"),
            route("/api/2.0/products/{id}", lambda c, id: self._one(self.products, id, "product")),
            route("/api/2.0/products/{id}/inventory", self._product_inventory),
            route("/api/2.0/inventory", lambda c: self._list(c, self.inventory.values())),
            route("/api/2.0/customers", lambda c: self._list(c, self.customers.values())),
            route("/api/2.0/customers", self._create_customer_http, "POST"),
            route("/api/2.0/customers/{id}", lambda c, id: self._one(self.customers, id, "customer")),
            route("/api/2.0/sales", self._list_sales),
            route("/api/2.0/sales/{id}", self._get_sale_20),
            route("/api/2.0/search", self._search),
            route("/api/products", self._write_product_09_http, "POST"),
            route("/api/register_sales", self._post_register_sale, "POST"),
            route("/api/register_sales/{id}", self._get_sale_09),
        ]

    def _route(self, method: str, path: str, call: _Call) -> tuple[int, Any]:
        # One trailing slash is tolerated.
        match, found, params = find_route(self._routes, method, path.removesuffix("/"))
        if match is Match.PARTIAL:
            raise SimHttpError(405, {"error": "Method Not Allowed", "message": f"{method} {path}"})
        if found is None:
            raise not_found(f"no such endpoint: {path}")
        return found.endpoint(call, **params)
