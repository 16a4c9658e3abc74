"""X-Series field types (money and quantities Decimal inside, JSON numbers on the wire; dates aware UTC)
and the base models of what the connector reads from and writes to X-Series."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from connector.values import as_utc, parse_iso8601, parse_money


def _optional_money_in(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    return parse_money(value)


_EXACT_INTEGERS = 2**53


def _decimal_out(value: Decimal) -> int | float:
    # X-Series takes JSON numbers; float(str) keeps every value with ≤ 15 significant digits exact.
    # Whole values go as integers (quantity 2, not 2.0), as in the documented examples.
    # (Money here is finite: parse_money refuses NaN and infinities.)
    whole = int(value)
    if whole == value and -_EXACT_INTEGERS < whole < _EXACT_INTEGERS:
        return whole
    return float(value)


# Values the 0.9 API has been seen to use for "no date".
_NO_DATE = frozenset({"", "0000-00-00 00:00:00", "0000-00-00T00:00:00+00:00"})


def _optional_date_in(value: object) -> datetime | None:
    """2.0 ISO-8601 ('2014-09-18T01:37:56+00:00') or 0.9 '2016-05-05 23:35:34' (UTC) → aware UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        if value.strip() in _NO_DATE:
            return None
        return parse_iso8601(value)
    raise ValueError(f"not a date: {value!r}")


def _sale_date_out(value: datetime) -> str:
    """The 0.9 sale body's own format, always UTC: '2016-05-05 23:35:34'."""
    utc = as_utc(value)
    if utc.year < 1000:  # isoformat pads the year to four digits, strftime does not
        return utc.strftime("%Y-%m-%d %H:%M:%S")
    return utc.replace(tzinfo=None).isoformat(" ", "seconds")

Money = Annotated[Decimal, BeforeValidator(parse_money), PlainSerializer(_decimal_out, when_used="json")]
OptionalMoney = Annotated[
    Decimal | None,
    BeforeValidator(_optional_money_in),
    PlainSerializer(lambda v: None if v is None else _decimal_out(v), when_used="json"),
]
# Quantities travel like money: JSON numbers on the wire, Decimal inside.
Quantity = Money
OptionalQuantity = OptionalMoney
UtcDatetime = Annotated[datetime | None, BeforeValidator(_optional_date_in)]
SaleDate = Annotated[
    datetime | None,
    BeforeValidator(_optional_date_in),
    PlainSerializer(lambda v: None if v is None else _sale_date_out(v), when_used="json"),
]


class ReadModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class WriteModel(BaseModel):
    # Extra fields are allowed so a caller can send a documented field we did not model
    # (short_code, accounts_transaction_id, product_codes…); they are serialized as given.
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_json(self) -> bytes:
        """The JSON body (unset optional fields left out, Decimal as numbers, dates formatted) as
        the encoded document (UTF-8, compact), serialized in one step by pydantic-core: half the
        CPU of model_dump + json.dumps, and what a sale's binding keeps."""
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)


class Versioned(ReadModel):
    """An object of a 2.0 version-cursor feed (§6): its version, and when it was deleted (None: live)."""

    version: int | None = None
    deleted_at: UtcDatetime = None
