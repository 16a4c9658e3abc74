"""The direct engines' send(), on real localhost sockets, and what is new in the HTTP/1.1 engine.

Tests taking `engine_type` run on both direct engines (conftest.py), so the aiohttp engine is
the reference for what the HTTP/1.1 engine must do; the others test the HTTP/1.1 engine's own
parsing, pooling and failure paths. All of them run on uvloop and on the standard loop (the
pytest_asyncio_loop_factories hook in conftest.py). The peers are small raw asyncio servers
(test_aiohttp_transport.py's, plus a few here), so each misbehaviour is exact and immediate.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from multidict import CIMultiDict
from test_aiohttp_transport import (
    RawServer,
    answer,
    close_when_idle,
    free_port,
    hang_up_after_request,
    never_answer,
    short_body,
    start_raw,
    stop,
)

from connector.clients.aiohttp_transport import AiohttpTransport
from connector.clients.direct_engine import DirectEngine
from connector.clients.direct_response import DirectResponse
from connector.clients.http11_connection import MAX_HEAD_BYTES, MAX_HEADERS
from connector.clients.http11_engine import Http11Engine

HEADERS = CIMultiDict({"Accept": "application/json", "Accept-Encoding": "gzip, deflate",
                       "Connection": "keep-alive", "User-Agent": "order-sync/test"})
JSON_HEADERS = CIMultiDict({**HEADERS, "Content-Type": "application/json"})

Handler = Callable[[RawServer, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw(handler: Handler) -> AsyncIterator[tuple[RawServer, str]]:
    server, state, url = await start_raw(handler)
    try:
        yield state, url
    finally:
        await stop(server)


@asynccontextmanager
async def engine_of(engine_type: type[DirectEngine], **options) -> AsyncIterator[DirectEngine]:
    engine = engine_type(**options)
    try:
        yield engine
    finally:
        await engine.aclose()


async def get(engine: DirectEngine, url: str, timeout: float = 5.0) -> DirectResponse:
    return await engine.send("GET", url, None, HEADERS, timeout)


async def post(engine: DirectEngine, url: str, body: bytes = b'{"a":1}', timeout: float = 5.0) -> DirectResponse:
    return await engine.send("POST", url, body, JSON_HEADERS, timeout)


def peers(state: RawServer) -> int:
    """How many connections the raw server has accepted (see counting())."""
    return getattr(state, "connections", 0)


def counting(handler: Handler) -> Handler:
    async def wrapper(state: RawServer, reader, writer) -> None:
        state.connections = getattr(state, "connections", 0) + 1  # type: ignore[attr-defined]
        await handler(state, reader, writer)

    return wrapper


def serve_forever(*responses: bytes) -> Handler:
    """Keep-alive: answer every request on the connection with the next of `responses` (the last
    one repeated)."""

    async def handler(state: RawServer, reader, writer) -> None:
        while True:
            await state.read_request(reader)
            writer.write(responses[min(len(state.requests), len(responses)) - 1])
            await writer.drain()

    return counting(handler)


def once(response: bytes, *, then_close: bool = True) -> Handler:
    async def handler(state: RawServer, reader, writer) -> None:
        await state.read_request(reader)
        writer.write(response)
        await writer.drain()
        if not then_close:
            await asyncio.Event().wait()

    return counting(handler)


# --- the request on the wire ---------------------------------------------------------------------


@pytest.mark.parametrize("method, body, framing", [
    ("GET", None, None), ("POST", b'{"a":1}', b"7"), ("POST", None, b"0"), ("PUT", b"", b"0"),
    ("PATCH", None, b"0"), ("DELETE", None, None), ("HEAD", None, None),
])
async def test_request_carries_the_callers_headers_host_and_framing(method: str, body, framing) -> None:
    async with raw(serve_forever(answer())) as (state, url), engine_of(Http11Engine) as engine:
        await engine.send(method, f"{url}/v2/orders?min_date=2026-01-01T00%3A00%3A00%2B00%3A00", body,
                          JSON_HEADERS, 5.0)
    lines = state.requests[0].split(b"\r\n")
    assert lines[0] == f"{method} /v2/orders?min_date=2026-01-01T00%3A00%3A00%2B00%3A00 HTTP/1.1".encode()
    port = url.rsplit(":", 1)[1]
    sent = [tuple(line.split(b": ", 1)) for line in lines[1:] if line]
    expected = [(b"Host", f"127.0.0.1:{port}".encode())]
    expected += [(k.encode(), v.encode()) for k, v in JSON_HEADERS.items()]
    if framing is not None:
        expected.append((b"Content-Length", framing))
    assert sent == expected


def test_host_header_leaves_out_the_default_port() -> None:
    engine = Http11Engine()
    assert engine._route("GET", "https://API.example.com/x")[0].host_header == "api.example.com"
    assert engine._route("GET", "https://api.example.com:443/x")[0].host_header == "api.example.com"
    assert engine._route("GET", "http://api.example.com:8080/x")[0].host_header == "api.example.com:8080"
    assert engine._route("GET", "http://[::1]:8080/x")[0].host_header == "[::1]:8080"
    origin, target = engine._route("GET", "http://h.example/a/b?c=1#frag")
    assert (origin.port, target) == (80, "/a/b?c=1")
    assert engine._route("GET", "http://h.example/a/b?c=1#frag")[1] == "/a/b?c=1"  # the fast path too
    assert engine._route("GET", "http://h.example?q=1")[1] == "/?q=1"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http:///x", "http://user:pw@h.example/x",
                                 "http://h.example:99999/x", "http://h.example/a b", "mailto:x@y"])
async def test_bad_url_is_unsupported_protocol(url: str) -> None:
    async with engine_of(Http11Engine) as engine:
        with pytest.raises(httpx.UnsupportedProtocol):
            await get(engine, url)


async def test_a_header_that_would_smuggle_another_is_refused() -> None:
    async with engine_of(Http11Engine) as engine:
        with pytest.raises(ValueError):
            await engine.send("GET", "http://127.0.0.1:1/", None, {"X-Bad": "a\r\nX-Evil: 1"}, 1.0)


async def test_header_block_follows_changes_to_the_callers_headers() -> None:
    headers = CIMultiDict(HEADERS)
    async with raw(serve_forever(answer())) as (state, url), engine_of(Http11Engine) as engine:
        await engine.send("GET", f"{url}/a", None, headers, 5.0)
        headers["Authorization"] = "Bearer new"  # same object, mutated: the cached text must follow
        await engine.send("GET", f"{url}/a", None, headers, 5.0)
    assert b"Authorization" not in state.requests[0] and b"Authorization: Bearer new" in state.requests[1]


# --- response framing --------------------------------------------------------------------------------


CHUNKED = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"4;ext=1\r\n{\"id\r\n"
           b"9\r\n\": 12345}\r\n"
           b"0\r\nX-Trailer: t\r\n\r\n")


async def test_chunked_body_with_trailers_and_the_connection_is_reused(engine_type) -> None:
    async with raw(serve_forever(CHUNKED)) as (state, url), engine_of(engine_type) as engine:
        for _ in range(3):
            response = await get(engine, f"{url}/chunked")
            assert response.status_code == 200 and response.json() == {"id": 12345}
    assert peers(state) == 1


async def test_chunked_body_split_at_every_byte() -> None:
    async def dribble(state: RawServer, reader, writer) -> None:
        await state.read_request(reader)
        for i in range(len(CHUNKED)):
            writer.write(CHUNKED[i:i + 1])
            await writer.drain()
            await asyncio.sleep(0)
        await asyncio.Event().wait()

    async with raw(counting(dribble)) as (state, url), engine_of(Http11Engine) as engine:
        assert (await get(engine, f"{url}/x")).json() == {"id": 12345}


async def test_large_content_length_body_in_many_segments(engine_type) -> None:
    body = b"[" + b",".join(b"%d" % i for i in range(200_000)) + b"]"
    async with raw(serve_forever(answer(body))) as (state, url), engine_of(engine_type) as engine:
        response = await get(engine, f"{url}/big")
    assert response.content == body


async def test_body_read_until_the_server_closes(engine_type) -> None:
    response_bytes = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
    async with raw(once(response_bytes)) as (state, url), engine_of(engine_type) as engine:
        assert (await get(engine, f"{url}/a")).content == b"until the end"
        assert (await get(engine, f"{url}/b")).content == b"until the end"  # a new connection
    assert peers(state) == 2


@pytest.mark.parametrize("status", [204, 304])
async def test_no_body_for_204_and_304_even_with_a_length(status: int) -> None:
    # A length on a 204/304 describes nothing to read; the connection goes on with the next answer.
    head = b"HTTP/1.1 %d Nothing\r\nContent-Length: 12\r\n\r\n" % status
    async with raw(serve_forever(head, answer())) as (state, url), engine_of(Http11Engine) as engine:
        first = await get(engine, f"{url}/a")
        assert (first.status_code, first.content) == (status, b"")
        assert (await get(engine, f"{url}/b")).json() == {"ok": True}
    assert peers(state) == 1


async def test_head_has_no_body_and_the_connection_is_reused(engine_type) -> None:
    async with raw(serve_forever(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", answer())) as (state, url), \
            engine_of(engine_type) as engine:
        head = await engine.send("HEAD", f"{url}/a", None, HEADERS, 5.0)
        assert head.content == b"" and head.headers["Content-Length"] == "11"
        assert (await get(engine, f"{url}/b")).json() == {"ok": True}
    assert peers(state) == 1


async def test_interim_responses_are_skipped(engine_type) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    async with raw(serve_forever(interim + answer())) as (state, url), engine_of(engine_type) as engine:
        response = await post(engine, f"{url}/a")
    assert response.status_code == 200 and response.json() == {"ok": True}


async def test_headers_are_a_case_insensitive_multidict(engine_type) -> None:
    response_bytes = (b"HTTP/1.1 201 Created\r\nX-Multi: one\r\nx-multi:two\r\nX-Rate-Limit-Left:  9 \r\n"
                      b"Content-Length: 2\r\n\r\n{}")
    async with raw(serve_forever(response_bytes)) as (state, url), engine_of(engine_type) as engine:
        response = await post(engine, f"{url}/a")
    assert response.status_code == 201
    assert response.headers.getall("X-MULTI") == ["one", "two"]
    assert response.headers["x-rate-limit-left"] == "9" and "X-Rate-Limit-Left" in response.headers
    assert response.headers.get("missing") is None


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
async def test_gzip_and_deflate_bodies_come_out_decoded(engine_type, coding: str) -> None:
    payload = b'{"orders": [' + b",".join(b"%d" % i for i in range(500)) + b"]}"
    if coding == "gzip":
        encoded = gzip.compress(payload)
    elif coding == "deflate":
        encoded = zlib.compress(payload)
    else:  # what some servers send as "deflate": no zlib wrapper
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        encoded = compressor.compress(payload) + compressor.flush()
    header = "deflate" if coding == "raw-deflate" else coding
    response_bytes = (b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
                      % (header.encode(), len(encoded))) + encoded
    async with raw(serve_forever(response_bytes)) as (state, url), engine_of(engine_type) as engine:
        response = await get(engine, f"{url}/a")
    assert response.content == payload
    assert response.headers["Content-Encoding"] == header  # the wire's headers, as aiohttp keeps them


async def test_undecodable_gzip_is_a_protocol_error() -> None:
    response_bytes = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nnot-z"
    async with raw(serve_forever(response_bytes)) as (state, url), engine_of(Http11Engine) as engine:
        with pytest.raises(httpx.RemoteProtocolError):
            await get(engine, f"{url}/a")


# --- malformed answers: RemoteProtocolError, and the connection is dropped ---------------------------


@pytest.mark.parametrize("response_bytes", [
    b"HTTP/1.1 OK\r\n\r\n",
    b"HTTP/2 200 OK\r\n\r\n",
    b"ICY 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
], ids=["no-status", "http2", "not-http", "status-2000", "no-colon", "folding", "bad-length",
        "two-lengths", "other-coding", "bad-chunk-size", "chunk-without-crlf"])
async def test_malformed_response_is_a_protocol_error(response_bytes: bytes) -> None:
    async with raw(once(response_bytes, then_close=False)) as (state, url), engine_of(Http11Engine) as engine:
        with pytest.raises(httpx.RemoteProtocolError):
            await post(engine, f"{url}/a")
        assert len(state.requests) == 1  # a write is never sent again


async def test_too_many_headers_is_a_protocol_error() -> None:
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n"
    async with raw(once(head, then_close=False)) as (state, url), engine_of(Http11Engine) as engine:
        with pytest.raises(httpx.RemoteProtocolError, match="too many"):
            await get(engine, f"{url}/a")


async def test_an_endless_head_is_cut_off_at_the_limit() -> None:
    async def endless(state: RawServer, reader, writer) -> None:
        await state.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Long: ")
        for _ in range(MAX_HEAD_BYTES // 4096 + 2):  # never a blank line: the head never ends
            writer.write(b"x" * 4096)
            await writer.drain()
        await asyncio.Event().wait()

    async with raw(counting(endless)) as (state, url), engine_of(Http11Engine) as engine:
        with pytest.raises(httpx.RemoteProtocolError, match="too large"):
            await get(engine, f"{url}/a")


async def test_bytes_after_the_response_mean_the_connection_is_not_reused() -> None:
    async with raw(serve_forever(answer() + b"garbage")) as (state, url), engine_of(Http11Engine) as engine:
        assert (await get(engine, f"{url}/a")).json() == {"ok": True}
        assert (await get(engine, f"{url}/b")).json() == {"ok": True}
    assert peers(state) == 2


# --- connections ---------------------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection(engine_type) -> None:
    async with raw(serve_forever(answer())) as (state, url), engine_of(engine_type) as engine:
        for _ in range(20):
            assert (await post(engine, f"{url}/a")).json() == {"ok": True}
    assert len(state.requests) == 20 and peers(state) == 1


@pytest.mark.parametrize("response_bytes", [
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
], ids=["connection-close", "http-1.0"])
async def test_a_connection_the_server_will_close_is_not_reused(engine_type, response_bytes: bytes) -> None:
    async with raw(serve_forever(response_bytes)) as (state, url), engine_of(engine_type) as engine:
        for _ in range(3):
            assert (await post(engine, f"{url}/a")).content == b"{}"
    assert peers(state) == 3 and len(state.requests) == 3


async def test_http_1_0_keep_alive_is_reused() -> None:
    response_bytes = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}"
    async with raw(serve_forever(response_bytes)) as (state, url), engine_of(Http11Engine) as engine:
        for _ in range(3):
            await post(engine, f"{url}/a")
    assert peers(state) == 1


async def test_pool_limit_bounds_connections_and_requests_in_flight(engine_type) -> None:
    in_flight = 0
    most = 0

    async def slow(state: RawServer, reader, writer) -> None:
        nonlocal in_flight, most
        state.connections = getattr(state, "connections", 0) + 1  # type: ignore[attr-defined]
        while True:
            await state.read_request(reader)
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.005)
            in_flight -= 1
            writer.write(answer())
            await writer.drain()

    async with raw(slow) as (state, url), engine_of(engine_type, max_connections=4) as engine:
        responses = await asyncio.gather(*(get(engine, f"{url}/{i}") for i in range(40)))
    assert all(r.status_code == 200 for r in responses) and len(state.requests) == 40
    assert most == 4 and peers(state) == 4


async def test_waiting_for_a_slot_times_out_as_never_sent(engine_type) -> None:
    async with raw(never_answer) as (state, url), engine_of(engine_type, max_connections=1) as engine:
        hanging = asyncio.create_task(get(engine, f"{url}/a"))
        while not state.requests:
            await asyncio.sleep(0)
        with pytest.raises(httpx.ConnectTimeout):
            await post(engine, f"{url}/b", timeout=0.1)
        hanging.cancel()
        assert len(state.requests) == 1  # the POST never went out


async def wait_for_eof(state: RawServer, reader, writer) -> None:
    await state.read_request(reader)
    await reader.read()  # until the client closes


async def test_a_cancelled_request_gives_its_slot_back_and_its_connection_is_dropped() -> None:
    async with raw(counting(wait_for_eof)) as (state, url), engine_of(Http11Engine, max_connections=1) as engine:
        hanging = asyncio.create_task(get(engine, f"{url}/a"))
        while not state.requests:
            await asyncio.sleep(0)
        waiting = asyncio.create_task(get(engine, f"{url}/b"))
        await asyncio.sleep(0)
        waiting.cancel()  # cancelled while waiting for the slot
        hanging.cancel()  # cancelled mid-exchange
        for task in (hanging, waiting):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert engine._slots.in_use == 0 and not engine._slots._waiters
        await state.closed.wait()  # the half-done connection was closed, not pooled
        assert not any(origin.idle for origin in engine._origins.values())


async def test_idle_connections_expire_and_are_closed_by_us() -> None:
    async with raw(serve_forever(answer())) as (state, url), \
            engine_of(Http11Engine, keepalive_seconds=0.05) as engine:
        await get(engine, f"{url}/a")
        # Closed by the engine's own timer, with no request to notice it.
        await asyncio.wait_for(state.closed.wait(), 2.0)
        assert not any(origin.idle or origin.open for origin in engine._origins.values())
        await get(engine, f"{url}/b")
    assert peers(state) == 2


async def test_an_expired_idle_connection_is_not_handed_out_even_if_its_timer_is_late() -> None:
    async with raw(serve_forever(answer())) as (state, url), engine_of(Http11Engine) as engine:
        await get(engine, f"{url}/a")
        (origin,) = {id(o): o for o in engine._origins.values()}.values()
        origin.idle[-1].idle_since -= 10  # idle for longer than keep-alive allows
        await get(engine, f"{url}/b")
    assert peers(state) == 2


async def test_idle_connection_closed_by_the_server_is_not_reused_for_a_write(engine_type) -> None:
    async with raw(close_when_idle) as (state, url), engine_of(engine_type) as engine:
        assert (await get(engine, f"{url}/a")).status_code == 200
        await state.closed.wait()
        for _ in range(20):
            await asyncio.sleep(0)  # let the loop read the FIN (no time passes)
        assert (await post(engine, f"{url}/b")).status_code == 200
    assert len(state.requests) == 2


def stale_after_first() -> Handler:
    """Answers the first request with keep-alive, then hangs up on the next one unanswered on that
    connection (the server's idle close racing our write); a new connection is answered."""

    async def handler(state: RawServer, reader, writer) -> None:
        first_on_this_connection = True
        while True:
            await state.read_request(reader)
            if not first_on_this_connection:
                return  # closes without a byte of response
            first_on_this_connection = False
            writer.write(answer())
            await writer.drain()

    return counting(handler)


async def test_stale_keep_alive_resends_a_get_at_once(engine_type) -> None:
    async with raw(stale_after_first()) as (state, url), engine_of(engine_type) as engine:
        await get(engine, f"{url}/a")
        assert (await get(engine, f"{url}/b")).json() == {"ok": True}
    assert len(state.requests) == 3 and peers(state) == 2


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_stale_keep_alive_never_resends_a_write(engine_type, method: str) -> None:
    async with raw(stale_after_first()) as (state, url), engine_of(engine_type) as engine:
        await get(engine, f"{url}/a")
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await engine.send(method, f"{url}/b", b"{}", JSON_HEADERS, 5.0)
    assert len(state.requests) == 2  # maybe applied: ApiTransport looks it up before writing again


async def test_a_get_whose_answer_had_started_is_not_resent() -> None:
    async with raw(short_body) as (state, url), engine_of(Http11Engine) as engine:
        with pytest.raises(httpx.RemoteProtocolError):
            await get(engine, f"{url}/a")
    assert len(state.requests) == 1


async def test_server_closing_mid_chunked_body_is_a_protocol_error_and_not_resent() -> None:
    cut = CHUNKED[:CHUNKED.index(b"9\r\n") + 5]
    async with raw(once(cut)) as (state, url), engine_of(Http11Engine) as engine:
        with pytest.raises(httpx.RemoteProtocolError):
            await post(engine, f"{url}/a")
    assert len(state.requests) == 1


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_hang_up_after_a_write_is_maybe_sent_and_sent_once(engine_type, method: str) -> None:
    async with raw(hang_up_after_request) as (state, url), engine_of(engine_type) as engine:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await engine.send(method, f"{url}/orders/1", b'{"status_id":11}', JSON_HEADERS, 5.0)
    assert len(state.requests) == 1


async def test_hang_up_on_a_read_is_resent_once(engine_type) -> None:
    async with raw(hang_up_after_request) as (state, url), engine_of(engine_type) as engine:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await get(engine, f"{url}/orders")
    assert len(state.requests) == 2


async def test_aclose_closes_every_connection() -> None:
    async with raw(serve_forever(answer())) as (state, url):
        engine = Http11Engine()
        await asyncio.gather(*(get(engine, f"{url}/{i}") for i in range(3)))
        conns = [c for origin in engine._origins.values() for c in origin.open]
        assert conns
        await engine.aclose()
        assert all(conn.closed for conn in conns) and not engine._origins
        assert (await get(engine, f"{url}/again")).status_code == 200  # usable again after
        await engine.aclose()


# --- failures and their httpx meaning ------------------------------------------------------------


async def test_connection_refused_is_a_connect_error(engine_type) -> None:
    async with engine_of(engine_type) as engine:
        with pytest.raises(httpx.ConnectError):
            await post(engine, f"http://127.0.0.1:{free_port()}/orders")


async def test_unknown_host_is_a_connect_error(engine_type) -> None:
    async with engine_of(engine_type) as engine:
        with pytest.raises(httpx.ConnectError):
            await get(engine, "http://no-such-host.invalid/orders")


async def test_no_answer_is_a_read_timeout(engine_type) -> None:
    async with raw(never_answer) as (state, url), engine_of(engine_type) as engine:
        with pytest.raises(httpx.ReadTimeout):
            await post(engine, f"{url}/orders", timeout=0.1)
    assert len(state.requests) == 1


async def test_an_answer_that_stalls_mid_body_is_a_read_timeout(engine_type) -> None:
    async with raw(once(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{", then_close=False)) as (state, url), \
            engine_of(engine_type) as engine:
        with pytest.raises(httpx.ReadTimeout):
            await get(engine, f"{url}/a", timeout=0.1)
    assert len(state.requests) == 1  # an answer had begun: not the stale keep-alive race


async def test_the_read_timeout_counts_from_the_last_byte_received() -> None:
    # 6 pieces 40 ms apart, timeout 100 ms: the whole answer takes longer than the timeout, but no
    # gap does (httpx's per-read timeout).
    response_bytes = answer(b'{"ok":"' + b"x" * 40 + b'"}')

    async def trickle(state: RawServer, reader, writer) -> None:
        await state.read_request(reader)
        step = len(response_bytes) // 6 + 1
        for i in range(0, len(response_bytes), step):
            writer.write(response_bytes[i:i + step])
            await writer.drain()
            await asyncio.sleep(0.04)
        await asyncio.Event().wait()

    async with raw(counting(trickle)) as (state, url), engine_of(Http11Engine) as engine:
        response = await get(engine, f"{url}/a", timeout=0.1)
    assert response.json()["ok"] == "x" * 40


async def test_a_shorter_timeout_after_a_longer_one_still_applies() -> None:
    # The connection's one timer was armed for 30 s by the first request; the second's 0.1 s must win.
    async with raw(serve_forever(answer(), b"")) as (state, url), engine_of(Http11Engine) as engine:
        await get(engine, f"{url}/a", timeout=30.0)
        with pytest.raises(httpx.ReadTimeout):
            await get(engine, f"{url}/b", timeout=0.1)


async def test_a_tls_handshake_that_never_completes_is_a_connect_timeout(engine_type) -> None:
    async with raw(counting(never_answer)) as (state, url), engine_of(engine_type) as engine:
        with pytest.raises(httpx.ConnectTimeout):
            await post(engine, url.replace("http://", "https://") + "/a", timeout=0.1)
    assert not state.requests


# --- TLS ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1, made by the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True, timeout=60, env={**os.environ, "OPENSSL_CONF": "/dev/null"},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"no openssl command to make a test certificate ({exc})")
    return cert, key


@asynccontextmanager
async def tls_server(certificate: tuple[Path, Path], response_bytes: bytes
                     ) -> AsyncIterator[tuple[RawServer, int, list[str | None]]]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    state = RawServer()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await state.read_request(reader)
                writer.write(response_bytes)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=context)
    try:
        yield state, server.sockets[0].getsockname()[1], names
    finally:
        await stop(server)


async def test_https_with_sni_and_verification(certificate, engine_type) -> None:
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    async with tls_server(certificate, answer()) as (state, port, names), \
            engine_of(engine_type, verify=trusted) as engine:
        for _ in range(3):
            assert (await post(engine, f"https://localhost:{port}/a")).json() == {"ok": True}
    assert names[0] == "localhost"
    assert len(state.requests) == 3 and len(names) == 1  # one handshake, then keep-alive
    assert f"Host: localhost:{port}".encode() in state.requests[0]


async def test_https_refuses_an_untrusted_certificate(certificate, engine_type) -> None:
    async with tls_server(certificate, answer()) as (state, port, names), engine_of(engine_type) as engine:
        # httpx's default trust store does not know the self-signed certificate: never sent.
        with pytest.raises(httpx.ConnectError):
            await post(engine, f"https://localhost:{port}/a")
    assert not state.requests


# --- proxies ---------------------------------------------------------------------------------------


async def test_a_proxied_host_is_left_to_the_aiohttp_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    async with raw(serve_forever(answer())) as (proxy, proxy_url), \
            raw(serve_forever(answer(b'{"direct":true}'))) as (origin, origin_url):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "localhost")
        async with engine_of(Http11Engine) as engine:
            # Through the proxy: the request line names the whole URL (a forward proxy's form).
            proxied_url = origin_url.replace("127.0.0.1", "api.example")
            assert (await get(engine, f"{proxied_url}/v2/orders")).json() == {"ok": True}
            assert isinstance(engine._proxied, AiohttpTransport)
            assert proxy.requests[0].startswith(f"GET {proxied_url}/v2/orders HTTP/1.1".encode())
            # NO_PROXY: straight to the server, on this engine.
            direct_url = origin_url.replace("127.0.0.1", "localhost")
            assert (await get(engine, f"{direct_url}/v2/orders")).json() == {"direct": True}
            assert len(origin.requests) == 1
            # Read once per host: the running connector does not re-read the environment.
            monkeypatch.delenv("HTTP_PROXY")
            assert (await get(engine, f"{proxied_url}/again")).json() == {"ok": True}
            assert len(proxy.requests) == 2
        assert engine._proxied is None  # closed with the engine


def test_the_direct_engines_share_one_response_type() -> None:
    from connector.clients import aiohttp_transport

    assert aiohttp_transport.DirectResponse is DirectResponse
    assert issubclass(Http11Engine, DirectEngine) and issubclass(AiohttpTransport, DirectEngine)


def test_the_engine_needs_no_loop_to_be_made() -> None:
    # Built where Runtime or a test builds it, outside a running loop; bound at its first request.
    assert Http11Engine()._slots.in_use == 0
