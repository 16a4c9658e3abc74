"""The aiohttp engine: the connector's HTTP wire work, with or without httpx on top.

Since the HTTP/1.1 engine (connector.clients.http11_engine, about half of this engine's client CPU
per request) took over production, this one is the fallback (Runtime.start(http_engine="aiohttp")),
the measured comparison, and what the HTTP/1.1 engine hands proxied hosts to. What follows is
still the specification both direct engines meet.

Why: httpx's default engine (httpcore) costs about 0.9 ms of CPU per request (1.7 ms with 16 in
flight), which alone breaks the import budget of 1 ms of connector CPU per order. Two ways in:

- Under httpx (handle_async_request): any httpx.AsyncClient runs on it, about 0.35 / 0.25 ms of
  CPU per request (sequential / 16 in flight). What is left is mostly httpx itself: URL merging
  and parsing, the Request/Response/Headers models, reading the request stream back.
- Direct (send): ApiTransport, when given this engine, hands over a ready URL, body and headers
  and gets a DirectResponse (status, aiohttp's headers, body bytes) - no httpx object on the
  way - for about 0.16 / 0.12 ms, within 10% of a bare aiohttp.ClientSession call
  (benchmarks/http_engine_bench.py measures every variant). Every other engine (httpx's own,
  ASGITransport for the simulators, respx in tests) stays under httpx.

What the engine must preserve is the meaning of the exceptions, because
connector.clients.transport.ApiTransport decides from them whether a write may be repeated:

    aiohttp                                         httpx                     ApiTransport reads it as
    ConnectionTimeoutError (pool wait or connect)   ConnectTimeout            never sent: retry
    ClientConnectorError (refused, DNS, TLS)        ConnectError              never sent: retry
    SocketTimeoutError / other timeouts             ReadTimeout               maybe sent
    ServerDisconnectedError, ClientPayloadError,    RemoteProtocolError       maybe sent
      malformed response (ClientResponseError)
    ClientOSError / ClientConnectionError (resets)  ReadError                 maybe sent
    InvalidURL, non-HTTP URL                        UnsupportedProtocol       a bug: not retried
    any other aiohttp.ClientError                   RemoteProtocolError       maybe sent (conservative)

Stale keep-alive connections. aiohttp never reuses a pooled connection whose close the event loop
has already seen (the connector checks is_connected() when it hands one out). The remaining race -
the server's FIN still in flight when we write - surfaces as ServerDisconnectedError or a reset,
and aiohttp cannot tell us whether the server read the request first, so it is mapped to
"maybe sent": a POST that hits the race becomes UnknownWriteOutcome (the lookup-before-rewrite path
handles it) rather than risk a duplicate. To keep that race rare, idle connections are dropped
after 4 s, before typical server idle timeouts (uvicorn: 5 s; API gateways: 60 s and more) so the
client, not the server, closes first.

aiohttp itself re-sends once, on any ServerDisconnectedError / ClientOSError, every method it
deems idempotent - including PUT and DELETE. That would repeat writes ApiTransport may consider
unsafe, behind its back, so it is switched off; this engine instead re-sends at once only GET,
HEAD and OPTIONS whose connection dropped before any response header arrived (what aiohttp did for
them, and what ApiTransport would do anyway, minus a backoff).

Bodies: under httpx, responses are handed over still encoded (auto_decompress off) with their wire
headers; httpx decodes them exactly as with its own engine, and only the encodings httpx advertised
in its Accept-Encoding (its own decoders) can come back. On the direct path the caller advertises
gzip and deflate (what httpx advertises without the optional brotli/zstandard packages) and aiohttp
decodes them.

Both ways raise the same httpx exception types (table above), so ApiTransport's retry rules read
a failure the same whichever way the request went.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx
from yarl import URL

from connector.clients.direct_engine import DirectEngine
# Re-exported: they were defined here before the HTTP/1.1 engine shared them.
from connector.clients.direct_response import DirectResponse, SentRequest, failed_request
from connector.clients.environment_proxy import environment_proxy

__all__ = ["AiohttpTransport", "DirectResponse", "SentRequest"]

# Idle keep-alive connections are closed by us before the server's idle timeout (see above).
DEFAULT_KEEPALIVE_SECONDS = 4.0
DEFAULT_MAX_CONNECTIONS = 32
# Used only when a request carries no httpx timeout extension (httpx always sets one).
DEFAULT_TIMEOUTS = {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 30.0}

_RESENDABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# httpx reads the whole body before handing us the request, so the body goes out with a known
# length; a chunked framing header from httpx would contradict that.
_DROPPED_REQUEST_HEADERS = frozenset({"transfer-encoding"})
# Left out of aiohttp's automatic headers: the request carries exactly what httpx put on it (or,
# on the direct path, what ApiTransport put on it).
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class AiohttpTransport(httpx.AsyncBaseTransport, DirectEngine):
    """One aiohttp.ClientSession (created on first use), reachable two ways.

    - As an httpx.AsyncBaseTransport (handle_async_request): any httpx.AsyncClient can run on it.
    - Directly (send): ApiTransport calls it with a ready URL, body and headers and gets a
      DirectResponse back, skipping httpx's request/response models (module docstring).
    Both share the connection pool, the timeouts, the resend rule and the exception mapping.
    """

    def __init__(
        self,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        keepalive_seconds: float = DEFAULT_KEEPALIVE_SECONDS,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        # httpx's own default context (certifi trust store, SSL_CERT_FILE honoured): the engine
        # trusts exactly what the default httpx engine trusts, and verifies certificates.
        self._ssl: ssl.SSLContext | bool = (
            httpx.create_ssl_context() if verify is True else verify
        )
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple, aiohttp.ClientTimeout] = {}
        self._proxies: dict[tuple, str | None] = {}

    def _open_session(self) -> aiohttp.ClientSession:
        # Created here, inside the running loop: aiohttp binds a session to the loop it starts in.
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, keepalive_timeout=self._keepalive_seconds, ssl=self._ssl,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            # Under httpx, bodies are decoded by httpx; the direct path asks per request.
            auto_decompress=False,
            # Proxies come from _proxy_for (read once per host), not from aiohttp's trust_env,
            # which re-reads the environment and ~/.netrc on every request (0.6 ms per order).
            trust_env=False,
            # Cookies are httpx's business (its client jar); aiohttp must not add its own.
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=_NO_AUTO_HEADERS,
            # Per request; this only stops aiohttp's 5-minute default total from applying.
            timeout=aiohttp.ClientTimeout(total=None),
        )
        if "_retry_connection" in aiohttp.ClientSession.ATTRS:
            # aiohttp's silent re-send of PUT/DELETE on a dropped connection (module docstring).
            session._retry_connection = False
        self._session = session
        return session

    # -- under httpx ------------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method = request.method
        body = await request.aread()
        headers = [(k, v) for k, v in request.headers.multi_items()
                   if k.lower() not in _DROPPED_REQUEST_HEADERS]
        # httpx has already percent-encoded the URL; aiohttp must not re-quote it (a '%2B' in a
        # date's offset would otherwise risk turning into a '+', i.e. a space).
        url = URL(str(request.url), encoded=True)
        timeout = self._timeout(request.extensions.get("timeout"))
        try:
            response, content = await self._exchange(
                method, url, body or None, headers, timeout, decompress=False)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _to_httpx(exc, request) from exc
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            content=content,
            extensions={
                "http_version": b"HTTP/%d.%d" % tuple(response.version),
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    # -- direct -----------------------------------------------------------------------------------

    async def send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> DirectResponse:
        """One exchange without httpx: `url` already percent-encoded (query included), `body`
        already encoded, `headers` complete but for Host and Content-Length, `timeout` in seconds
        as httpx.Timeout(timeout) means it. Failures raise the same httpx exceptions as
        handle_async_request (module docstring table), so callers tell "never sent" from "maybe
        sent" exactly as they do under httpx."""
        try:
            wire_url = URL(url, encoded=True)
        except (ValueError, TypeError) as exc:
            raise httpx.UnsupportedProtocol(f"invalid URL: {exc}", request=failed_request(method, url)) from exc
        try:
            response, content = await self._exchange(
                method, wire_url, body, headers, self._timeout_seconds(timeout),
                # Accept-Encoding is the caller's (gzip, deflate, as httpx's); aiohttp decodes it.
                decompress=True)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _to_httpx(exc, failed_request(method, url)) from exc
        return DirectResponse(response.status, response.headers, content, SentRequest(method, url))

    # -- shared -----------------------------------------------------------------------------------

    async def _exchange(
        self, method: str, url: URL, body: bytes | None, headers: Any, timeout: aiohttp.ClientTimeout,
        *, decompress: bool,
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        """Send, read the whole body, give the connection back. Raises aiohttp's exceptions."""
        session = self._session or self._open_session()
        resent = False
        while True:
            try:
                response = await session.request(
                    method, url, data=body, headers=headers, proxy=self._proxy_for(url),
                    allow_redirects=False, timeout=timeout, auto_decompress=decompress,
                )
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                # The stale keep-alive race (module docstring): only reads are sent again.
                if (not resent and method in _RESENDABLE_METHODS
                        and not isinstance(exc, aiohttp.ClientConnectorError)):
                    resent = True
                    continue
                raise
            break
        try:
            content = await response.read()
        except BaseException:
            response.close()  # a half-read connection must not go back to the pool
            raise
        response.release()
        return response, content

    def _proxy_for(self, url: URL) -> str | None:
        """The HTTP(S)_PROXY that applies to this host, honouring NO_PROXY, as httpx's own engine
        does: a merchant behind an outbound proxy sets it once for both APIs. Read once per host."""
        key = (url.scheme, url.host, url.port)
        if key not in self._proxies:
            self._proxies[key] = environment_proxy(url.scheme, url.host)
        return self._proxies[key]

    def _timeout_seconds(self, seconds: float | None) -> aiohttp.ClientTimeout:
        # httpx.Timeout(seconds): the same value for connect, read, write and pool.
        timeout = self._timeouts.get((seconds,))
        if timeout is None:
            timeout = self._timeout({"connect": seconds, "read": seconds, "write": seconds, "pool": seconds})
            self._timeouts[(seconds,)] = timeout
        return timeout

    def _timeout(self, spec: dict[str, Any] | None) -> aiohttp.ClientTimeout:
        spec = spec or DEFAULT_TIMEOUTS
        key = (spec.get("connect"), spec.get("read"), spec.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read, pool = key
            timeout = aiohttp.ClientTimeout(
                total=None,
                # aiohttp's `connect` covers waiting for a pooled slot plus connecting.
                connect=None if connect is None or pool is None else connect + pool,
                sock_connect=connect,
                # Starts once the request is written; reset by every chunk received.
                sock_read=read,
            )
            # aiohttp has no write timeout: request bodies here are small JSON documents, and a
            # stalled write is still caught by the read timeout, which maps to "maybe sent".
            self._timeouts[key] = timeout
        return timeout

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _to_httpx(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception that says the same thing about whether the request was sent."""
    message = f"{type(exc).__name__}: {exc}"
    error_type: type[httpx.TransportError]
    # Order matters: aiohttp's timeout and connector errors subclass its generic connection ones.
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error_type = httpx.ConnectTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        error_type = httpx.ConnectError
    elif isinstance(exc, asyncio.TimeoutError):  # SocketTimeoutError and any other timeout
        error_type = httpx.ReadTimeout
    elif isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        error_type = httpx.UnsupportedProtocol
    elif isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                          aiohttp.ClientResponseError)):
        error_type = httpx.RemoteProtocolError
    elif isinstance(exc, aiohttp.ClientConnectionError):
        error_type = httpx.ReadError
    else:
        error_type = httpx.RemoteProtocolError
    return error_type(message, request=request)
