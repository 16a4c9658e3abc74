"""The HTTP/1.1 engine: ApiTransport's direct path on asyncio protocols, without aiohttp or httpx.

Why: issue 6 allows 1 ms of connector CPU per imported order, and an import makes ~1.75 X-Series
POSTs per order. Through ApiTransport, a JSON POST to a localhost uvicorn costs about half the
client CPU of the aiohttp engine: under uvloop with 16 in flight 0.14-0.16 ms against 0.30-0.35 ms
(0.08 against 0.18 on a quiet machine), one at a time 0.17-0.20 against 0.40-0.49 ms; the
standard loop gives the same ratios (benchmarks/http_engine_bench.py has every row). About
0.03 ms of that is ApiTransport itself, and most of the rest the event loop and the socket
calls, which no engine avoids. aiohttp's extra cost is its generality: ClientRequest and
ClientResponse objects, a StreamReader, yarl URLs, tracing hooks and a timer context per request.
Here a request is one bytes object written to the transport (the caller's header block encoded
once per header set) and the response is parsed where it arrives
(connector.clients.http11_connection), with one future per request and no per-request timer.

It keeps the meaning of every failure that connector.clients.aiohttp_transport documents, because
ApiTransport decides from it whether a write may be repeated:

    what happened                                        httpx exception          read as
    bad URL, scheme other than http/https                UnsupportedProtocol      a bug
    no free slot within the timeout (pool wait)          ConnectTimeout           never sent
    connect / TLS handshake not done within the timeout  ConnectTimeout           never sent
    connect refused, DNS failure, TLS handshake failed   ConnectError             never sent
    no response byte within the (per read) timeout       ReadTimeout              maybe sent
    connection closed after the request was written      RemoteProtocolError      maybe sent
    connection reset after the request was written       ReadError                maybe sent
    malformed response, undecodable gzip/deflate body    RemoteProtocolError      maybe sent

"Never sent" is raised only when no byte of the request can have left: a connection is written to
only once it is connected and seen open by the loop, and from then on every failure is "maybe
sent". The stale keep-alive race (the server's FIN in flight as we write) therefore surfaces as
RemoteProtocolError or ReadError, as with aiohttp; GET, HEAD and OPTIONS whose connection dropped
before any response byte - pooled or new, as aiohttp does it - are sent once more at once, and
nothing else ever is (a PUT is a write to ApiTransport).

Requests carry exactly the caller's headers, plus Host (with the port when not the scheme's
default) and Content-Length for a body (0 for POST, PUT and PATCH without one, as httpx sends).
HTTPS uses httpx's default SSL context (certifi, SSL_CERT_FILE honoured, verification on) with
SNI. gzip and deflate bodies come back decoded (the caller's Accept-Encoding advertises exactly
those), headers as the wire had them. A host that HTTP(S)_PROXY / ALL_PROXY sends through a proxy
(NO_PROXY honoured, read once per host) is left to an AiohttpTransport owned by this engine:
proxying is rare enough not to be worth a second implementation.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx
from multidict import CIMultiDict, MultiDict, getversion

from connector.clients.aiohttp_transport import AiohttpTransport
from connector.clients.direct_engine import DirectEngine
from connector.clients.direct_response import DirectResponse, SentRequest, failed_request
from connector.clients.environment_proxy import environment_proxy
from connector.clients.http11_connection import (
    ConnectionLost,
    Http11Connection,
    MalformedResponse,
    ResponseTimeout,
)
from connector.clients.http11_pool import Origin, Slots
from connector.event_loop import running_loop

DEFAULT_KEEPALIVE_SECONDS = 4.0
DEFAULT_MAX_CONNECTIONS = 32

_RESENDABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# httpx sends "Content-Length: 0" for these when there is no body; servers may insist on it.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Framing is this engine's: a caller's own would contradict the body it hands over.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})
# A header block is encoded once per header set (ApiTransport keeps two); bounded for other callers.
_MAX_CACHED_BLOCKS = 64


class Http11Engine(DirectEngine):
    """Keep-alive HTTP/1.1 over asyncio protocols, for ApiTransport's direct path (send/aclose).

    Created outside any loop; binds to the loop of its first request (like aiohttp's session).
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
        if isinstance(verify, ssl.SSLContext):
            self._ssl: ssl.SSLContext = verify
        else:
            # httpx's own default context: the engine trusts exactly what httpx's engine trusts.
            self._ssl = httpx.create_ssl_context(verify=verify)
        self._slots = Slots(max_connections)
        self._origins: dict[str, Origin] = {}
        self._blocks: dict[int, tuple[Mapping[str, str], int | None, str, bool]] = {}
        self._proxied: AiohttpTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the last loop seen (running_loop)

    async def send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float | None,
    ) -> DirectResponse:
        """One exchange (DirectEngine's contract; failures as the module docstring's table)."""
        origin, target = self._route(method, url)
        if origin.proxy is not None:
            return await self._via_proxy(method, url, body, headers, timeout)
        block, has_host = self._header_block(headers)
        if body:
            framing = f"Content-Length: {len(body)}\r\n"
        elif method in _BODY_METHODS:
            framing = "Content-Length: 0\r\n"
        else:
            framing = ""
        host = "" if has_host else f"Host: {origin.host_header}\r\n"
        request = f"{method} {target} HTTP/1.1\r\n{host}{block}{framing}\r\n".encode("utf-8", "surrogateescape")
        if body:
            request += body

        loop = self._loop = running_loop(self._loop)
        slots = self._slots
        if not slots.try_acquire():
            try:
                await slots.acquire(loop, timeout)
            except TimeoutError:
                raise httpx.ConnectTimeout(
                    f"no free connection within {timeout}s (pool of {slots.limit})",
                    request=failed_request(method, url)) from None
        try:
            resent = False
            while True:
                conn = origin.take_idle(loop.time())
                if conn is None:
                    conn = await self._connect(loop, origin, timeout, method, url)
                try:
                    status, response_headers, content = await conn.start(
                        request, method == "HEAD", timeout)
                except ConnectionLost as lost:
                    if (not lost.got_response_bytes and not resent
                            and method in _RESENDABLE_METHODS):
                        resent = True  # the stale keep-alive race, for a read (module docstring)
                        continue
                    error_type = httpx.ReadError if lost.cause is not None else httpx.RemoteProtocolError
                    raise error_type(str(lost), request=failed_request(method, url)) from lost.cause
                except ResponseTimeout as exc:
                    raise httpx.ReadTimeout(str(exc), request=failed_request(method, url)) from None
                except MalformedResponse as exc:
                    raise httpx.RemoteProtocolError(str(exc), request=failed_request(method, url)) from None
                except BaseException:
                    # Cancelled mid-exchange: the rest of this answer must not be read as the next one's.
                    conn.abort()
                    raise
                break
            if conn.reusable:
                origin.put_idle(conn, loop)
            else:
                conn.close()
        finally:
            slots.release()

        encoding = response_headers.get("Content-Encoding")
        if encoding is not None and content:
            content = _decoded(content, encoding, method, url)
        return DirectResponse(status, response_headers, content, SentRequest(method, url))

    # -- where to -----------------------------------------------------------------------------

    def _route(self, method: str, url: str) -> tuple[Origin, str]:
        """The origin of `url` and the request target (path and query) to put on the wire."""
        # Fast path: "scheme://authority" is everything before the first "/" after the "//" (a
        # non-empty host puts that "/" at index 8 or later, for http and https alike).
        cut = url.find("/", 8)
        if cut > 0:
            origin = self._origins.get(url[:cut])
            if origin is not None:
                target = url[cut:]
                if "#" in target:
                    target = target.split("#", 1)[0]
                if " " in target or "\r" in target or "\n" in target:
                    raise httpx.UnsupportedProtocol(f"invalid URL {url!r}", request=failed_request(method, url))
                return origin, target
        return self._route_slowly(method, url)

    def _route_slowly(self, method: str, url: str) -> tuple[Origin, str]:
        def unsupported(why: str) -> httpx.UnsupportedProtocol:
            return httpx.UnsupportedProtocol(f"{why}: {url!r}", request=failed_request(method, url))

        try:
            parts = urlsplit(url)
            port = parts.port
            host = parts.hostname
        except ValueError as exc:
            raise unsupported(f"invalid URL ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise unsupported("only http and https URLs are supported")
        if not host:
            raise unsupported("no host in URL")
        if parts.username is not None or parts.password is not None:
            raise unsupported("credentials in URL are not supported")
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        if " " in target or "\r" in target or "\n" in target:
            raise unsupported("invalid URL")
        try:
            wire_host = host.encode("idna").decode("ascii") if not host.isascii() else host
        except UnicodeError:
            raise unsupported("invalid host") from None
        port = port or _DEFAULT_PORTS[scheme]
        key = f"{scheme}://{wire_host}:{port}"
        origin = self._origins.get(key)
        if origin is None:
            literal = f"[{wire_host}]" if ":" in wire_host else wire_host
            host_header = literal if port == _DEFAULT_PORTS[scheme] else f"{literal}:{port}"
            origin = Origin(scheme, wire_host, port, host_header, environment_proxy(scheme, wire_host),
                            self._keepalive_seconds)
            self._origins[key] = origin
        prefix = url[:url.find("/", 8)] if url.find("/", 8) > 0 else None
        if prefix is not None and prefix == f"{parts.scheme}://{parts.netloc}" and "?" not in prefix \
                and "#" not in prefix:
            # The URL's own spelling of its origin, so the next request takes the fast path.
            self._origins[prefix] = origin
        return origin, target

    def _header_block(self, headers: Mapping[str, str]) -> tuple[str, bool]:
        """The caller's headers as wire text (minus framing), and whether they include Host.

        ApiTransport hands over the same two CIMultiDicts on every request: their text is kept,
        keyed by identity and checked against multidict's mutation counter, so it is encoded once.
        """
        versioned = isinstance(headers, (CIMultiDict, MultiDict))
        key = id(headers)
        cached = self._blocks.get(key)
        if cached is not None and cached[0] is headers and versioned and cached[1] == getversion(headers):
            return cached[2], cached[3]
        lines = []
        has_host = False
        for name, value in headers.items():
            name, value = str(name), str(value)
            if "\r" in name or "\n" in name or ":" in name or "\r" in value or "\n" in value:
                # A header that would smuggle another (what aiohttp and httpx refuse as well).
                raise ValueError(f"newline or colon in request header {name!r}")
            lowered = name.lower()
            if lowered in _FRAMING_HEADERS:
                continue
            if lowered == "host":
                has_host = True
            lines.append(f"{name}: {value}\r\n")
        block = "".join(lines)
        if versioned:
            if len(self._blocks) >= _MAX_CACHED_BLOCKS:
                self._blocks.clear()
            self._blocks[key] = (headers, getversion(headers), block, has_host)
        return block, has_host

    # -- connections ------------------------------------------------------------------------------

    async def _connect(self, loop: asyncio.AbstractEventLoop, origin: Origin, timeout: float | None,
                       method: str, url: str) -> Http11Connection:
        """A new connection (TLS included) within the connect timeout; failures are "never sent"."""
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: Http11Connection(loop), origin.host, origin.port,
                    ssl=self._ssl if origin.tls else None,
                    server_hostname=origin.host if origin.tls else None,
                )
        except TimeoutError as exc:  # before OSError: TimeoutError is one
            raise httpx.ConnectTimeout(f"connect to {origin.host}:{origin.port} timed out",
                                       request=failed_request(method, url)) from exc
        except OSError as exc:  # refused, DNS (gaierror), TLS handshake (SSLError): all OSErrors
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}",
                                     request=failed_request(method, url)) from exc
        except (UnicodeError, ValueError) as exc:  # a host the resolver refuses to look up
            raise httpx.UnsupportedProtocol(f"invalid host: {exc}",
                                            request=failed_request(method, url)) from exc
        if conn.closed or conn.transport.is_closing():
            # The server hung up between accepting and our first byte: nothing was sent.
            raise httpx.ConnectError(f"{origin.host}:{origin.port} closed the connection at once",
                                     request=failed_request(method, url))
        conn.registry = origin.open
        origin.open.add(conn)
        return conn

    async def _via_proxy(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                         timeout: float | None) -> DirectResponse:
        engine = self._proxied
        if engine is None:
            engine = self._proxied = AiohttpTransport(
                max_connections=self._max_connections, keepalive_seconds=self._keepalive_seconds,
                verify=self._ssl)
        return await engine.send(method, url, body, headers, timeout)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        """Close every connection and the proxy engine; the engine may be used again after."""
        # An origin may be listed under two spellings of its URL (see _route_slowly).
        origins = {id(origin): origin for origin in self._origins.values()}.values()
        conns = [conn for origin in origins for conn in origin.close_all()]
        self._origins.clear()
        self._blocks.clear()
        proxied, self._proxied = self._proxied, None
        if proxied is not None:
            await proxied.aclose()
        if conns:
            # TLS connections say goodbye (close_notify) before they are gone; do not hang on it.
            _, pending = await asyncio.wait([asyncio.ensure_future(c.wait_closed()) for c in conns],
                                            timeout=1.0)
            for task in pending:
                task.cancel()
            for conn in conns:
                conn.abort()


def _decoded(content: bytes, encoding: str, method: str, url: str) -> bytes:
    """The body with its Content-Encoding(s) undone: gzip and deflate, what the caller advertises.

    Decoded like httpx: deflate is zlib-wrapped per the RFC, but raw deflate is accepted too, as
    some servers send it. An unknown coding (identity, or one the caller did not ask for) is left.
    """
    for coding in reversed([c.strip().lower() for c in encoding.split(",")]):
        try:
            if coding in ("gzip", "x-gzip"):
                content = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(content)
            elif coding == "deflate":
                try:
                    content = zlib.decompress(content)
                except zlib.error:
                    content = zlib.decompress(content, -zlib.MAX_WBITS)
            else:
                continue
        except zlib.error as exc:
            raise httpx.RemoteProtocolError(f"undecodable {coding} body: {exc}",
                                            request=failed_request(method, url)) from exc
    return content
