"""The one HTTP transport both API clients stand on.

It owns, for every call of an API: the base URL and auth headers, rate-limit pacing (a RatePacer
per API, shared by all calls so concurrent requests respect one quota), jittered exponential
retries, and the mapping of HTTP failures to the error types in connector.errors. Clients above it
only build paths and parse bodies.

Retry rules, the part that decides whether an order can be duplicated:
- reads, and writes the caller marks safe_to_repeat, are retried on 429, 5xx and connection errors;
- any request is retried when it provably never reached the server (connect error / connect
  timeout) or was refused with 429 (the server did not apply it);
- a write that is not safe to repeat and whose outcome is unknown (timeout or connection lost after
  sending, or a 5xx answer) raises UnknownWriteOutcome and is never retried here;
- 401/403 raise CredentialsError at once.

Two ways to the wire. Given a direct engine (connector.clients.direct_engine.DirectEngine: the
HTTP/1.1 engine of connector.clients.http11_engine in production, or the aiohttp one), requests
skip httpx: the URL, query string, JSON body and headers are built here, byte for byte what httpx
would have sent, and the engine answers with a light DirectResponse. httpx's models were more than
half of the client CPU per request, against a budget of 1 ms per order. Given any other engine
(httpx's own, the simulators' ASGI transport, respx), requests go through an httpx.AsyncClient as
always. All raise the same httpx exception types, so the rules above are applied identically;
callers read either response through the ApiResponse protocol.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from multidict import CIMultiDict

from connector import USER_AGENT
from connector.clients.direct_engine import DirectEngine
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


class ResponseHeaders(Protocol):
    """Case-insensitive response headers: httpx.Headers, or aiohttp's CIMultiDictProxy."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def __getitem__(self, key: str) -> str: ...

    def __contains__(self, key: object) -> bool: ...


class SentRequestInfo(Protocol):
    @property
    def method(self) -> str: ...


class ApiResponse(Protocol):
    """What ApiTransport.request returns and callers may use: httpx.Response on the httpx path,
    connector.clients.direct_response.DirectResponse on the direct one. Nothing else of
    httpx.Response is guaranteed."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> ResponseHeaders: ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    @property
    def request(self) -> SentRequestInfo: ...

    def json(self, **kwargs: Any) -> Any: ...


class RatePacer(Protocol):
    """Per-API pacing from the API's own rate-limit headers."""

    async def before_request(self) -> None:
        """Wait, if needed, so that the next request does not spend a quota that is gone."""

    def after_response(self, response: ApiResponse) -> None:
        """Learn the quota's state from a response's headers."""

    def on_rate_limited(self, response: ApiResponse) -> float | None:
        """A 429 arrived: block every caller until the reset; return the wait in seconds, or None
        when the response says nothing (platform load: the caller backs off exponentially)."""


class NoPacing:
    async def before_request(self) -> None:
        return None

    def after_response(self, response: ApiResponse) -> None:
        return None

    def on_rate_limited(self, response: ApiResponse) -> float | None:
        return None


