"""Keep-alive connections of the HTTP/1.1 engine: the idle ones per origin, and the limit on all.

Why these rules (the aiohttp engine's, whose module docstring explains them): at most
`max_connections` requests in flight per engine, waiting for a free slot counting against the
pool timeout (never sent: ConnectTimeout); idle connections closed after 4 s, before the usual
server idle timeouts (uvicorn: 5 s), so the client closes first and the stale keep-alive race
stays rare; a connection the loop has seen closed, or idle past its time, is never handed out.

Idle connections are a stack: the most recently used goes out first (warm, and the least likely
to have been closed by the server), so the oldest sit at the bottom, where one timer per origin
closes them as they expire. A request costs two deque operations and no timer.
"""

from __future__ import annotations

import asyncio
from collections import deque

from connector.clients.http11_connection import Http11Connection


class Origin:
    """One (scheme, host, port): where to connect, the Host header, and its idle connections."""

    __slots__ = ("scheme", "host", "port", "host_header", "tls", "proxy", "idle", "open",
                 "_keepalive", "_sweeper")

    def __init__(self, scheme: str, host: str, port: int, host_header: str, proxy: str | None,
                 keepalive_seconds: float) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.host_header = host_header
        self.tls = scheme == "https"
        self.proxy = proxy
        self.idle: deque[Http11Connection] = deque()
        self.open: set[Http11Connection] = set()  # every live connection, idle or busy
        self._keepalive = keepalive_seconds
        self._sweeper: asyncio.TimerHandle | None = None

    def take_idle(self, now: float) -> Http11Connection | None:
        """The most recently used idle connection that is still good, or None."""
        idle = self.idle
        oldest_allowed = now - self._keepalive
        while idle:
            conn = idle.pop()
            if conn.is_usable() and conn.idle_since > oldest_allowed:
                return conn
            conn.close()  # seen closed by the loop, or expired while the sweeper was late
        return None

    def put_idle(self, conn: Http11Connection, loop: asyncio.AbstractEventLoop) -> None:
        conn.idle_since = now = loop.time()
        self.idle.append(conn)
        if self._sweeper is None:
            self._sweeper = loop.call_at(now + self._keepalive, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweeper = None
        idle = self.idle
        now = loop.time()
        while idle and (idle[0].idle_since + self._keepalive <= now or not idle[0].is_usable()):
            idle.popleft().close()
        if idle:
            self._sweeper = loop.call_at(idle[0].idle_since + self._keepalive, self._sweep, loop)

    def close_all(self) -> list[Http11Connection]:
        """Close every connection (idle or busy); returns them so the caller can wait for them."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self.idle.clear()
        conns = list(self.open)
        for conn in conns:
            conn.close()
        return conns


class Slots:
    """At most `limit` requests hold a connection at once; the others wait in arrival order."""

    __slots__ = ("limit", "in_use", "_waiters")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._waiters: deque[asyncio.Future] = deque()

    def try_acquire(self) -> bool:
        if self.in_use < self.limit and not self._waiters:
            self.in_use += 1
            return True
        return False

    async def acquire(self, loop: asyncio.AbstractEventLoop, timeout: float | None) -> None:
        """Wait for a slot; TimeoutError after `timeout` seconds (the pool timeout)."""
        waiter = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a slot, then cancelled before we could use it: give it on.
                self.release()
            else:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to the next in line
                return
        self.in_use -= 1


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
