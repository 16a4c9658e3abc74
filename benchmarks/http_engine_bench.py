"""Client CPU per HTTP request: httpx's default engine (httpcore), the aiohttp engine under httpx,
and ApiTransport's direct path on the HTTP/1.1 engine and on the aiohttp one (no httpx in between).

The historical import must stay under 1 ms of connector CPU per order (issue 6), and the HTTP
engine was most of it. This starts a small uvicorn server in a separate process on localhost (so
its CPU is not counted), then times the client process's CPU over N JSON POSTs sent one at a time
and with 16 in flight, through:
- a bare httpx.AsyncClient on each engine;
- the connector's ApiTransport (what the clients actually pay: pacing hooks, stats, error
  mapping) on httpx's engine, on the aiohttp engine under httpx (the path before the direct one,
  forced here by hiding the engine's type), on the aiohttp engine directly (the fallback), and on
  the HTTP/1.1 engine directly (production, connector/clients/http11_engine.py);
- a bare aiohttp.ClientSession POST + json.loads: the floor of the aiohttp direct path;
- a bare Http11Engine.send + json: the HTTP/1.1 engine without ApiTransport around it.
Every row runs under uvloop (what the import runs on) and under the standard library's loop.

    python benchmarks/http_engine_bench.py [--requests 3000] [--concurrency 16] [--loop uvloop|asyncio|both]
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
from connector.clients.http11_engine import Http11Engine
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


def engine(name: str) -> httpx.AsyncBaseTransport | Http11Engine | None:
    if name == "http11":
        return Http11Engine()
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
        for name in ("httpx", "aiohttp via httpx", "aiohttp", "http11"):
            async with ApiTransport(api="bench", base_url=base_url, headers={"Authorization": "Bearer t"},
                                    http_transport=engine(name)) as api:
                async def through_connector() -> None:
                    (await api.request("POST", "/api/register_sales", json=ORDER,
                                       safe_to_repeat=False)).json()

                label = (f"ApiTransport direct on {name}" if name in ("aiohttp", "http11")
                         else f"ApiTransport on {name}")
                rows.append((label, mode, parallel, await cpu_per_request(through_connector, requests, parallel)))
        async with aiohttp.ClientSession() as session:
            async def bare_aiohttp() -> None:
                async with session.post(f"{base_url}/api/register_sales", data=json.dumps(ORDER).encode(),
                                        headers={"Content-Type": "application/json"}) as response:
                    response.raise_for_status()
                    json.loads(await response.read())

            rows.append(("aiohttp.ClientSession (floor)", mode, parallel,
                         await cpu_per_request(bare_aiohttp, requests, parallel)))
        http11 = Http11Engine()
        headers = {"Content-Type": "application/json", "Accept": "*/*"}
        try:
            async def bare_http11() -> None:
                response = await http11.send("POST", f"{base_url}/api/register_sales",
                                             json.dumps(ORDER).encode(), headers, 30.0)
                assert response.is_success
                response.json()

            rows.append(("Http11Engine.send (bare)", mode, parallel,
                         await cpu_per_request(bare_http11, requests, parallel)))
        finally:
            await http11.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="client CPU per request for each HTTP engine")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--loop", choices=("uvloop", "asyncio", "both"), default="both")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    loops = ("uvloop", "asyncio") if args.loop == "both" else (args.loop,)
    port = free_port()
    server = start_server(port)
    results = {}
    try:
        for loop in loops:
            results[loop] = run(loop, bench(f"http://127.0.0.1:{port}", args.requests, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"client CPU per request, {args.requests} JSON POSTs to a localhost uvicorn server")
    print(f"{'loop':8} {'client':34} {'mode':16} {'CPU ms/request':>14}")
    for loop, rows in results.items():
        for client, mode, _, ms in rows:
            print(f"{loop:8} {client:34} {mode:16} {ms:14.3f}")
    for loop, rows in results.items():
        by = {(c, m): ms for c, m, _, ms in rows}
        for mode in ("sequential", f"{args.concurrency} concurrent"):
            default = by[("ApiTransport on httpx", mode)]
            under = by[("ApiTransport on aiohttp via httpx", mode)]
            direct = by[("ApiTransport direct on aiohttp", mode)]
            http11 = by[("ApiTransport direct on http11", mode)]
            print(f"{loop} ApiTransport {mode}: http11 {http11:.3f} ms = {http11 / direct:.0%} of aiohttp"
                  f" direct ({direct:.3f} ms), which is {direct / under:.0%} of aiohttp under httpx and"
                  f" {direct / default:.0%} of httpx's default engine")


def run(loop: str, main: Awaitable[list]) -> list:
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)  # type: ignore[arg-type]
    return asyncio.run(main)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
