"""The aiohttp engine under httpx, against real localhost sockets.

A uvicorn server runs in the test's own event loop for well-behaved answers; small raw asyncio
servers play the misbehaving peers (silent, hanging up, short body, idle-closing). The last tests
run the whole connector transport over each direct engine (the `engine_type` fixture of
conftest.py: the HTTP/1.1 engine and this one), and the served sandbox in a subprocess.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.clients.aiohttp_transport import AiohttpTransport
from connector.clients.direct_engine import DirectEngine
from connector.clients.http11_engine import Http11Engine
from connector.clients.transport import ApiTransport, RetryPolicy
from connector.clients.xseries import XSeriesClient
from connector.clients.xseries_models import ProductCreate
from connector.clock import FakeClock
from connector.config import Settings
from connector.errors import TransientApiError, UnknownWriteOutcome
from connector.runtime import Runtime

# --- a well-behaved server: uvicorn + Starlette in this loop ------------------------------------


class Hits:
    """What the server saw: calls per path, and the client socket (= connection) of each call."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.connections: list[tuple[str, int]] = []

    def count(self, request: Request) -> int:
        self.connections.append(tuple(request.scope["client"]))
        self.calls[request.url.path] = self.calls.get(request.url.path, 0) + 1
        return self.calls[request.url.path]


def build_app(hits: Hits) -> Starlette:
    async def echo(request: Request) -> Response:
        hits.count(request)
        body = await request.body()
        return JSONResponse({
            "method": request.method,
            "path": request.url.path,
            "raw_query": request.url.query,
            "query": [list(item) for item in request.query_params.multi_items()],
            "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
            "body": json.loads(body) if body else None,
        }, headers={"X-Request-Count": str(hits.calls[request.url.path])})

    async def empty(request: Request) -> Response:
        hits.count(request)
        return Response(status_code=204)

    async def gzipped(request: Request) -> Response:
        hits.count(request)
        payload = json.dumps({"orders": list(range(200))}).encode()
        return Response(gzip.compress(payload), headers={"Content-Encoding": "gzip"},
                        media_type="application/json")

    async def multi(request: Request) -> Response:
        hits.count(request)
        response = Response(b"{}", media_type="application/json")
        response.headers.append("X-Multi", "one")
        response.headers.append("X-Multi", "two")
        return response

    async def cookie(request: Request) -> Response:
        hits.count(request)
        response = JSONResponse({})
        response.set_cookie("session", "s1")
        return response

    async def flaky(request: Request) -> Response:
        # 503 twice, then an answer: a read that the connector must retry.
        if hits.count(request) <= 2:
            return JSONResponse({"error": "Service Unavailable"}, status_code=503)
        return JSONResponse({"ok": True})

    async def slow(request: Request) -> Response:
        hits.count(request)
        await asyncio.sleep(0.02)  # keeps requests in flight at once (the server's pace, not a test wait)
        return JSONResponse({"ok": True})

    async def lost_answer(request: Request) -> Response:
        hits.count(request)
        await request.body()
        raise _HangUp  # see hang_up_after_start below

    return Starlette(routes=[
        Route("/echo", echo, methods=["GET", "POST", "PUT"]),
        Route("/empty", empty, methods=["GET", "DELETE"]),
        Route("/gzip", gzipped),
        Route("/multi", multi),
        Route("/cookie", cookie),
        Route("/flaky", flaky),
        Route("/slow", slow),
        Route("/lost", lost_answer, methods=["POST"]),
    ])


class _HangUp(Exception):
    pass


def hang_up_after_start(app: Starlette):
    """Like the served sandbox: promise a body, never send it; uvicorn then drops the connection."""

    async def wrapper(scope, receive, send):
        try:
            await app(scope, receive, send)
        except _HangUp:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")]})
            raise

    return wrapper


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bound_socket() -> socket.socket:
    # IPPROTO_TCP spelled out: asyncio only disables Nagle on sockets that say so, and without it
    # every keep-alive answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def hits() -> Hits:
    return Hits()


