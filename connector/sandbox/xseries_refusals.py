"""What the X-Series simulator answers with an error, and the body fields it refuses when malformed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.values import parse_iso8601


class SimHttpError(Exception):
    """Raised by a handler to answer with this status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message") or body.get("error"))
        self.status = status
        self.body = body


def _refusal(status: int, error: str) -> Callable[[str], SimHttpError]:
    return lambda message: SimHttpError(status, {"error": error, "message": message})


bad_request = _refusal(400, "Bad Request")
unprocessable = _refusal(422, "Unprocessable Entity")
not_found = _refusal(404, "Not Found")


def parse_number(value: Any, field: str, error: Callable[[str], SimHttpError] = bad_request, *,
                 strings: bool = False) -> Decimal:
    """A JSON number as Decimal (through str(), so 0.1 stays 0.1). Strings are refused on purpose
    unless `strings` (the 0.9 product body): the APIs take numbers (reference §3), so a client
    sending "12.50" is caught here, not live."""
    if isinstance(value, bool) or not isinstance(value, (int, float, *((str,) if strings else ()))):
        raise error(f"{field} must be a number")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise error(f"{field} must be a number") from None
    if not result.is_finite():
        raise error(f"{field} must be a finite number")
    return result


def parse_date(value: Any, field: str, default: datetime) -> datetime:
    """0.9 "2016-05-05 23:35:34" (UTC) or RFC 3339; None/absent → default (the server uses now)."""
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise bad_request(f"{field} must be a date string")
    try:
        return parse_iso8601(value)
    except ValueError:
        raise bad_request(f"{field} is not a valid date: {value!r}") from None


def optional_str(body: dict[str, Any], key: str, error: Callable[[str], SimHttpError] = bad_request) -> str | None:
    """A string field; absent or "" is None."""
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise error(f"{key} must be a string")
    return value
