"""In-process httpx transport for the simulators (no sockets).

httpx.ASGITransport with one addition: a simulator raising SimulatedTimeout makes the client see
httpx.ReadTimeout, exactly as a real lost answer would look.
"""

from __future__ import annotations

import httpx

from connector.sandbox.faults import SimulatedTimeout


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
