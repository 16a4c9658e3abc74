"""An API's answer as the transport hands it on (ApiResponse), and how any answer's numeric headers
and error body are read."""

from __future__ import annotations

import json as jsonlib
import math
from dataclasses import dataclass
from typing import Any

import httpx

from connector.errors import TransientApiError


@dataclass(slots=True)
class ApiResponse:
    """A 2xx answer, read whole: what ApiTransport.request returns."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    request: httpx.Request
    charset: str | None = None  # of the Content-Type header

    @property
    def text(self) -> str:
        return self.content.decode(self.charset or "utf-8", "replace")

    def json(self, **kwargs: Any) -> Any:
        return jsonlib.loads(self.content, **kwargs)

    def json_or_retry(self, api: str, path: str) -> Any:
        """The JSON body. A 2xx without JSON comes from something between us and the API (an HTML
        maintenance or proxy page), not from the request itself: TransientApiError, try again later."""
        try:
            return self.json()
        except ValueError:
            raise TransientApiError(
                "the answer is not JSON", api=api, method=self.request.method, path=path,
                status=self.status_code, body=self.text[:500],
            ) from None


def float_header(response: ApiResponse, name: str) -> float | None:
    """A numeric header of a pacer's (rate-limit counts, delays): None when absent or not a finite
    number. httpx header lookup is case-insensitive."""
    raw = response.headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def int_header(response: ApiResponse, name: str) -> int | None:
    value = float_header(response, name)
    return None if value is None else int(value)


def error_body(response: ApiResponse) -> object:
    try:
        return response.json()
    except (ValueError, LookupError):
        return response.content[:500].decode("utf-8", "replace")


def error_summary(response: ApiResponse) -> str:
    """A readable one-line reason from either API's error body (V2 array, V3 object, X-Series)."""
    body = error_body(response)
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


def credentials_message(api: str, status: int, response: ApiResponse) -> str:
    if status == 401:
        hint = "the access token is wrong, revoked or expired"
    else:
        hint = "the token lacks a required scope, or points at the wrong store"
    return f"{hint} ({error_summary(response)}); check the {api} credentials in the environment"
