"""The APIs' money and dates, parsed at the boundary: money is always Decimal ("62.6793"), dates
aware UTC (BigCommerce V2 sends RFC-2822, V3 and X-Series ISO-8601). Nothing past the clients ever
sees a money string or a naive datetime.
"""

from __future__ import annotations

import email.utils
import re
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def whole_number(value: object) -> int | None:
    """A count an API gives as a JSON integer, or as the same whole number in a float or a string (an
    independent server may send either); None when absent or not a whole number."""
    try:
        number = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
    except ValueError:
        return None
    return int(number) if number is not None and number.is_integer() else None


def parse_money(value: object) -> Decimal:
    """A money value from an API ("12.5000", 12.5, 12) as Decimal; raises ValueError otherwise.
    Thousands separators ("1,234.00") and other decorations are rejected rather than guessed at."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError(f"not a money value: {value!r}")
    try:
        # Decimal() ignores surrounding whitespace; floats go through str() (0.1 stays 0.1).
        result = Decimal(str(value) if isinstance(value, float) else value)
    except InvalidOperation:
        if not value.strip():
            raise ValueError("empty money value") from None
        raise ValueError(f"not a money value: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a money value: {value!r}")
    return result


def money_str(value: Decimal, places: int = 4) -> str:
    """Decimal → the fixed-point string BigCommerce uses ("12.5000")."""
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# BigCommerce's own form of RFC 2822, read in a tenth of email.utils' time (three per order); any
# other form goes to email.utils.
_RFC2822_CANONICAL = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)
_DAY = timedelta(days=1)
_MONTHS = {name: number for number, name in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def parse_rfc2822(value: str) -> datetime:
    """'Tue, 05 Mar 2019 21:40:11 +0000' → aware UTC datetime. Raises ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not an RFC-2822 date: {value!r}")
    match = _RFC2822_CANONICAL.fullmatch(value)
    if match is not None:
        day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
        try:
            local = datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second),
                             tzinfo=timezone.utc)
        except ValueError:
            pass  # out of range (31 Feb, hour 24…): email.utils decides, as it always did
        else:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            if offset < _DAY:  # a day or more is no offset: email.utils refuses it
                try:
                    return local - offset if sign == "+" else local + offset
                except OverflowError:  # the calendar's edge (year 1 or 9999) pushed past it
                    raise ValueError(f"not an RFC-2822 date: {value!r}") from None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"not an RFC-2822 date: {value!r}") from None
    if parsed is None:
        raise ValueError(f"not an RFC-2822 date: {value!r}")
    if parsed.tzinfo is None:
        # RFC 2822 "-0000" means "UTC, origin unknown"; email.utils returns it naive.
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"not an RFC-2822 date: {value!r}") from None


def http_date(values: list[str]) -> datetime | None:
    """An answer's Date header (RFC 9110 IMF-fixdate, a form of RFC 2822), aware UTC; None when
    absent or unreadable. The first, should a proxy have added a second one."""
    try:
        return parse_rfc2822(values[0]) if values else None
    except ValueError:
        return None


def parse_iso8601(value: str) -> datetime:
    """ISO-8601 with offset (or Z) → aware UTC. A value without offset is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not an ISO-8601 date: {value!r}")
    text = value.strip()
    if text.endswith("z"):  # RFC 3339 (OpenAPI's date-time) allows a lower-case "z"; Python does not
        text = text[:-1] + "Z"
    try:
        parsed = datetime.fromisoformat(text)  # "Z" included, since Python 3.11
    except ValueError:
        raise ValueError(f"not an ISO-8601 date: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_any_date(value: str) -> datetime:
    """RFC-2822 or ISO-8601 (BigCommerce's filters accept both)."""
    try:
        return parse_iso8601(value)
    except ValueError:
        return parse_rfc2822(value)


def to_rfc2822(value: datetime) -> str:
    """Aware datetime → 'Tue, 05 Mar 2019 21:40:11 +0000' (always UTC)."""
    return email.utils.format_datetime(as_utc(value)).replace("-0000", "+0000")


def to_iso8601(value: datetime) -> str:
    """Aware datetime → '2019-03-05T21:40:11+00:00' (explicit offset, as BigCommerce asks)."""
    return as_utc(value).isoformat(timespec="seconds")


def to_http_date(value: datetime) -> str:
    """Aware datetime → RFC 1123 HTTP-date ('Wed, 15 Jul 2020 15:04:05 GMT')."""
    return email.utils.format_datetime(as_utc(value), usegmt=True)


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: every date in order-sync must carry a timezone")
    return value.astimezone(timezone.utc)
