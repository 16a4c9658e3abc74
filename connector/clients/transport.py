"""The one HTTP transport both API clients stand on, over httpx.AsyncClient.

It owns, for every call of an API: the base URL and auth headers, rate-limit pacing (a RatePacer
per API, shared by all calls so concurrent requests respect one quota), jittered exponential
retries, limits on what an answer may cost (size, time), and the mapping of HTTP failures to the
error types in connector.errors. Clients above it only build paths and parse bodies.

Retry rules, the part that decides whether an order can be duplicated:
- reads, and writes the caller marks safe_to_repeat, are retried on 429, 5xx and connection errors;
- any request is retried when it provably never reached the server (connect error / connect
  timeout) or was refused with 429 (the server did not apply it);
- a write that is not safe to repeat and whose outcome is unknown (timeout, connection lost or an
  answer cut off after sending, a 5xx or a 3xx answer) raises UnknownWriteOutcome, never retried;
- 401/403 raise CredentialsError at once; a 3xx is never read as a success.

Requests go out on httpx's own transport: proxies and CAs come from the environment the way httpx
documents (HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE). Tests inject the simulators' ASGI transport.
"""

from __future__ import annotations
import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Self

import httpx

from connector import USER_AGENT
from connector.clients.api_response import ApiResponse, credentials_message, error_body, error_summary
from connector.clients.pacing import RatePacer, RetryPolicy
from connector.clock import SYSTEM_CLOCK, Clock
from connector.errors import (
    ApiError,
    CredentialsError,
    NotFoundError,
    PermanentApiError,
    TransientApiError,
    UnknownWriteOutcome,
)

log = logging.getLogger("connector.http")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# No answer of either API comes near this (an order page of 250 orders is about 2 MiB); a larger
# one is a misbehaving server or a proxy's error page, and would only cost memory.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# Connections per API. The quotas allow a few requests a second (X-Series ~1.2 per register):
# four keep them busy (at 0.3 s a call, 13 calls a second, ten registers' worth). More only cost
# CPU: httpcore's pool scans its connections about n² times per request (a quarter of the
# import's CPU with httpx's default of 100).
MAX_CONNECTIONS = 4
_JSON_CONTENT_TYPE = {"Content-Type": "application/json"}


@dataclass
class TransportStats:
    """Counts a benchmark or a test can read: requests sent, 429s, retries."""

    total: int = 0
    rate_limited: int = 0
    retries: int = 0
    by_status: Counter = field(default_factory=Counter)  # answers by HTTP status (order_sync_api_requests)


class _TooLarge(Exception):
    pass


# Errors raised by httpx before any byte of the request reached the server: always safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Errors after the request may have been received: the outcome of a write is unknown. TimeoutError
# is the per-attempt deadline (a server trickling its answer a byte at a time).
_MAYBE_SENT = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    TimeoutError,
)


