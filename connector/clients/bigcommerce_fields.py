"""BigCommerce's field types, parsed once at the client boundary: money as Decimal, dates as aware UTC
(V2 RFC-2822, V3 ISO-8601), text; and the base model of every object read from BigCommerce."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Callable

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator

from connector.values import as_utc, parse_iso8601, parse_money, parse_rfc2822


def _blank_is_none(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`parse`, with None and '' read as no value."""

    def parse_optional(value: Any) -> Any:
        if value is None or value == "":
            return None
        return parse(value)

    return parse_optional


def _date(parse: Callable[[Any], datetime]) -> Callable[[Any], datetime]:
    """`parse` for the API's date strings; a datetime (a model built in Python) is made UTC."""
    return lambda value: as_utc(value) if isinstance(value, datetime) else parse(value)


def _str_or_empty(value: Any) -> str:
    # V2 sends null for some text fields that are '' elsewhere; the difference means nothing here.
    return "" if value is None else value


# Plain validators: the parser returns the final value (Decimal, aware datetime), so pydantic need
# not check it again as its own Decimal / datetime type. An order has about sixty such fields, and an
# import reads them for every order (issue 6: ≤ 1 ms of connector CPU per order).
Money = Annotated[Decimal, PlainValidator(parse_money)]
OptionalMoney = Annotated[Decimal | None, PlainValidator(_blank_is_none(parse_money))]
V2Date = Annotated[datetime, PlainValidator(_date(parse_rfc2822))]
# date_shipped is '' until the order is fully shipped.
OptionalV2Date = Annotated[datetime | None, PlainValidator(_blank_is_none(_date(parse_rfc2822)))]
V3Date = Annotated[datetime, BeforeValidator(_date(parse_iso8601))]
OptionalV3Date = Annotated[datetime | None, BeforeValidator(_blank_is_none(_date(parse_iso8601)))]
Text = Annotated[str, BeforeValidator(_str_or_empty)]
# A count of items: a negative or fractional quantity is a data error, never rounded.
Quantity = Annotated[int, Field(ge=0, strict=False)]

ZERO = Decimal("0")


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=False)
