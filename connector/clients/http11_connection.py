"""One keep-alive HTTP/1.1 client connection: an asyncio.Protocol that parses responses as they arrive.

Why a Protocol and not streams or aiohttp: the bytes are handled in data_received, with no
StreamReader, no per-response parser objects and no task switch between reading and parsing.
An answer of the X-Series sale endpoint (head and small JSON body, usually one segment) is parsed
in about 5 microseconds; the whole exchange costs about half of aiohttp's client CPU
(benchmarks/http_engine_bench.py).

What it understands of a response (RFC 9112): the status line, headers (bounded in size and
count, so a broken peer cannot make it allocate without end), then a body framed by chunked
transfer coding (trailers read and dropped), Content-Length, or the end of the connection; no
body for HEAD, 1xx, 204 and 304. Interim 1xx answers are skipped. Anything else is malformed.

What it reports to the engine, which maps it to httpx's exceptions: ConnectionLost (with whether
any response byte had arrived, the one fact the stale keep-alive rule needs), MalformedResponse,
ResponseTimeout. A connection is reusable only after a complete response that allowed keep-alive
and nothing more on the wire; the engine never hands out one the loop has seen closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

# Bounds on what a peer can make us buffer before a body starts (and on trailers): aiohttp
# allows 8 KiB per line and h11 16 KiB per head; real API answers are under 2 KiB.
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 128
MAX_CHUNK_LINE = 4 * 1024
# More interim (1xx) answers than this before the final one is not a server we can talk to.
MAX_INTERIM = 8

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _IDLE = range(8)
_NO_BODY_STATUS = frozenset({204, 304})


class ConnectionLost(Exception):
    """The connection ended before the response was complete."""

    def __init__(self, got_response_bytes: bool, cause: BaseException | None) -> None:
        super().__init__("connection reset" if cause else "server closed the connection")
        self.got_response_bytes = got_response_bytes
        self.cause = cause


class MalformedResponse(Exception):
    """The peer's bytes are not an HTTP/1.1 response we can read."""


class ResponseTimeout(Exception):
    """No response byte for the read timeout."""