@asynccontextmanager
async def served(app) -> AsyncIterator[str]:
    """An ASGI app on a localhost uvicorn in this loop; yields its base URL."""
    sock = bound_socket()
    # Listening before uvicorn starts: early connections wait in the backlog, so no start-up polling.
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


@pytest.fixture
async def server_url(hits: Hits) -> AsyncIterator[str]:
    async with served(hang_up_after_start(build_app(hits))) as url:
        yield url


@pytest.fixture
async def client(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server_url, transport=AiohttpTransport(), timeout=5.0) as c:
        yield c


# --- misbehaving peers: raw asyncio servers --------------------------------------------------------


class RawServer:
    def __init__(self) -> None:
        self.requests: list[bytes] = []  # request heads received, in order
        self.closed = asyncio.Event()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await reader.readexactly(length)
        self.requests.append(head)
        return head


async def start_raw(handler: Callable[[RawServer, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
                    ) -> tuple[asyncio.Server, RawServer, str]:
    state = RawServer()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(state, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            state.closed.set()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, state, f"http://127.0.0.1:{port}"


async def hang_up_after_request(state: RawServer, reader, writer) -> None:
    await state.read_request(reader)  # received in full, then the connection is closed unanswered


async def never_answer(state: RawServer, reader, writer) -> None:
    await state.read_request(reader)
    await asyncio.Event().wait()  # cancelled when the server closes


async def short_body(state: RawServer, reader, writer) -> None:
    await state.read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\": 1")
    await writer.drain()


def answer(body: bytes = b'{"ok":true}') -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


async def close_when_idle(state: RawServer, reader, writer) -> None:
    # One answer with keep-alive, then the server closes the idle connection (a keep-alive timeout).
    await state.read_request(reader)
    writer.write(answer())
    await writer.drain()


async def stop(server: asyncio.Server) -> None:
    server.close()
    if sys.version_info >= (3, 12):
        server.close_clients()
    await server.wait_closed()


# --- round trips -----------------------------------------------------------------------------------


async def test_get_and_post_json_round_trip(client: httpx.AsyncClient) -> None:
    got = await client.get("/echo")
    assert got.status_code == 200 and got.json()["method"] == "GET" and got.json()["body"] is None
    order = {"status_id": 11, "total_inc_tax": "12.5000", "note": "café ☕"}
    posted = await client.post("/echo", json=order)
    assert posted.status_code == 200
    assert posted.json()["method"] == "POST" and posted.json()["body"] == order
    assert posted.http_version == "HTTP/1.1" and posted.reason_phrase == "OK"


async def test_headers_and_query_arrive_intact(client: httpx.AsyncClient) -> None:
    params = [("min_date_modified", "2026-01-01T00:00:00+00:00"), ("sku", "NGH-ROOM A/B,C&D=é"),
              ("status_id", "1"), ("status_id", "11")]
    headers = [("Authorization", "Bearer xs-secret"), ("X-Auth-Token", "bc-secret"),
               ("X-Repeated", "a"), ("X-Repeated", "b")]
    response = await client.get("/echo", params=params, headers=headers)
    seen = response.json()
    assert [tuple(p) for p in seen["query"]] == params
    # The '+' of the UTC offset stays encoded: a bare '+' would read as a space.
    assert "%2B00%3A00" in seen["raw_query"]
    sent = [(k, v) for k, v in seen["headers"]]
    assert ("authorization", "Bearer xs-secret") in sent and ("x-auth-token", "bc-secret") in sent
    assert [v for k, v in sent if k == "x-repeated"] == ["a", "b"]
    # Exactly the headers httpx built, none added by aiohttp (no second User-Agent or Accept).
    request_headers = [(k.lower(), v) for k, v in response.request.headers.multi_items()]
    assert sorted(sent) == sorted(request_headers)


async def test_engine_adds_no_headers_of_its_own(client: httpx.AsyncClient) -> None:
    request = client.build_request("GET", "/echo")
    for name in ("user-agent", "accept", "accept-encoding"):
        del request.headers[name]
    seen = (await client.send(request)).json()
    assert {k for k, _ in seen["headers"]} == {"host", "connection"}


async def test_cookies_stay_with_httpx(server_url: str) -> None:
    # A host name, not an IP: aiohttp's own jar would ignore cookies from an IP address.
    url = server_url.replace("127.0.0.1", "localhost")
    async with httpx.AsyncClient(base_url=url, transport=AiohttpTransport()) as client:
        assert (await client.get("/cookie")).cookies["session"] == "s1"
        client.cookies.clear()  # httpx forgets it; the engine must not have kept a copy of its own
        seen = (await client.get("/echo")).json()
    assert "cookie" not in {k for k, _ in seen["headers"]}


async def test_response_keeps_repeated_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/multi")
    assert response.headers.get_list("x-multi") == ["one", "two"]


async def test_no_content(client: httpx.AsyncClient) -> None:
    response = await client.delete("/empty")
    assert response.status_code == 204 and response.content == b""


async def test_gzip_body_comes_out_decoded(client: httpx.AsyncClient) -> None:
    response = await client.get("/gzip")
    assert response.json() == {"orders": list(range(200))}
    # Decoded by httpx from the wire bytes, so the headers still describe the wire.
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(response.content)


async def test_redirects_are_not_followed() -> None:
    server, state, url = await start_raw(redirect_once)
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport()) as c:
            response = await c.post(f"{url}/orders", json={})
        assert response.status_code == 302 and response.headers["location"] == "/elsewhere"
        assert len(state.requests) == 1
    finally:
        await stop(server)


async def redirect_once(state: RawServer, reader, writer) -> None:
    await state.read_request(reader)
    writer.write(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()


# --- connections --------------------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection(client: httpx.AsyncClient, hits: Hits) -> None:
    for _ in range(20):
        assert (await client.get("/echo")).status_code == 200
    assert len(hits.connections) == 20 and len(set(hits.connections)) == 1


async def test_fifty_concurrent_requests_share_a_bounded_pool(server_url: str, hits: Hits) -> None:
    async with httpx.AsyncClient(base_url=server_url, transport=AiohttpTransport(max_connections=8)) as c:
        responses = await asyncio.gather(*(c.get("/slow") for _ in range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert hits.calls["/slow"] == 50
    assert 1 < len(set(hits.connections)) <= 8


async def test_aclose_closes_the_session(server_url: str) -> None:
    transport = AiohttpTransport()
    async with httpx.AsyncClient(base_url=server_url, transport=transport) as c:
        await c.get("/echo")
        session = transport._session
        assert session is not None and not session.closed
    assert session.closed and transport._session is None


async def test_idle_connection_closed_by_the_server_is_not_reused_for_a_write() -> None:
    server, state, url = await start_raw(close_when_idle)
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport()) as c:
            assert (await c.get(f"{url}/a")).status_code == 200
            await state.closed.wait()  # the server has closed the idle connection
            for _ in range(20):
                await asyncio.sleep(0)  # let the loop read the FIN (no time passes)
            # The engine sees the closed connection and opens a new one: the POST is answered,
            # not turned into an unknown outcome.
            assert (await c.post(f"{url}/b", json={"x": 1})).status_code == 200
        assert len(state.requests) == 2
    finally:
        await stop(server)


# --- failures and their httpx meaning -----------------------------------------------------------


async def test_connection_refused_is_a_connect_error() -> None:
    port = free_port()  # nothing listens there
    async with httpx.AsyncClient(transport=AiohttpTransport()) as c:
        with pytest.raises(httpx.ConnectError):
            await c.post(f"http://127.0.0.1:{port}/orders", json={})


async def test_unknown_host_is_a_connect_error() -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport()) as c:
        with pytest.raises(httpx.ConnectError):
            await c.get("http://no-such-host.invalid/orders")


async def test_no_answer_is_a_read_timeout() -> None:
    server, state, url = await start_raw(never_answer)
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=httpx.Timeout(5.0, read=0.2)) as c:
            with pytest.raises(httpx.ReadTimeout):
                await c.post(f"{url}/orders", json={"a": 1})
        assert len(state.requests) == 1
    finally:
        await stop(server)


async def test_waiting_for_a_pooled_connection_times_out_as_never_sent() -> None:
    server, state, url = await start_raw(never_answer)
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport(max_connections=1)) as c:
            hanging = asyncio.create_task(c.get(f"{url}/a", timeout=httpx.Timeout(5.0)))
            while not state.requests:
                await asyncio.sleep(0)
            with pytest.raises(httpx.ConnectTimeout):
                await c.post(f"{url}/b", json={}, timeout=httpx.Timeout(5.0, connect=0.1, pool=0.1))
            hanging.cancel()
        assert len(state.requests) == 1  # the POST never went out
    finally:
        await stop(server)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_hang_up_after_a_write_is_a_protocol_error_and_the_write_is_sent_once(method: str) -> None:
    server, state, url = await start_raw(hang_up_after_request)
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport()) as c:
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await c.request(method, f"{url}/orders/1", json={"status_id": 11})
        # aiohttp would re-send a PUT or DELETE on its own; the engine must not.
        assert len(state.requests) == 1
    finally:
        await stop(server)


