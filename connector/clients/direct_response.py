"""The answer of a direct engine (DirectEngine.send), and what it says about its request.

Shared by both direct engines (connector.clients.aiohttp_transport, connector.clients.http11_engine)
so that ApiTransport and the clients read one type whichever engine answered.
"""

from __future__ import annotations

import codecs
import email.message
import json
from typing import Any

import httpx
import orjson
from multidict import CIMultiDictProxy


class SentRequest:
    """What a DirectResponse says about its request: `response.request.method` / `.url`, as the
    clients read them from an httpx.Response in their error messages."""

    __slots__ = ("method", "url")

    def __init__(self, method: str, url: str) -> None:
        self.method = method
        self.url = url

    def __repr__(self) -> str:
        return f"<SentRequest({self.method!r}, {self.url!r})>"


class DirectResponse:
    """The part of httpx.Response the connector uses, for an answer read without httpx.

    Deliberately small (slots, no lazy models): building an httpx.Response and its Headers was a
    good share of the CPU the direct path saves. `headers` is a case-insensitive CIMultiDictProxy
    (.get, [], in, getall; aiohttp's own, or the one the HTTP/1.1 engine builds); the body is
    already decoded from gzip/deflate.
    `json()` and `text` follow httpx: json.loads on the bytes, text in the Content-Type's charset
    or UTF-8, undecodable bytes replaced.
    """

    __slots__ = ("status_code", "headers", "content", "request", "_text")

    def __init__(self, status_code: int, headers: CIMultiDictProxy[str], content: bytes,
                 request: SentRequest) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.request = request
        self._text: str | None = None

    def json(self, **kwargs: Any) -> Any:
        if not kwargs and self.content.translate(_DIGITS_AS_ZERO).find(_LONG_RUN) < 0:
            # orjson parses an import's order pages and sale answers in a third of the time. It
            # refuses a few things the standard library accepts (NaN, UTF-16) and turns integers
            # beyond 64 bits into floats, so such bodies are left to json.loads: what parses, and
            # into what, is unchanged.
            try:
                return orjson.loads(self.content)
            except orjson.JSONDecodeError:
                pass
        return json.loads(self.content, **kwargs)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.content.decode(_charset(self.headers.get("Content-Type")), "replace")
        return self._text

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def __repr__(self) -> str:
        return f"<DirectResponse [{self.status_code}]>"


# 19 digits in a row: possibly an integer beyond 64 bits (a quoted string of digits matches too,
# harmlessly: it only sends that body to json.loads). Found by mapping every digit to "0" and
# everything else to " ", then one substring search: a regular expression took as long as the
# parse itself on a 1.4 MB page of orders; this takes a tenth of it.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


def _charset(content_type: str | None) -> str:
    """The charset a Content-Type declares if Python knows it, else UTF-8 (httpx's rule)."""
    if not content_type or "charset" not in content_type.lower():
        return "utf-8"
    message = email.message.Message()
    message["content-type"] = content_type
    charset = message.get_content_charset(failobj=None)
    if charset:
        try:
            codecs.lookup(charset)
            return charset
        except LookupError:
            pass
    return "utf-8"


def failed_request(method: str, url: str) -> httpx.Request:
    """The httpx.Request an httpx exception must carry; built only when something failed."""
    try:
        return httpx.Request(method, url)
    except httpx.InvalidURL:
        return httpx.Request(method, "http://invalid.invalid/")
