"""Money and dates at the API boundary: Decimal and aware UTC, or a clear refusal."""

import email.utils
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.values import http_date, parse_money, parse_rfc2822


@pytest.mark.parametrize("raw, expected", [
    ("62.6793", Decimal("62.6793")), (" 12.50 ", Decimal("12.50")), ("0", Decimal(0)), ("-3.10", Decimal("-3.10")),
    (12.5, Decimal("12.5")), (0.1, Decimal("0.1")), (7, Decimal(7)), (Decimal("1.25"), Decimal("1.25")),
])
def test_money_values_become_decimals(raw, expected):
    value = parse_money(raw)
    assert isinstance(value, Decimal) and value == expected and str(value) == str(expected)


@pytest.mark.parametrize("raw, message", [
    ("", "empty"), ("   ", "empty"), ("1,234.00", "not a money value"), ("$5", "not a money value"),
    ("NaN", "not a money value"), ("Infinity", "not a money value"), (float("nan"), "not a money value"),
    (True, "not a money value"), (None, "not a money value"), ([1], "not a money value"),
])
def test_anything_else_is_refused_by_name(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_money(raw)


# -- RFC 2822: the canonical fast path reads exactly what email.utils reads -------------------

def _reference(value: str) -> datetime:
    """What parse_rfc2822 answered before its fast path: email.utils, made aware UTC."""
    parsed = email.utils.parsedate_to_datetime(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _outcome(fn, value):
    try:
        return ("ok", fn(value))
    except (TypeError, ValueError, IndexError):
        return ("error", None)


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(
    moment=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31)),
    sign=st.sampled_from("+-"),
    hours=st.integers(0, 30),
    minutes=st.integers(0, 99),
    two_digit_day=st.booleans(),
)
def test_canonical_dates_read_as_email_utils_reads_them(moment, sign, hours, minutes, two_digit_day) -> None:
    day = f"{moment.day:02d}" if two_digit_day else str(moment.day)
    value = moment.strftime(f"%a, {day} %b %Y %H:%M:%S ") + f"{sign}{hours:02d}{minutes:02d}"
    assert _outcome(parse_rfc2822, value) == _outcome(_reference, value)


@pytest.mark.parametrize("value", [
    "Tue, 05 Mar 2019 21:40:11 +0000", "Tue, 5 Mar 2019 21:40:11 -0530", "Tue, 05 Mar 2019 21:40:11 -0000",
    "Mon, 29 Feb 2021 10:00:00 +0000", "Mon, 01 Jan 2024 24:00:00 +0000", "Mon, 01 Jan 2024 23:59:60 +0000",
    "Mon, 01 Jan 2024 10:00:00 +2400", "Mon, 01 Jan 2024 10:00:00 +2359", "Fri, 01 Jan 2027 10:00:00 GMT",
    "01 Jan 2024 10:00:00 +0100", "Mon,  1 Jan 2024 10:00:00 +0100", "Mon, 01 Jan 24 10:00:00 +0100",
    "Mon, 01 Jan 2024 10:00 +0100", "Mon, 01 Jan 2024 10:00:00 +0100 (CET)", "Mon, 01 Jan 2024 10:00:00",
])
def test_other_forms_read_as_email_utils_reads_them(value: str) -> None:
    assert _outcome(parse_rfc2822, value) == _outcome(_reference, value)
    if _outcome(parse_rfc2822, value)[0] == "ok":
        assert parse_rfc2822(value).tzinfo is timezone.utc or parse_rfc2822(value).utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["Mon, 01 Jan 0001 00:30:00 +0100", "Fri, 31 Dec 9999 23:30:00 -0100",
                                   "Fri, 31 Dec 9999 23:30:00 EST"])
def test_a_date_pushed_past_the_calendars_edge_by_its_offset_is_not_a_date(value: str) -> None:
    # An answer's Date or Retry-After so written raised OverflowError, which nothing caught: every
    # cycle reading the order listing stopped on it.
    with pytest.raises(ValueError):
        parse_rfc2822(value)
    assert http_date([value]) is None