async def test_hang_up_on_a_read_is_resent_once() -> None:
    server, state, url = await start_raw(hang_up_after_request)
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport()) as c:
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await c.get(f"{url}/orders")
        assert len(state.requests) == 2
    finally:
        await stop(server)


async def test_short_body_is_a_protocol_error() -> None:
    server, state, url = await start_raw(short_body)
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport()) as c:
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await c.get(f"{url}/orders/1")
    finally:
        await stop(server)


# --- the connector's transport over this engine ---------------------------------------------------


@pytest.fixture
def api_transport(engine_type: type[DirectEngine]) -> Callable[[str, FakeClock], ApiTransport]:
    def make(base_url: str, clock: FakeClock) -> ApiTransport:
        return ApiTransport(api="test", base_url=base_url, headers={"Authorization": "Bearer t"},
                            retry=RetryPolicy(seed=1), clock=clock, http_transport=engine_type())

    return make


async def test_api_transport_lost_answer_to_a_post_is_an_unknown_outcome(
        server_url: str, hits: Hits, api_transport: Callable[[str, FakeClock], ApiTransport]) -> None:
    async with api_transport(server_url, FakeClock()) as api:
        with pytest.raises(UnknownWriteOutcome):
            await api.request("POST", "/lost", json={"order": 1})
    assert hits.calls["/lost"] == 1


