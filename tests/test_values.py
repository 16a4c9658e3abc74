"""Money at the API boundary: Decimal, or a clear refusal."""

from decimal import Decimal

import pytest

from connector.values import parse_money


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