class Http11Connection(asyncio.Protocol):
    """A connection carrying one exchange at a time (no pipelining).

    start() writes a request and returns a future resolved with (status, headers, body) once the
    whole response is read; reusable says afterwards whether the connection may carry another.
    """

    __slots__ = (
        "transport", "closed", "reusable", "idle_since", "registry",
        "_loop", "_waiter", "_state", "_buf", "_parts", "_remaining", "_got_bytes", "_head_only",
        "_status", "_headers", "_keep_alive", "_interim", "_trailer_bytes",
        "_read_timeout", "_last_read", "_timer", "_timer_at", "_lost",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0
        # The pool's set of open connections (for closing them all); left when the connection is.
        self.registry: set[Http11Connection] | None = None
        self._waiter: asyncio.Future | None = None
        self._state = _IDLE
        self._buf = b""
        self._parts: list[bytes] = []
        self._remaining = 0
        self._got_bytes = False
        self._head_only = False
        self._status = 0
        self._headers: CIMultiDictProxy[str] | None = None
        self._keep_alive = True
        self._interim = 0
        self._trailer_bytes = 0
        self._read_timeout: float | None = None
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._lost: asyncio.Future | None = None

    # -- the engine's side ------------------------------------------------------------------------

    def start(self, request: bytes, head_only: bool, read_timeout: float | None) -> asyncio.Future:
        """Write one request; the future resolves with (status, headers, body) or fails with
        ConnectionLost / MalformedResponse / ResponseTimeout."""
        self._waiter = waiter = self._loop.create_future()
        self._state = _HEAD
        self._got_bytes = False
        self._head_only = head_only
        self._interim = 0
        self.reusable = False
        self._read_timeout = read_timeout
        self.transport.write(request)  # type: ignore[union-attr]
        if read_timeout is not None:
            # Counted from the write, reset by every segment received (httpx's read timeout).
            self._last_read = now = self._loop.time()
            self._arm(now + read_timeout)
        return waiter

    def close(self) -> None:
        """Drop the connection (not reusable: a response half read, a timeout, the pool closing)."""
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.transport.close()

    def abort(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.transport.abort()

    async def wait_closed(self) -> None:
        if not self.closed:
            if self._lost is None:
                self._lost = self._loop.create_future()
            await self._lost

    def is_usable(self) -> bool:
        """Still open as far as the loop knows, and idle."""
        transport = self.transport
        return not self.closed and self._waiter is None and transport is not None and not transport.is_closing()

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self.registry is not None:
            self.registry.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        if self._waiter is None:
            return
        if self._state == _UNTIL_CLOSE and exc is None:
            # The body ran to the end of the connection, as the response said it would.
            self._finish(b"".join(self._parts))
            return
        self._fail(ConnectionLost(self._got_bytes, exc))

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:
            # Bytes nobody asked for: the connection's framing can no longer be trusted.
            self.close()
            return
        self._got_bytes = True
        try:
            self._feed(self._buf + data if self._buf else data)
        except MalformedResponse as exc:
            self._fail(exc)
            self.abort()
            return
        if self._waiter is not None and self._read_timeout is not None:
            self._last_read = self._loop.time()

    # Not defined: eof_received. Returning None closes the transport, and connection_lost then
    # ends a read-until-close body or reports the loss.

    # -- parsing ----------------------------------------------------------------------------------

    def _feed(self, buf: bytes) -> None:
        while True:
            state = self._state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        raise MalformedResponse("response head too large")
                    self._buf = buf
                    return
                if end > MAX_HEAD_BYTES:
                    raise MalformedResponse("response head too large")
                self._head(buf[:end])
                buf = buf[end + 4:]
            elif state == _LENGTH:
                remaining = self._remaining
                if len(buf) < remaining:
                    if buf:
                        self._parts.append(buf)
                        self._remaining = remaining - len(buf)
                    self._buf = b""
                    return
                if self._parts:
                    self._parts.append(buf[:remaining])
                    body = b"".join(self._parts)
                else:
                    body = buf[:remaining] if len(buf) > remaining else buf
                self._complete(body, buf[remaining:])
                return
            elif state == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > MAX_CHUNK_LINE:
                        raise MalformedResponse("chunk size line too long")
                    self._buf = buf
                    return
                size_text = buf[:end].split(b";", 1)[0].strip()
                try:
                    if not size_text or size_text.startswith((b"-", b"+", b"0x", b"0X")):
                        raise ValueError
                    size = int(size_text, 16)
                except ValueError:
                    raise MalformedResponse(f"bad chunk size {buf[:min(end, 40)]!r}") from None
                buf = buf[end + 2:]
                if size == 0:
                    self._state = _TRAILERS
                    self._trailer_bytes = 0
                else:
                    self._remaining = size
                    self._state = _CHUNK_DATA
            elif state == _CHUNK_DATA:
                remaining = self._remaining
                if len(buf) <= remaining:
                    if buf:
                        self._parts.append(buf)
                    self._remaining = remaining - len(buf)
                    self._buf = b""
                    if self._remaining:
                        return
                    self._state = _CHUNK_END
                    return
                self._parts.append(buf[:remaining])
                buf = buf[remaining:]
                self._state = _CHUNK_END
            elif state == _CHUNK_END:
                if len(buf) < 2:
                    self._buf = buf
                    return
                if buf[:2] != b"\r\n":
                    raise MalformedResponse("chunk not followed by CRLF")
                buf = buf[2:]
                self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                end = buf.find(b"\r\n")
                if end < 0:
                    if self._trailer_bytes + len(buf) > MAX_HEAD_BYTES:
                        raise MalformedResponse("trailers too large")
                    self._buf = buf
                    return
                self._trailer_bytes += end + 2
                if self._trailer_bytes > MAX_HEAD_BYTES:
                    raise MalformedResponse("trailers too large")
                line, buf = buf[:end], buf[end + 2:]
                if not line:
                    # Trailer fields are read and dropped, as aiohttp does.
                    self._complete(b"".join(self._parts), buf)
                    return
                if b":" not in line:
                    raise MalformedResponse("malformed trailer line")
            elif state == _UNTIL_CLOSE:
                if buf:
                    self._parts.append(buf)
                self._buf = b""
                return
            else:  # _IDLE: more bytes after a complete response
                if buf:
                    self.close()
                return

    def _head(self, head: bytes) -> None:
        """The status line and headers of a response; sets up how its body is read."""
        lines = head.decode("utf-8", "surrogateescape").split("\r\n")
        status_line = lines[0]
        # "HTTP/1.1 200 OK": version, a space, three digits, then a space and a reason, or nothing.
        if (len(status_line) < 12 or not status_line.startswith("HTTP/1.") or status_line[8] != " "
                or status_line[7] not in "01" or not status_line[9:12].isdigit()
                or (len(status_line) > 12 and status_line[12] != " ")):
            raise MalformedResponse(f"malformed status line {status_line[:80]!r}")
        status = int(status_line[9:12])
        if status < 100:
            raise MalformedResponse(f"malformed status line {status_line[:80]!r}")
        if len(lines) > MAX_HEADERS + 1:
            raise MalformedResponse("too many response headers")
        fields = []
        length: int | None = None
        chunked = False
        keep_alive = status_line[7] == "1"  # HTTP/1.1 keeps alive by default, 1.0 does not
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name[0] in " \t" or name[-1] in " \t":
                # No colon, an empty name, obsolete line folding, space before the colon.
                raise MalformedResponse(f"malformed header line {line[:80]!r}")
            value = value.strip(" \t")
            fields.append((name, value))
            lowered = name.lower()
            if lowered == "content-length":
                if not value.isdigit() or not value.isascii() or (length is not None and int(value) != length):
                    raise MalformedResponse(f"bad Content-Length {value[:40]!r}")
                length = int(value)
            elif lowered == "transfer-encoding":
                if value.lower() != "chunked":
                    # Other transfer codings (gzip, chained ones) are not something an API sends.
                    raise MalformedResponse(f"unsupported Transfer-Encoding {value[:40]!r}")
                chunked = True
            elif lowered == "connection":
                tokens = value.lower()
                if "close" in tokens:
                    keep_alive = False
                elif "keep-alive" in tokens:
                    keep_alive = True
        if status < 200 and status != 101:
            # Interim answer (100 Continue, 103 Early Hints): the final one follows.
            self._interim += 1
            if self._interim > MAX_INTERIM:
                raise MalformedResponse("too many interim responses")
            return
        self._status = status
        self._headers = CIMultiDictProxy(CIMultiDict(fields))
        self._keep_alive = keep_alive and status != 101
        self._parts = []
        if self._head_only or status in _NO_BODY_STATUS or status == 101:
            self._state = _LENGTH
            self._remaining = 0
        elif chunked:
            # With both, chunked framing wins and the connection is not trusted after (RFC 9112 6.3).
            if length is not None:
                self._keep_alive = False
            self._state = _CHUNK_SIZE
        elif length is not None:
            self._state = _LENGTH
            self._remaining = length
        else:
            self._state = _UNTIL_CLOSE
            self._keep_alive = False

    def _complete(self, body: bytes, rest: bytes) -> None:
        self._buf = b""
        self._state = _IDLE
        # Bytes beyond the response (we never pipeline) mean the framing is off: not reused.
        self.reusable = self._keep_alive and not rest
        self._finish(body)
        if rest:
            self.close()

    def _finish(self, body: bytes) -> None:
        waiter, self._waiter = self._waiter, None
        self._state = _IDLE
        self._parts = []
        if waiter is not None and not waiter.done():
            waiter.set_result((self._status, self._headers, body))

    def _fail(self, exc: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        self._state = _IDLE
        self._buf = b""
        self._parts = []
        self.reusable = False
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    # -- the read timeout: one timer per connection, re-armed only when it fires ------------------

    def _arm(self, deadline: float) -> None:
        # A timer already due earlier will fire, find the exchange still alive and re-arm; a new
        # one is needed only when none is pending or the pending one is too late (a shorter
        # timeout than the previous request's). Saves a timer per request.
        timer = self._timer
        if timer is None or self._timer_at > deadline:
            if timer is not None:
                timer.cancel()
            self._timer_at = deadline
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._waiter is None or self._read_timeout is None:
            return
        deadline = self._last_read + self._read_timeout
        if self._loop.time() >= deadline:
            self._fail(ResponseTimeout(f"no response data for {self._read_timeout}s"))
            self.abort()
        else:
            self._arm(deadline)

    def __repr__(self) -> str:
        peer: Any = self.transport.get_extra_info("peername") if self.transport else None
        return f"<Http11Connection {peer} closed={self.closed}>"
