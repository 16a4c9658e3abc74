"""How requests reach the simulators: an in-process httpx transport (no sockets), and their routes.

SimulatorTransport is httpx.ASGITransport with one addition: a simulator raising SimulatedTimeout
makes the client see httpx.ReadTimeout, exactly as a real lost answer would look.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
from starlette.routing import Match, Route

from connector.sandbox.faults import SimulatedTimeout

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


def route(path: str, endpoint: Callable[..., Any], method: str = "GET") -> Route:
    """A route for one method. (Starlette lets HEAD through wherever GET is; the simulated APIs
    answer HEAD with 405.)"""
    result = Route(path, endpoint, methods=[method])
    result.methods = {method}
    return result


def find_route(routes: Sequence[Route], method: str, path: str) -> tuple[Match, Route | None, dict[str, Any]]:
    """Starlette's matching, for simulators that check auth, quota and faults before they route.

    (FULL, the route, its converted path parameters); PARTIAL when the path exists only for other
    methods (a 405); NONE when no route has it (a 404).
    """
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
