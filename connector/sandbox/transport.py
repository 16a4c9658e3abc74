"""How requests reach the simulators: an in-process httpx transport (no sockets), and their routes.

A simulator raising SimulatedTimeout makes the client see httpx.ReadTimeout, as a lost answer would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from connector.clock import Clock
from connector.sandbox.faults import LoggedRequest, RequestLog, SimulatedTimeout

T = TypeVar("T")


class SimulatorTransport(httpx.AsyncBaseTransport):
    def __init__(self, app) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except SimulatedTimeout:
            raise httpx.ReadTimeout("simulated: no answer", request=request) from None

    async def aclose(self) -> None:
        await self._inner.aclose()


class Simulator:
    """What both simulators share: one ASGI app that logs every request and hands it to `_answer`, the
    in-process transport, and a fixed-window request quota. A window starts at the first request
    after the previous one ended; a refused request consumes nothing."""

    clock: Clock
    secret_header: str  # the credential header, masked in the request log
    _window_start: float | None = None
    _window_used = 0

    def __init__(self) -> None:
        self.request_log = RequestLog()
        self.app = Starlette(routes=[
            Route("/{path:path}", self._dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ])

    async def _dispatch(self, request: Request) -> Response:
        entry = self.request_log.record(request, await request.body(), self.clock, self.secret_header)
        response = await self._answer(request, entry)
        entry.status = response.status_code
        return response

    async def _answer(self, request: Request, entry: LoggedRequest) -> Response:
        """The simulated API's answer; it may set entry.fault, or raise SimulatedTimeout for none."""
        raise NotImplementedError

    def transport(self) -> SimulatorTransport:
        return SimulatorTransport(self.app)

    def _quota(self) -> tuple[int, float]:
        """(requests, seconds) per window."""
        raise NotImplementedError

    def _window_left(self) -> float:
        """Seconds until the current window ends; 0 or less when none is open."""
        if self._window_start is None:
            return 0
        return self._window_start + self._quota()[1] - self.clock.monotonic()

    def _take_quota(self) -> float | None:
        """Count this request: None when allowed, else the seconds until the window resets."""
        if self._window_left() <= 0:
            self._window_start, self._window_used = self.clock.monotonic(), 0
        if self._window_used >= self._quota()[0]:
            return self._window_left()
        self._window_used += 1
        return None


def route(path: str, endpoint: Callable[..., Any], method: str = "GET") -> Route:
    # Starlette lets HEAD through wherever GET is; the simulated APIs answer HEAD with 405.
    result = Route(path, endpoint, methods=[method])
    result.methods = {method}
    return result


def find_route(routes: Sequence[Route], method: str, path: str) -> tuple[Match, Route | None, dict[str, Any]]:
    """Starlette's matching, for simulators that check auth, quota and faults before they route:
    (FULL, the route, its path parameters); PARTIAL (a 405) or NONE (a 404) without a route."""
    scope = {"type": "http", "method": method, "path": path}
    found = Match.NONE
    for candidate in routes:
        match, child_scope = candidate.matches(scope)
        if match is Match.FULL:
            return match, candidate, child_scope["path_params"]
        if match is Match.PARTIAL:
            found = match
    return found, None, {}


def query_value(query: Mapping[str, str], name: str, parse: Callable[[str], T],
                refuse: Callable[[str], Exception]) -> T | None:
    """The query parameter `name` through `parse`; None when absent or empty, and the exception
    refuse(value) when it does not parse."""
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return parse(value)
    except (ValueError, ArithmeticError):  # Decimal refuses with InvalidOperation, an ArithmeticError
        raise refuse(value) from None


def within(value: Any, low: Any, high: Any) -> bool:
    """low <= value <= high, a None bound being open: the simulated range filters include both ends."""
    return (low is None or value >= low) and (high is None or value <= high)
