"""An aiohttp engine under httpx: the clients stay httpx clients, only the wire work moves.

Why: httpx's default engine (httpcore) costs about 0.9 ms of CPU per request (1.8 ms with 16 in
flight), which alone breaks the import budget of 1 ms of connector CPU per order; httpx over this
engine costs about 0.3 ms (benchmarks/http_engine_bench.py measures both).

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

Bodies: responses are handed to httpx still encoded (auto_decompress off) with their wire headers.
httpx decodes them exactly as with its own engine, and only the encodings httpx advertised in its
Accept-Encoding (its own decoders) can come back.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import httpx
from yarl import URL

# Idle keep-alive connections are closed by us before the server's idle timeout (see above).
DEFAULT_KEEPALIVE_SECONDS = 4.0
DEFAULT_MAX_CONNECTIONS = 32
# Used only when a request carries no httpx timeout extension (httpx always sets one).
DEFAULT_TIMEOUTS = {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 30.0}

_RESENDABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# httpx reads the whole body before handing us the request, so the body goes out with a known
# length; a chunked framing header from httpx would contradict that.
_DROPPED_REQUEST_HEADERS = frozenset({"transfer-encoding"})
# Left out of aiohttp's automatic headers: the request carries exactly what httpx put on it.
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx.AsyncBaseTransport backed by one aiohttp.ClientSession (created on first use)."""

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

    def _open_session(self) -> aiohttp.ClientSession:
        # Created here, inside the running loop: aiohttp binds a session to the loop it starts in.
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, keepalive_timeout=self._keepalive_seconds, ssl=self._ssl,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
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

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open_session()
        method = request.method
        body = await request.aread()
        headers = [(k, v) for k, v in request.headers.multi_items()
                   if k.lower() not in _DROPPED_REQUEST_HEADERS]
        # httpx has already percent-encoded the URL; aiohttp must not re-quote it (a '%2B' in a
        # date's offset would otherwise risk turning into a '+', i.e. a space).
        url = URL(str(request.url), encoded=True)
        timeout = self._timeout(request.extensions.get("timeout"))
        resent = False
        while True:
            try:
                response = await session.request(
                    method, url, data=body or None, headers=headers,
                    allow_redirects=False, timeout=timeout,
                )
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if (not resent and method in _RESENDABLE_METHODS
                        and not isinstance(exc, aiohttp.ClientConnectorError)):
                    resent = True
                    continue
                raise _to_httpx(exc, request) from exc
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                raise _to_httpx(exc, request) from exc
            break
        try:
            content = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            response.close()  # a half-read connection must not go back to the pool
            raise _to_httpx(exc, request) from exc
        response.release()
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            content=content,
            extensions={
                "http_version": b"HTTP/%d.%d" % tuple(response.version),
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

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