@dataclass
class RetryPolicy:
    """Jittered ("full jitter") exponential backoff. Seeded, so tests are deterministic."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    # 429s are waited out from the headers rather than guessed; allow more of them.
    max_rate_limit_waits: int = 20
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def backoff(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self._rng.uniform(ceiling / 2, ceiling)


@dataclass
class TransportStats:
    """Counts a benchmark or a test can read: requests by method and path family, 429s, retries."""

    requests: Counter = field(default_factory=Counter)
    rate_limited: int = 0
    retries: int = 0

    @property
    def total(self) -> int:
        return sum(self.requests.values())


# Errors raised by httpx before any byte of the request reached the server: always safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Errors after the request may have been received: the outcome of a write is unknown.
_MAYBE_SENT = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)

# What httpx.AsyncClient puts on every request before the client's own headers override them.
# Accept-Encoding is what httpx advertises without the optional brotli/zstandard packages, and what
# both direct engines decode with the standard library.
_HTTPX_BASE_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
}
_JSON_CONTENT_TYPE = {"Content-Type": "application/json"}
# A path httpx appends to the base URL unchanged: rooted (but not '//', which httpx reads as a
# host), made only of characters it leaves as they are (RFC 3986 unreserved + sub-delims, ':',
# '@', '/'; so no '%', '?', '#'). Dot segments are excluded separately (see _url).
_PLAIN_PATH = re.compile(r"/(?!/)[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")


class _NeverSends(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError("the URL factory of the direct path never sends")


_NEVER_SENDS = _NeverSends()


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
        http_transport: httpx.AsyncBaseTransport | DirectEngine | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.api = api
        self.pacer = pacer or NoPacing()
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.stats = TransportStats()
        all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **headers}
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._direct: DirectEngine | None = None
        if isinstance(http_transport, DirectEngine):
            self._direct = http_transport
            # Never sends anything (nor is closed): builds the URLs of unusual paths (see _url)
            # exactly as httpx would. Given a dummy engine so that httpx creates no pool of its own.
            self._url_factory = httpx.AsyncClient(
                base_url=base_url.rstrip("/"), transport=_NEVER_SENDS, trust_env=False,
            )
            # The base URL as httpx normalises it (host case, default port, trailing '/').
            base = self._url_factory.base_url
            # The fast path appends paths to this string; a base URL with a query is left to httpx.
            self._base_prefix: str | None = (
                str(base.copy_with(raw_path=base.raw_path))
                if not base.query and not base.fragment and base.raw_path.endswith(b"/") else None
            )
            # The headers httpx would send (its defaults, overridden by ours), built once.
            merged = CIMultiDict(_HTTPX_BASE_HEADERS)
            for name, value in all_headers.items():
                merged[name] = value
            self._headers = merged
            self._json_headers = CIMultiDict(merged)
            self._json_headers.update(_JSON_CONTENT_TYPE)
        else:
            self._client = httpx.AsyncClient(
                base_url=base_url.rstrip("/"),
                headers=all_headers,
                transport=http_transport,
                timeout=timeout,
            )

    @property
    def engine(self) -> httpx.AsyncBaseTransport | DirectEngine:
        """The engine requests go out on: a direct one, or the httpx client's."""
        if self._direct is not None:
            return self._direct
        assert self._client is not None
        return self._client._transport

    async def aclose(self) -> None:
        if self._direct is not None:
            await self._direct.aclose()
        else:
            assert self._client is not None
            await self._client.aclose()

    async def __aenter__(self) -> "ApiTransport":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        json_bytes: bytes | None = None,
        safe_to_repeat: bool | None = None,
    ) -> ApiResponse:
        """Send one logical request, retrying as the module docstring says. Returns a 2xx response.

        The JSON body is either `json` (a value, encoded here) or `json_bytes`, a document the caller
        already encoded: a sale is serialized once for both its binding and its request (issue 6)."""
        method = method.upper()
        repeatable = method in SAFE_METHODS if safe_to_repeat is None else safe_to_repeat
        if json is not None and json_bytes is not None:
            raise ValueError("give the body as json or as json_bytes, not both")
        direct = self._direct
        if direct is not None:
            # Encoded once for all attempts; httpx would encode the same bytes on every attempt.
            url = self._url(path, params)
            if json_bytes is not None:
                body, headers = json_bytes, self._json_headers
            elif json is None:
                body, headers = None, self._headers
            else:
                body = jsonlib.dumps(
                    json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
                ).encode("utf-8")
                headers = self._json_headers
        attempt = 0
        rate_limit_waits = 0
        while True:
            attempt += 1
            await self.pacer.before_request()
            self.stats.requests[f"{method} {_family(path)}"] += 1
            try:
                if direct is not None:
                    response: ApiResponse = await direct.send(method, url, body, headers, self._timeout)
                else:
                    assert self._client is not None
                    if json_bytes is not None:
                        response = await self._client.request(
                            method, path, params=params, content=json_bytes, headers=_JSON_CONTENT_TYPE)
                    else:
                        response = await self._client.request(method, path, params=params, json=json)
            except _NOT_SENT as exc:
                error = exc
                if attempt < self.retry.max_attempts:
                    await self._backoff(attempt, method, path, f"{type(exc).__name__} (not sent)")
                    continue
                raise TransientApiError(
                    f"connection failed after {attempt} attempts: {type(error).__name__}",
                    api=self.api, method=method, path=path,
                ) from exc
            except _MAYBE_SENT as exc:
                if not repeatable:
                    raise UnknownWriteOutcome(
                        f"no answer to a write that is not safe to repeat ({type(exc).__name__});"
                        " look the object up before writing again",
                        api=self.api, method=method, path=path,
                    ) from exc
                if attempt < self.retry.max_attempts:
                    await self._backoff(attempt, method, path, type(exc).__name__)
                    continue
                raise TransientApiError(
                    f"no answer after {attempt} attempts: {type(exc).__name__}",
                    api=self.api, method=method, path=path,
                ) from exc

            self.pacer.after_response(response)
            status = response.status_code
            log.debug("%s %s %s -> %s (attempt %d)", self.api, method, path, status, attempt)
            if status < 400:
                return response

            if status == 429:
                self.stats.rate_limited += 1
                rate_limit_waits += 1
                wait = self.pacer.on_rate_limited(response)
                if rate_limit_waits > self.retry.max_rate_limit_waits:
                    raise TransientApiError(
                        f"still rate limited after {rate_limit_waits} waits",
                        api=self.api, method=method, path=path, status=status, body=_body(response),
                    )
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
                raise CredentialsError(
                    _credentials_message(self.api, status, response),
                    api=self.api, method=method, path=path, status=status, body=_body(response),
                )
            if status >= 500:
                if not repeatable:
                    raise UnknownWriteOutcome(
                        f"server error {status} on a write that is not safe to repeat;"
                        " look the object up before writing again",
                        api=self.api, method=method, path=path, status=status, body=_body(response),
                    )
                if attempt < self.retry.max_attempts:
                    await self._backoff(attempt, method, path, f"HTTP {status}")
                    continue
                raise TransientApiError(
                    f"server error after {attempt} attempts: {_summary(response)}",
                    api=self.api, method=method, path=path, status=status, body=_body(response),
                )
            error_type: type[ApiError] = NotFoundError if status == 404 else PermanentApiError
            raise error_type(
                _summary(response), api=self.api, method=method, path=path, status=status,
                body=_body(response),
            )

    def _url(self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None) -> str:
        """The URL httpx.AsyncClient(base_url=...).request(path, params=...) would send to."""
        if (self._base_prefix is not None and _PLAIN_PATH.fullmatch(path)
                and "/." not in path):
            url = self._base_prefix + path.lstrip("/")
            if params is None:
                return url
            query = encode_query(params)
            return url if query is None else f"{url}?{query}"
        # Anything unusual (escapes to normalise, dot segments, a query already in the path, an
        # absolute URL): httpx builds it, as its client would have.
        return str(self._url_factory.build_request("GET", path, params=params).url)

    async def _backoff(self, attempt: int, method: str, path: str, why: str) -> None:
        delay = self.retry.backoff(attempt)
        self.stats.retries += 1
        log.info("%s %s %s: %s; retry %d in %.2fs", self.api, method, path, why, attempt, delay)
        await self.clock.sleep(delay)