class ApiTransport:
    def __init__(
        self,
        *,
        api: str,
        base_url: str,
        headers: dict[str, str],
        pacer: RatePacer | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        http_transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        deadline: float | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.api = api
        self.pacer = pacer or RatePacer(clock)
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.stats = TransportStats()
        # timeout bounds each phase (connect, each read, each write); the deadline bounds the
        # whole attempt, which the phase timeouts alone do not: a byte every 29 s resets them.
        self.deadline = deadline if deadline is not None else 4 * timeout
        self.max_response_bytes = max_response_bytes
        # transport=None: httpx builds its own AsyncHTTPTransport, with the environment's proxies
        # and CA bundle (trust_env). Redirects are not followed: an API never redirects a call.
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT, **headers},
            transport=http_transport,
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
        )
        self.host = self.client.base_url.host

    async def aclose(self) -> None:
        await self.client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        json_bytes: bytes | None = None,
        safe_to_repeat: bool | None = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> ApiResponse:
        """Send one logical request, retrying as the module docstring says. Returns a 2xx answer.

        The JSON body is either `json` (a value, encoded here) or `json_bytes` (already encoded:
        the clients' write models serialize themselves). `before_send` runs before every attempt,
        the first included, after the pacer granted it its slot and after any backoff: no wait of
        this transport lies between it and the request going out. What it raises ends the request
        (a write whose ground may have moved, e.g. an order status under Order Protection); requests
        it makes itself wait their own turn, before it returns."""
        method = method.upper()
        repeatable = method in SAFE_METHODS if safe_to_repeat is None else safe_to_repeat
        if json is not None and json_bytes is not None:
            raise ValueError("give the body as json or as json_bytes, not both")
        request = self.client.build_request(
            method, path, params=params, json=json, content=json_bytes,
            headers=_JSON_CONTENT_TYPE if json_bytes is not None else None,
        )
        where = {"api": self.api, "method": method, "path": path}
        # What a failure is when a write may have been applied: its outcome is unknown.
        unsure: type[ApiError] = PermanentApiError if repeatable else UnknownWriteOutcome
        attempt = rate_limit_waits = 0
        while True:
            attempt += 1
            await self.pacer.before_request()
            if before_send is not None:
                try:
                    await before_send()
                except BaseException:
                    self.pacer.not_sent()  # the slot it was granted stays unused
                    raise
            self.stats.total += 1
            try:
                response = await self._attempt(request)
            except _TooLarge as exc:
                raise unsure(str(exc), **where) from exc
            except (*_NOT_SENT, *_MAYBE_SENT) as exc:
                sent = not isinstance(exc, _NOT_SENT)
                if sent and not repeatable:
                    raise UnknownWriteOutcome(
                        f"no complete answer from {self.host} to a write that is not safe to repeat"
                        f" ({_describe(exc)}); look the object up before writing again", **where,
                    ) from exc
                if attempt < self.retry.max_attempts:
                    await self._backoff(attempt, method, path, type(exc).__name__ + ("" if sent else " (not sent)"))
                    continue
                failure = "no complete answer from" if sent else "could not connect to"
                raise TransientApiError(
                    f"{failure} {self.host} after {attempt} attempts: {_describe(exc)}", **where,
                ) from exc

            self.pacer.after_response(response)
            status = response.status_code
            self.stats.by_status[status] += 1
            log.debug("%s %s %s -> %s (attempt %d)", self.api, method, path, status, attempt)
            if 200 <= status < 300:
                return response
            if 300 <= status < 400:
                # Never a success: the body is not the API's answer. A write that was redirected
                # may still have been applied (303 See Other), so its outcome is unknown.
                location = response.headers.get("Location", "?")
                raise unsure(f"{self.host} answered {status} redirecting to {location}; check the api_url"
                             " in the configuration", **where, status=status)

            answer = {**where, "status": status, "body": error_body(response)}
            if status == 429:
                self.stats.rate_limited += 1
                rate_limit_waits += 1
                wait = self.pacer.on_rate_limited(response)
                if rate_limit_waits > self.retry.max_rate_limit_waits:
                    raise TransientApiError(f"still rate limited after {rate_limit_waits} waits", **answer)
                # A 429 means the server did not apply the request: retrying is safe for writes too.
                if wait is None:
                    await self._backoff(rate_limit_waits, method, path, "429 without headers")
                else:
                    self.stats.retries += 1
                    log.info("%s rate limited: waiting %.2fs", self.api, wait)
                    await self.clock.sleep(wait)
                attempt -= 1  # waiting out a quota is not a failed attempt
                continue

            if status in (401, 403):
                raise CredentialsError(credentials_message(self.api, status, response), **answer)
            if status >= 500:
                if not repeatable:
                    raise UnknownWriteOutcome(
                        f"server error {status} on a write that is not safe to repeat;"
                        " look the object up before writing again", **answer,
                    )
                if attempt < self.retry.max_attempts:
                    await self._backoff(attempt, method, path, f"HTTP {status}")
                    continue
                raise TransientApiError(f"server error after {attempt} attempts: {error_summary(response)}", **answer)
            raise (NotFoundError if status == 404 else PermanentApiError)(error_summary(response), **answer)

    async def _attempt(self, request: httpx.Request) -> ApiResponse:
        """One exchange, read whole within the deadline and the size cap."""
        async with asyncio.timeout(self.deadline):
            response = await self.client.send(request, stream=True)
            try:
                content = await self._read(response)
            finally:
                await response.aclose()
        return ApiResponse(response.status_code, response.headers, content, request, response.charset_encoding)

    async def _read(self, response: httpx.Response) -> bytes:
        """The body as decoded, refused as soon as it passes the cap (a gzip bomb included: the
        count is of decoded bytes), never buffered beyond it."""
        limit = self.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and len(declared) < 20 and int(declared) > limit:
            raise _TooLarge(f"{self.host} announced an answer of {declared} bytes; the limit is {limit}")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise _TooLarge(f"the answer from {self.host} passed the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _backoff(self, attempt: int, method: str, path: str, why: str) -> None:
        delay = self.retry.backoff(attempt)
        self.stats.retries += 1
        log.info("%s %s %s: %s; retry %d in %.2fs", self.api, method, path, why, attempt, delay)
        await self.clock.sleep(delay)


class TransportClient:
    """What both API clients share: closing their transport, by aclose() or `async with`."""

    transport: ApiTransport

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, TimeoutError):
        text = "the attempt's deadline passed"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
