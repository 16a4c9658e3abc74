"""ApiTransport's direct path: a direct engine without httpx in between, on real sockets.

Every direct-path test runs on both direct engines (the `engine_type` fixture of conftest.py: the
HTTP/1.1 engine and the aiohttp one). Most run the same call twice against the same localhost
server - once on the direct path (ApiTransport given the engine itself) and once through
httpx.AsyncClient (the aiohttp engine hidden behind a plain httpx transport, which is how every
request went before) - and require the same request on the wire and the same outcome. The servers are the ones of
test_aiohttp_transport.py: uvicorn in the test's loop for well-behaved answers, raw asyncio
servers for misbehaving peers.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta, timezone
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from test_aiohttp_transport import (
    free_port,
    hang_up_after_request,
    never_answer,
    served,
    short_body,
    start_raw,
    stop,
)

from connector.clients.aiohttp_transport import AiohttpTransport, DirectResponse
from connector.clients.direct_engine import DirectEngine
from connector.clients.http11_engine import Http11Engine
from connector.clients.bigcommerce_pacer import BigCommercePacer
from connector.clients.transport import ApiTransport, RetryPolicy, encode_query
from connector.clock import FakeClock
from connector.errors import (
    ApiError,
    CredentialsError,
    NotFoundError,
    PermanentApiError,
    TransientApiError,
    UnknownWriteOutcome,
)

# Query parameters as the clients build them (bigcommerce.py, xseries.py), plus the characters
# that break naive encoders: '+' in offsets and e-mails, ',' and ':' in keys and lists, spaces.
REPRESENTATIVE_PARAMS: list[Any] = [
    {"min_date_modified": "2026-01-01T00:00:00+00:00", "max_date_modified": "2026-01-31T23:59:59+00:00",
     "sort": "date_modified:asc", "limit": 250, "include": "consignments.line_items",
     "consignment_structure": "object", "page": 3},
    {"min_date_created": "Thu, 01 Jan 2026 00:00:00 +0000", "status_id": 11, "customer_id": 0},
    {"date_modified:min": "2026-01-01T00:00:00Z", "namespace": "order-sync", "key": "sale id"},
    {"sku:in": "NGH-1,NGH-2,WID 3/é", "include": "variants", "limit": 250, "page": 1},
    {"after": 0, "before": 123456789012, "page_size": 1000, "deleted": True},
    {"type": "customers", "email": "jane+orders@example.com", "offset": 2000, "page_size": 1000},
    {"type": "products", "q": "A&B=C #1 <x> 100%", "sku": "wid-1"},
    [("status_id", 1), ("status_id", 11), ("sort", "id"), ("status_id", 12)],
    {"status_id": [1, 11], "flag": False, "none": None, "ratio": 1.5},
    {},
]


class UnderHttpx(httpx.AsyncBaseTransport):
    """The same engine, but not recognisable as it: ApiTransport goes through httpx.AsyncClient."""

    def __init__(self) -> None:
        self.engine = AiohttpTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.engine.handle_async_request(request)

    async def aclose(self) -> None:
        await self.engine.aclose()


@pytest.fixture
def direct(engine_type: type[DirectEngine]) -> Callable[..., ApiTransport]:
    """ApiTransport on the direct path of the engine under test."""

    def make(url: str, clock: FakeClock | None = None, **options: Any) -> ApiTransport:
        return ApiTransport(api="test", base_url=url, headers={"Authorization": "Bearer t"},
                            retry=RetryPolicy(seed=1), clock=clock or FakeClock(),
                            http_transport=engine_type(), **options)

    return make


def via_httpx(url: str, clock: FakeClock | None = None, **options: Any) -> ApiTransport:
    return ApiTransport(api="test", base_url=url, headers={"Authorization": "Bearer t"},
                        retry=RetryPolicy(seed=1), clock=clock or FakeClock(),
                        http_transport=UnderHttpx(), **options)


@pytest.fixture(params=["direct-http11", "direct-aiohttp", "via-httpx"])
def make(request: pytest.FixtureRequest) -> Callable[..., ApiTransport]:
    """Each way to the wire: the direct path on either engine, and through httpx."""
    if request.param == "via-httpx":
        return via_httpx
    engine = {"direct-http11": Http11Engine, "direct-aiohttp": AiohttpTransport}[request.param]
    return lambda url, clock=None, **options: ApiTransport(
        api="test", base_url=url, headers={"Authorization": "Bearer t"}, retry=RetryPolicy(seed=1),
        clock=clock or FakeClock(), http_transport=engine(), **options)


# --- the server ----------------------------------------------------------------------------------


class Seen:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def count(self, request: Request) -> int:
        self.calls[request.url.path] = self.calls.get(request.url.path, 0) + 1
        return self.calls[request.url.path]


ERROR_BODIES: dict[int, tuple[bytes, str]] = {
    400: (b'[{"status":400,"message":"The field \'status_id\' is invalid."}]', "application/json"),
    401: (b'{"status":401,"title":"Unauthorized"}', "application/json"),
    403: (b"<html><body>Forbidden</body></html>", "text/html"),
    404: (b'{"status":404,"title":"The requested resource was not found."}', "application/json"),
    409: (b'{"error":"conflict","errors":{"sku":"already used"}}', "application/json"),
    422: (b'{"title":"Invalid","errors":["price must be positive","name missing"]}', "application/json"),
    500: (b'{"error":"Internal"}', "application/json"),
    502: (b"<html>Bad gateway</html>", "text/html"),
}


def build_app(seen: Seen) -> Starlette:
    async def echo(request: Request) -> Response:
        n = seen.count(request)
        body = await request.body()
        return JSONResponse({
            "method": request.method,
            "path": request.url.path,
            "raw_query": request.url.query,
            "headers": sorted([k.decode().lower(), v.decode()] for k, v in request.scope["headers"]),
            "body": body.decode("utf-8"),
        }, headers={"X-Request-Count": str(n), "X-RateLimit-Remaining": "42"})

    async def error(request: Request) -> Response:
        seen.count(request)
        status = int(request.path_params["status"])
        body, media_type = ERROR_BODIES[status]
        return Response(body, status_code=status, media_type=media_type)

    async def rate_limited(request: Request) -> Response:
        if seen.count(request) == 1:
            return JSONResponse({"title": "Too many requests"}, status_code=429, headers={
                "X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "1500",
                "X-Rate-Limit-Requests-Quota": "150", "X-Rate-Limit-Time-Window-Ms": "30000"})
        return JSONResponse({"ok": True}, headers={
            "x-rate-limit-requests-left": "149", "x-rate-limit-time-reset-ms": "29000",
            "x-rate-limit-requests-quota": "150", "x-rate-limit-time-window-ms": "30000"})

    async def flaky(request: Request) -> Response:
        if seen.count(request) <= 2:
            return JSONResponse({"error": "Service Unavailable"}, status_code=503)
        return JSONResponse({"ok": True})

    async def gzipped(request: Request) -> Response:
        seen.count(request)
        return Response(gzip.compress(json.dumps({"orders": list(range(300))}).encode()),
                        headers={"Content-Encoding": "gzip"}, media_type="application/json")

    async def latin(request: Request) -> Response:
        seen.count(request)
        return Response(b"caf\xe9", media_type="text/plain; charset=iso-8859-1")

    async def broken_utf8(request: Request) -> Response:
        seen.count(request)
        return Response(b"<html>caf\xe9 \xff</html>", media_type="text/html")

    async def empty(request: Request) -> Response:
        seen.count(request)
        return Response(status_code=204)

    return Starlette(routes=[
        Route("/echo", echo, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/stores/abc123/v2/orders", echo, methods=["GET"]),
        Route("/error/{status}", error, methods=["GET", "POST", "PUT"]),
        Route("/rate_limited", rate_limited, methods=["GET", "POST"]),
        Route("/flaky", flaky, methods=["GET"]),
        Route("/gzip", gzipped),
        Route("/latin", latin),
        Route("/broken_utf8", broken_utf8),
        Route("/empty", empty, methods=["GET", "DELETE"]),
    ])


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
async def server_url(seen: Seen) -> AsyncIterator[str]:
    async with served(build_app(seen)) as url:
        yield url


async def outcome(make: Callable[..., ApiTransport], url: str,
                  call: Callable[[ApiTransport], Awaitable[Any]], **options: Any) -> tuple[Any, ApiTransport]:
    """What `call` returns or raises on one path, plus the transport (for its stats)."""
    async with make(url, **options) as api:
        try:
            return await call(api), api
        except ApiError as exc:
            return exc, api


def describe(error: ApiError) -> tuple:
    return (type(error), str(error), error.status, error.method, error.path, error.body)


# --- which path ----------------------------------------------------------------------------------


async def test_the_engine_is_used_directly(server_url: str, monkeypatch: pytest.MonkeyPatch,
                                           direct: Callable[..., ApiTransport]) -> None:
    async def not_this_way(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the direct path went through httpx")

    monkeypatch.setattr(httpx.AsyncClient, "request", not_this_way)
    monkeypatch.setattr(AiohttpTransport, "handle_async_request", not_this_way)
    async with direct(server_url) as api:
        assert isinstance(api.engine, DirectEngine) and api._client is None
        response = await api.request("GET", "/echo")
    assert isinstance(response, DirectResponse)
    assert response.json()["method"] == "GET"


async def test_any_other_engine_stays_under_httpx() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"url": str(request.url)})

    mock = httpx.MockTransport(answer)
    async with ApiTransport(api="test", base_url="http://api.test/base", headers={},
                            http_transport=mock) as api:
        assert api.engine is mock
        response = await api.request("GET", "/v2/orders", params={"page": 2})
    assert isinstance(response, httpx.Response)
    assert response.json() == {"url": "http://api.test/base/v2/orders?page=2"}


# --- the same request on the wire ----------------------------------------------------------------


@pytest.mark.parametrize("params", REPRESENTATIVE_PARAMS)
def test_query_string_is_the_one_httpx_builds(params: Any) -> None:
    expected = str(httpx.QueryParams(params)) if params else None
    assert encode_query(params) == expected


@pytest.mark.parametrize("path", [
    "/v2/orders", "/v2/orders/123/products", "/api/register_sales/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",
    "/api/2.0/search", "/v3/catalog/products", "/a b/é", "/a/%2F/b", "/a/./b/../c", "/.well-known",
    "/x?y=1", "//host/path", "relative/path", "/",
])
@pytest.mark.parametrize("params", [None, REPRESENTATIVE_PARAMS[0], REPRESENTATIVE_PARAMS[7], {}])
@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "https://API.bigcommerce.com/stores/abc123/",
                                  "https://shop.retail.lightspeed.app:443"])
def test_url_is_the_one_httpx_builds(base: str, path: str, params: Any) -> None:
    api = ApiTransport(api="test", base_url=base, headers={}, http_transport=AiohttpTransport())
    reference = httpx.AsyncClient(base_url=base.rstrip("/"))
    assert api._url(path, params) == str(reference.build_request("GET", path, params=params).url)


@pytest.mark.parametrize("params", REPRESENTATIVE_PARAMS)
async def test_get_sends_the_same_request_as_through_httpx(server_url: str, params: Any,
                                                           direct: Callable[..., ApiTransport]) -> None:
    url = f"{server_url}/stores/abc123"
    sent = []
    for make in (direct, via_httpx):
        async with make(url) as api:
            sent.append((await api.request("GET", "/v2/orders", params=params)).json())
    assert sent[0] == sent[1]
    if params and not isinstance(params, list) and "min_date_modified" in params:
        # The UTC offset's '+' must stay encoded: a bare '+' reads as a space.
        assert "2026-01-01T00%3A00%3A00%2B00%3A00" in sent[0]["raw_query"]


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_json_write_sends_the_same_request_as_through_httpx(
        server_url: str, method: str, direct: Callable[..., ApiTransport]) -> None:
    order = {"register_id": "0a1b", "note": "café ☕ \"quoted\"", "total": 12.5, "lines": [{"qty": 1}],
             "email": "jane+x@example.com", "missing": None}
    sent = []
    for make in (direct, via_httpx):
        async with make(server_url) as api:
            sent.append((await api.request(method, "/echo", json=order, safe_to_repeat=True)).json())
    assert sent[0] == sent[1]
    headers = dict(sent[0]["headers"])
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json" and headers["authorization"] == "Bearer t"
    assert headers["user-agent"].startswith("order-sync/")
    assert headers["accept-encoding"] == "gzip, deflate"
    # Compact and UTF-8, as httpx encodes JSON bodies.
    assert sent[0]["body"] == json.dumps(order, separators=(",", ":"), ensure_ascii=False)


async def test_timeouts_are_the_ones_httpx_would_hand_the_engine() -> None:
    engine = AiohttpTransport()
    for seconds in (0.2, 30.0):
        assert engine._timeout_seconds(seconds) == engine._timeout(httpx.Timeout(seconds).as_dict())
    timeout = engine._timeout_seconds(30.0)
    assert (timeout.total, timeout.connect, timeout.sock_connect, timeout.sock_read) == (None, 60.0, 30.0, 30.0)


# --- answers ---------------------------------------------------------------------------------------


async def test_json_answer_and_its_headers(server_url: str, direct: Callable[..., ApiTransport]) -> None:
    async with direct(server_url) as api:
        response = await api.request("GET", "/echo", params={"a": "1"})
    assert response.status_code == 200
    assert response.json()["raw_query"] == "a=1"
    assert json.loads(response.content) == response.json() and json.loads(response.text) == response.json()
    assert response.request.method == "GET" and response.request.url == f"{server_url}/echo?a=1"
    # Case-insensitive, as the pacers read rate-limit headers.
    for name in ("X-Request-Count", "x-request-count", "X-REQUEST-COUNT"):
        assert response.headers[name] == "1" and response.headers.get(name) == "1" and name in response.headers
    assert response.headers.get("X-Missing") is None and "X-Missing" not in response.headers
    with pytest.raises(KeyError):
        response.headers["X-Missing"]


async def test_no_content(server_url: str, direct: Callable[..., ApiTransport]) -> None:
    async with direct(server_url) as api:
        response = await api.request("DELETE", "/empty", safe_to_repeat=True)
    assert response.status_code == 204 and response.content == b"" and response.text == ""
    with pytest.raises(ValueError):
        response.json()


async def test_gzip_answer_comes_out_decoded(server_url: str, direct: Callable[..., ApiTransport]) -> None:
    async with direct(server_url) as api:
        response = await api.request("GET", "/gzip")
    assert response.json() == {"orders": list(range(300))}


async def test_text_follows_the_declared_charset_and_replaces_bad_bytes(
        server_url: str, direct: Callable[..., ApiTransport]) -> None:
    async with direct(server_url) as api, via_httpx(server_url) as reference:
        for path in ("/latin", "/broken_utf8"):
            got, expected = await api.request("GET", path), await reference.request("GET", path)
            assert got.text == expected.text
    assert got.text == "<html>caf\ufffd \ufffd</html>"


# --- errors: the same ApiError as through httpx ----------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_client_errors_raise_what_they_raised_through_httpx(
        server_url: str, status: int, method: str, direct: Callable[..., ApiTransport]) -> None:
    async def call(api: ApiTransport) -> Any:
        return await api.request(method, f"/error/{status}", json={} if method == "POST" else None)

    got, _ = await outcome(direct, server_url, call)
    expected, _ = await outcome(via_httpx, server_url, call)
    assert isinstance(got, ApiError) and describe(got) == describe(expected)
    wanted = {401: CredentialsError, 403: CredentialsError, 404: NotFoundError}.get(status, PermanentApiError)
    assert type(got) is wanted


async def test_server_error_on_a_post_is_an_unknown_outcome(server_url: str, seen: Seen,
                                                            direct: Callable[..., ApiTransport]) -> None:
    async def call(api: ApiTransport) -> Any:
        return await api.request("POST", "/error/500", json={"order": 1})

    got, api = await outcome(direct, server_url, call)
    assert type(got) is UnknownWriteOutcome and got.status == 500 and got.body == {"error": "Internal"}
    assert seen.calls["/error/500"] == 1 and api.stats.retries == 0
    expected, _ = await outcome(via_httpx, server_url, call)
    assert describe(got) == describe(expected)


async def test_server_error_on_a_get_is_retried(server_url: str, seen: Seen,
                                                direct: Callable[..., ApiTransport]) -> None:
    async with direct(server_url) as api:
        assert (await api.request("GET", "/flaky")).json() == {"ok": True}
        assert api.stats.retries == 2
    assert seen.calls["/flaky"] == 3


async def test_html_server_error_after_retries(server_url: str, make: Callable[..., ApiTransport]) -> None:
    got, api = await outcome(make, server_url, lambda api: api.request("GET", "/error/502"))
    assert type(got) is TransientApiError and "HTML page" in str(got)
    assert api.stats.requests["GET /error/{id}"] == RetryPolicy().max_attempts


async def test_rate_limit_is_waited_out_from_the_headers(server_url: str, seen: Seen,
                                                         make: Callable[..., ApiTransport]) -> None:
    clock = FakeClock()
    pacer = BigCommercePacer(clock)
    async with make(server_url, clock, pacer=pacer) as api:
        response = await api.request("POST", "/rate_limited", json={"order": 1}, safe_to_repeat=False)
        assert response.json() == {"ok": True}
        assert api.stats.rate_limited == 1
    # The reset the 429 announced (1.5 s), plus the pacer's margin; then the quota learned from
    # the lower-case headers of the answer.
    assert clock.slept == [pytest.approx(1.5 + pacer.reset_margin)]
    assert (pacer.left, pacer.quota, pacer.window) == (149, 150, 30.0)
    assert seen.calls["/rate_limited"] == 2


# --- connection failures -----------------------------------------------------------------------------


async def test_connection_refused_is_retried_then_transient(make: Callable[..., ApiTransport]) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    got, api = await outcome(make, url, lambda api: api.request("POST", "/register_sales", json={}))
    # Never sent: retried to the limit, and not an unknown outcome.
    assert type(got) is TransientApiError and "ConnectError" in str(got)
    assert isinstance(got.__cause__, httpx.ConnectError)
    assert api.stats.requests["POST /register_sales"] == RetryPolicy().max_attempts


@pytest.mark.parametrize("handler", [short_body, hang_up_after_request], ids=["mid-response", "no-response"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_connection_lost_on_a_write_is_an_unknown_outcome_and_sent_once(
        handler, method: str, direct: Callable[..., ApiTransport]) -> None:
    server, state, url = await start_raw(handler)
    try:
        got, api = await outcome(direct, url, lambda api: api.request(
            method, "/register_sales", json=None if method == "DELETE" else {"id": 1}, safe_to_repeat=False))
        assert type(got) is UnknownWriteOutcome
        assert isinstance(got.__cause__, (httpx.RemoteProtocolError, httpx.ReadError))
        assert len(state.requests) == 1  # no silent re-send, by aiohttp or by us
    finally:
        await stop(server)


async def test_connection_lost_on_a_read_is_resent_once_per_attempt(
        direct: Callable[..., ApiTransport]) -> None:
    server, state, url = await start_raw(hang_up_after_request)
    try:
        got, api = await outcome(direct, url, lambda api: api.request("GET", "/orders"))
        assert type(got) is TransientApiError
        # Every ApiTransport attempt: the engine's one immediate re-send of a read, no more.
        assert len(state.requests) == 2 * RetryPolicy().max_attempts
    finally:
        await stop(server)


async def test_no_answer_to_a_post_is_an_unknown_outcome(direct: Callable[..., ApiTransport]) -> None:
    server, state, url = await start_raw(never_answer)
    try:
        got, _ = await outcome(direct, url, lambda api: api.request("POST", "/register_sales", json={}),
                               timeout=0.2)
        assert type(got) is UnknownWriteOutcome and isinstance(got.__cause__, httpx.ReadTimeout)
        assert len(state.requests) == 1
    finally:
        await stop(server)


async def test_unsupported_url_is_httpx_unsupported_protocol(direct: Callable[..., ApiTransport]) -> None:
    async with direct("ftp://127.0.0.1:1") as api:
        with pytest.raises(httpx.UnsupportedProtocol):
            await api.request("GET", "/orders")


# --- lifecycle ---------------------------------------------------------------------------------------


async def test_aclose_closes_the_aiohttp_session(server_url: str) -> None:
    api = ApiTransport(api="test", base_url=server_url, headers={}, http_transport=AiohttpTransport())
    async with api:
        await api.request("GET", "/echo")
        session = api.engine._session
        assert session is not None and not session.closed
    assert session.closed and api.engine._session is None


async def test_concurrent_requests_share_the_pool(server_url: str, seen: Seen,
                                                  direct: Callable[..., ApiTransport]) -> None:
    async with direct(server_url) as api:
        answers = await asyncio.gather(*(api.request("GET", "/echo", params={"i": i}) for i in range(40)))
    assert sorted(int(a.json()["raw_query"][2:]) for a in answers) == list(range(40))
    assert seen.calls["/echo"] == 40


def test_the_clients_module_uses_only_what_direct_responses_have() -> None:
    """The attributes the connector reads from ApiTransport's answers (grep of connector/clients)."""
    response = DirectResponse(200, httpx_headers_like({"Retry-After": "3"}), b'{"a":1}',
                              _sent("GET", "http://x/y"))
    assert (response.status_code, response.content, response.text, response.json()) == (200, b'{"a":1}', '{"a":1}', {"a": 1})
    assert response.headers.get("retry-after") == "3" and response.request.method == "GET"
    assert response.is_success