async def test_api_transport_retries_a_get_on_503(
        server_url: str, hits: Hits, api_transport: Callable[[str, FakeClock], ApiTransport]) -> None:
    async with api_transport(server_url, FakeClock()) as api:
        response = await api.request("GET", "/flaky")
        assert response.json() == {"ok": True}
        assert api.stats.retries == 2
    assert hits.calls["/flaky"] == 3


async def test_api_transport_retries_a_post_that_never_connected(
        api_transport: Callable[[str, FakeClock], ApiTransport]) -> None:
    port = free_port()
    clock = FakeClock()
    async with api_transport(f"http://127.0.0.1:{port}", clock) as api:
        with pytest.raises(TransientApiError) as caught:
            await api.request("POST", "/register_sales", json={})
    # Never sent, so retried to the limit, and not reported as an unknown outcome.
    assert not isinstance(caught.value, UnknownWriteOutcome)
    assert api.stats.requests["POST /register_sales"] == RetryPolicy().max_attempts


async def test_api_transport_read_timeout_on_a_post_is_an_unknown_outcome(engine_type: type[DirectEngine]) -> None:
    server, state, url = await start_raw(never_answer)
    try:
        api = ApiTransport(api="test", base_url=url, headers={}, retry=RetryPolicy(seed=1),
                           clock=FakeClock(), http_transport=engine_type(), timeout=0.2)
        async with api:
            with pytest.raises(UnknownWriteOutcome):
                await api.request("POST", "/register_sales", json={})
        assert len(state.requests) == 1
    finally:
        await stop(server)