def encode_query(params: Mapping[str, Any] | list[tuple[str, Any]] | tuple) -> str | None:
    """The query string httpx.QueryParams(params) encodes to; None when httpx would send no '?'.

    httpx's rules, kept here so that both ways to the wire send the same bytes: items are grouped
    by name in first-seen order (a list [("a", 1), ("b", 2), ("a", 3)] goes out as a=1&a=3&b=2);
    in a mapping a list or tuple value is repeated; True/False/None become "true"/"false"/"";
    everything is then percent-encoded by urllib's urlencode (space as '+', and '+' - a UTC
    offset's - as %2B, so that it is not read as a space).
    """
    if isinstance(params, (list, tuple)):
        by_key: dict[Any, list[Any]] = {}
        for item in params:
            by_key.setdefault(item[0], []).append(item[1])
    elif isinstance(params, Mapping) and not isinstance(params, httpx.QueryParams):
        by_key = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in params.items()}
    else:  # a query string or QueryParams: not what the clients pass, but httpx takes them
        parsed = httpx.QueryParams(params)
        return str(parsed) if parsed else None
    grouped = {str(k): [_primitive(v) for v in values] for k, values in by_key.items()}
    if not grouped:
        return None
    return urlencode([(key, value) for key, values in grouped.items() for value in values])


def _primitive(value: Any) -> str:
    # httpx's primitive_value_to_str.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def _family(path: str) -> str:
    """'/v2/orders/123' → '/v2/orders/{id}': request counts grouped by endpoint, not by object."""
    parts = [("{id}" if p.isdigit() or _looks_like_uuid(p) else p) for p in path.split("?")[0].split("/")]
    return "/".join(parts)


def _looks_like_uuid(part: str) -> bool:
    return len(part) == 36 and part.count("-") == 4


def _body(response: ApiResponse) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def _summary(response: ApiResponse) -> str:
    """A readable one-line reason from either API's error body (V2 array, V3 object, X-Series)."""
    body = _body(response)
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return "; ".join(str(item.get("message", item)) for item in body)
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("title", "error", "message") if body.get(k)]
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            parts.append(", ".join(f"{k}: {v}" for k, v in errors.items()))
        elif isinstance(errors, list) and errors:
            parts.append(", ".join(str(e) for e in errors))
        if parts:
            return " - ".join(parts)
    text = str(body).strip()
    if text.lstrip().startswith("<"):
        return f"HTTP {response.status_code} with an HTML page instead of JSON"
    return text[:200] or f"HTTP {response.status_code}"


def _credentials_message(api: str, status: int, response: ApiResponse) -> str:
    if status == 401:
        hint = "the access token is wrong, revoked or expired"
    else:
        hint = "the token lacks a required scope, or points at the wrong store"
    return f"{hint} ({_summary(response)}); check the {api} credentials in the environment"
