"""Client CPU per HTTP request: httpx's default engine (httpcore), the aiohttp engine under httpx,
and ApiTransport's direct path on the aiohttp engine (no httpx in between).

The historical import must stay under 1 ms of connector CPU per order (issue 6), and the HTTP
engine was most of it. This starts a small uvicorn server in a separate process on localhost (so
its CPU is not counted), then times the client process's CPU over N JSON POSTs sent one at a time
and with 16 in flight, through:
- a bare httpx.AsyncClient on each engine;
- the connector's ApiTransport (what the clients actually pay: pacing hooks, stats, error
  mapping) on httpx's engine, on the aiohttp engine under httpx (the path before the direct one,
  forced here by hiding the engine's type), and on the aiohttp engine directly (production);
- a bare aiohttp.ClientSession POST + json.loads: the floor the direct path is measured against.

    python benchmarks/http_engine_bench.py [--requests 3000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from connector.clients.aiohttp_transport import AiohttpTransport
from connector.clients.transport import ApiTransport

ORDER = {"register_id": "0a1b2c3d", "status": "CLOSED", "note": "bench",
         "register_sale_products": [{"product_id": "p1", "quantity": 1, "price": 12.5, "tax": 1.875}]}


def serve(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def sale(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"data": {"id": "6f1e", "status": body.get("status"), "version": 1}})

    app = Starlette(routes=[Route("/api/register_sales", sale, methods=["GET", "POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("benchmark server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("benchmark server did not start")


async def cpu_per_request(send: Callable[[], Awaitable[None]], requests: int, concurrency: int) -> float:
    """Client-process CPU milliseconds per request (after a warm-up that fills the pool)."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await send()

    await asyncio.gather(*(one() for _ in range(max(100, concurrency * 4))))
    start = time.process_time()
    await asyncio.gather(*(one() for _ in range(requests)))
    return (time.process_time() - start) / requests * 1000


class UnderHttpx(httpx.AsyncBaseTransport):
    """The aiohttp engine as a plain httpx transport: ApiTransport does not recognise it, so its
    requests go through httpx.AsyncClient as they all did before the direct path."""

    def __init__(self) -> None:
        self._engine = AiohttpTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._engine.handle_async_request(request)

    async def aclose(self) -> None:
        await self._engine.aclose()


def engine(name: str) -> httpx.AsyncBaseTransport | None:
    if name == "aiohttp":
        return AiohttpTransport()
    if name == "aiohttp via httpx":
        return UnderHttpx()
    return None


async def bench(base_url: str, requests: int, concurrency: int) -> list[tuple[str, str, int, float]]:
    rows = []
    modes = (("sequential", 1), (f"{concurrency} concurrent", concurrency))
    for mode, parallel in modes:
        for name in ("httpx", "aiohttp"):
            async with httpx.AsyncClient(base_url=base_url, transport=engine(name)) as client:
                async def bare() -> None:
                    response = await client.post("/api/register_sales", json=ORDER)
                    response.raise_for_status()
                    response.json()

                rows.append((f"httpx.AsyncClient on {name}", mode, parallel,
                             await cpu_per_request(bare, requests, parallel)))
        for name in ("httpx", "aiohttp via httpx", "aiohttp"):
            async with ApiTransport(api="bench", base_url=base_url, headers={"Authorization": "Bearer t"},
                                    http_transport=engine(name)) as api:
                async def through_connector() -> None:
                    (await api.request("POST", "/api/register_sales", json=ORDER,
                                       safe_to_repeat=False)).json()

                label = "ApiTransport direct on aiohttp" if name == "aiohttp" else f"ApiTransport on {name}"
                rows.append((label, mode, parallel, await cpu_per_request(through_connector, requests, parallel)))
        async with aiohttp.ClientSession() as session:
            async def bare_aiohttp() -> None:
                async with session.post(f"{base_url}/api/register_sales", data=json.dumps(ORDER).encode(),
                                        headers={"Content-Type": "application/json"}) as response:
                    response.raise_for_status()
                    json.loads(await response.read())

            rows.append(("aiohttp.ClientSession (floor)", mode, parallel,
                         await cpu_per_request(bare_aiohttp, requests, parallel)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="client CPU per request for each HTTP engine")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    server = start_server(port)
    try:
        rows = asyncio.run(bench(f"http://127.0.0.1:{port}", args.requests, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"client CPU per request, {args.requests} JSON POSTs to a localhost uvicorn server")
    print(f"{'client':34} {'mode':16} {'CPU ms/request':>14}")
    for client, mode, _, ms in rows:
        print(f"{client:34} {mode:16} {ms:14.3f}")
    by = {(c, m): ms for c, m, _, ms in rows}
    for mode in ("sequential", f"{args.concurrency} concurrent"):
        default = by[("ApiTransport on httpx", mode)]
        under = by[("ApiTransport on aiohttp via httpx", mode)]
        direct = by[("ApiTransport direct on aiohttp", mode)]
        print(f"ApiTransport {mode}: direct path {direct:.3f} ms = {direct / under:.0%} of aiohttp under"
              f" httpx, {direct / default:.0%} of httpx's default engine")


if __name__ == "__main__":
    main()