# --- the served sandbox ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served_sandbox() -> str:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", "sandbox", "serve", "--port", str(port), "--orders", "0",
         "--fault-lost-response", "1.0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while True:  # wait until it listens (startup time, not a timed wait in the test)
            if proc.poll() is not None:
                raise AssertionError(f"sandbox exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("sandbox did not start")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_served_sandbox_lost_response_is_an_unknown_outcome(served_sandbox: str,
                                                                  engine_type: type[DirectEngine]) -> None:
    xs = XSeriesClient(domain_prefix="mystore", token="xs-test-token", api_url=served_sandbox,
                       http_transport=engine_type(), clock=FakeClock(), retry=RetryPolicy(seed=2))
    sku = f"WID-{engine_type.__name__}"  # the sandbox lives for the module: one SKU per engine
    async with xs:
        with pytest.raises(UnknownWriteOutcome):
            await xs.create_product(ProductCreate(name="Widget", sku=sku, price_excluding_tax=Decimal("9.50")))
        # The write was applied all the same: looking it up is how the connector recovers.
        assert [p.sku for p in await xs.find_products_by_sku(sku)] == [sku]


def sandbox_settings(url: str, tmp_path: Path) -> Settings:
    return Settings.model_validate({
        "bigcommerce": {"store_hash": "abc123", "access_token": "bc-test-token", "api_url": url},
        "xseries": {"domain_prefix": "mystore", "token": "xs-test-token", "api_url": url,
                    "outlet": "Main Outlet", "register": "Online Store"},
        "database_url": f"sqlite:///{tmp_path / 'engine.db'}",
    })


def engine_of(client) -> httpx.AsyncBaseTransport | DirectEngine:
    return client.transport.engine


@pytest.mark.parametrize("http_engine, expected", [(None, Http11Engine), ("http11", Http11Engine),
                                                   ("aiohttp", AiohttpTransport)])
async def test_runtime_runs_both_clients_on_a_direct_engine(served_sandbox: str, tmp_path: Path,
                                                            http_engine: str | None, expected: type) -> None:
    # The HTTP/1.1 engine by default; the aiohttp one on request (the fallback).
    options = {} if http_engine is None else {"http_engine": http_engine}
    runtime = await Runtime.start(sandbox_settings(served_sandbox, tmp_path), **options)
    try:
        assert isinstance(engine_of(runtime.bc), expected)
        assert isinstance(engine_of(runtime.xs), expected)
        assert engine_of(runtime.bc) is not engine_of(runtime.xs)  # a pool per API
        # ... used directly, without httpx in between (test_direct_path.py covers that path).
        assert runtime.bc.transport._client is None and runtime.xs.transport._client is None
        assert runtime.refs  # the X-Series references resolved over the engine
        with pytest.raises(UnknownWriteOutcome):
            await runtime.xs.create_product(ProductCreate(name="Gadget", sku=f"GAD-{http_engine}",
                                                          price_excluding_tax=Decimal("5")))
    finally:
        await runtime.aclose()
        runtime.store.close()


async def test_runtime_keeps_httpx_engine_on_request(served_sandbox: str, tmp_path: Path) -> None:
    runtime = await Runtime.start(sandbox_settings(served_sandbox, tmp_path), http_engine="httpx")
    try:
        assert isinstance(engine_of(runtime.xs), httpx.AsyncHTTPTransport)
    finally:
        await runtime.aclose()
        runtime.store.close()
    with pytest.raises(ValueError):
        await Runtime.start(sandbox_settings(served_sandbox, tmp_path), http_engine="curl")