def httpx_headers_like(values: dict[str, str]):
    from multidict import CIMultiDict, CIMultiDictProxy

    return CIMultiDictProxy(CIMultiDict(values))


def _sent(method: str, url: str):
    from connector.clients.aiohttp_transport import SentRequest

    return SentRequest(method, url)


def test_retry_after_date_is_readable() -> None:
    # X-Series sends Retry-After as an HTTP date; the pacer reads it from DirectResponse headers.
    from connector.clients.xseries_pacer import XSeriesPacer

    clock = FakeClock()
    pacer = XSeriesPacer(clock=clock)
    moment = (clock.now() + timedelta(seconds=20)).astimezone(timezone.utc)
    headers = httpx_headers_like({"retry-after": moment.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    wait = pacer.on_rate_limited(DirectResponse(429, headers, b"", _sent("POST", "http://x/y")))
    assert wait is not None and 20 <= wait <= 20 + pacer.margin_seconds + 1


@pytest.mark.parametrize("body, expected", [
    (b'{"id": 1, "total": "12.50", "name": "caf\xc3\xa9"}', {"id": 1, "total": "12.50", "name": "café"}),
    (b'{"a": NaN}', "nan"),  # refused by orjson, accepted by json.loads
    ('{"a": 1}'.encode("utf-16"), {"a": 1}),  # not UTF-8: json.loads detects it
    (b'{"big": 123456789012345678901234567890}', {"big": 123456789012345678901234567890}),
])
def test_direct_json_parses_whatever_the_standard_library_parses(body, expected):
    from multidict import CIMultiDict, CIMultiDictProxy

    from connector.clients.aiohttp_transport import DirectResponse

    parsed = DirectResponse(200, CIMultiDictProxy(CIMultiDict()), body, None).json()
    if expected == "nan":
        assert parsed["a"] != parsed["a"]
    else:
        assert parsed == expected


def test_direct_json_still_refuses_what_is_not_json():
    from multidict import CIMultiDict, CIMultiDictProxy

    from connector.clients.aiohttp_transport import DirectResponse

    with pytest.raises(ValueError):
        DirectResponse(200, CIMultiDictProxy(CIMultiDict()), b"<html>maintenance</html>", None).json()


def test_the_outbound_proxy_comes_from_the_environment_once_per_host(monkeypatch):
    from yarl import URL

    from connector.clients.aiohttp_transport import AiohttpTransport

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    engine = AiohttpTransport()
    assert engine._proxy_for(URL("https://api.bigcommerce.com/stores/x/v2/orders")) == "http://proxy.example:3128"
    assert engine._proxy_for(URL("https://internal.example/api")) is None
    assert engine._proxy_for(URL("http://plain.example/api")) is None  # no HTTP_PROXY set
    monkeypatch.delenv("HTTPS_PROXY")
    # Read once per host: the running connector does not re-read the environment per request.
    assert engine._proxy_for(URL("https://api.bigcommerce.com/other")) == "http://proxy.example:3128"
