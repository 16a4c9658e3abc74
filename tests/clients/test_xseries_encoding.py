"""Write bodies serialized once (to_json) say exactly what pydantic's JSON-mode dump says, and a sale write's
answer read as WrittenSale carries the sale's id and state."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connector.clients.xseries_fields import _decimal_out, _sale_date_out
from connector.clients.xseries_models import CustomerCreate, ProductCreate
from connector.clients.xseries_sale_models import (
    RegisterSale,
    RegisterSalePayment,
    RegisterSaleProduct,
    Sale,
    WrittenSale,
)

AT = datetime(2026, 2, 28, 23, 35, 34, tzinfo=timezone.utc)


def a_sale() -> RegisterSale:
    return RegisterSale(
        register_id="reg", user_id="usr", sale_date=AT, status="CLOSED", state="closed",
        note="Commande n° 1484 — Zoë", invoice_number="BC-1484", source="BIGCOMMERCE", source_id="1484",
        register_sale_products=[
            RegisterSaleProduct(product_id="p1", quantity=Decimal("2"), price=Decimal("19.99"),
                                tax=Decimal("3.00"), tax_id="tax", sequence=0, price_set=True),
            RegisterSaleProduct(product_id="p2", quantity=Decimal("1"), price=Decimal("0.1"),
                                tax=Decimal("0.0150"), tax_id="tax", sequence=1),
        ],
        register_sale_payments=[RegisterSalePayment(retailer_payment_type_id="cc", amount=Decimal("46.1150"),
                                                    payment_date=AT)],
    )


@pytest.mark.parametrize("body", [
    a_sale(),
    CustomerCreate(first_name="Zoë", last_name="Ørsted", email="zoe@example.com", physical_city="Ålesund"),
    ProductCreate(name="Tee — M", sku="TEE-M", price_excluding_tax=Decimal("12.50")),
], ids=["sale", "customer", "product"])
def test_to_json_is_the_json_dump_encoded(body) -> None:
    encoded = body.to_json()
    assert isinstance(encoded, bytes)
    assert json.loads(encoded) == body.model_dump(mode="json", exclude_none=True)
    # Compact, and UTF-8 rather than \\u escapes (as the stdlib encoding with ensure_ascii=False).
    assert b"\\u" not in encoded and b", " not in encoded


def test_to_json_keeps_number_types() -> None:
    sent = json.loads(a_sale().to_json())
    first, second = sent["register_sale_products"]
    assert first["quantity"] == 2 and isinstance(first["quantity"], int)
    assert first["price"] == 19.99 and second["price"] == 0.1 and second["tax"] == 0.015
    assert sent["sale_date"] == "2026-02-28 23:35:34" and first["sequence"] == "0" and first["price_set"] == 1


def test_written_sale_reads_the_id_and_state_and_ignores_the_rest() -> None:
    answer = {"id": "s1", "status": "CLOSED", "state": "closed", "invoice_number": "BC-1",
              "register_sale_products": [{"price": "not even a number"}], "total_price": 1}
    sale = WrittenSale.model_validate(answer)
    assert (sale.id, sale.status, sale.state, sale.invoice_number) == ("s1", "CLOSED", "closed", "BC-1")
    with pytest.raises(ValidationError):
        WrittenSale.model_validate({"status": "CLOSED"})


# -- the serializers' fast forms say what the plain ones said -------------------------------------

def _reference_number(value: Decimal) -> int | float:
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    return float(value)


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e20"), max_value=Decimal("1e20"),
                   places=None))
def test_money_goes_out_as_the_same_json_number(value: Decimal) -> None:
    out, expected = _decimal_out(value), _reference_number(value)
    assert type(out) is type(expected) and out == expected


@pytest.mark.parametrize("value", ["9007199254740991", "9007199254740992", "-9007199254740992", "-0", "2.000",
                                   "1E+3", "19.99"])
def test_money_at_the_edges_of_exact_integers(value: str) -> None:
    out, expected = _decimal_out(Decimal(value)), _reference_number(Decimal(value))
    assert type(out) is type(expected) and out == expected


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       offset_minutes=st.integers(-23 * 60, 23 * 60))
def test_sale_dates_go_out_as_strftime_wrote_them(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert _sale_date_out(aware) == aware.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e9"), max_value=Decimal("1e9"),
                   places=5))
def test_five_decimal_amounts_go_out_digit_for_digit(value: Decimal) -> None:
    # Tax-inclusive units are sent at five places (4.30435 + 0.64565): a float that lost a digit
    # would move a cent between units.
    line = RegisterSaleProduct(product_id="p", quantity=Decimal(1), price=value, tax=value, tax_id="t",
                               discount=value, cost=value)
    sent = json.loads(line.to_json(), parse_float=Decimal, parse_int=Decimal)
    assert [sent[key] for key in ("price", "tax", "discount", "cost")] == [value] * 4


def test_the_documented_five_decimal_split_is_sent_exactly() -> None:
    line = RegisterSaleProduct(product_id="p", quantity=Decimal(3), price=Decimal("4.30435"),
                               tax=Decimal("0.64565"), tax_id="t", discount=Decimal("0.86957"),
                               cost=Decimal("2.10000"))
    encoded = line.to_json()
    for text in (b'"price":4.30435', b'"tax":0.64565', b'"discount":0.86957', b'"cost":2.1'):
        assert text in encoded


@pytest.mark.parametrize("read, expected", [
    ({"status": "ONACCOUNT", "state": "pending"}, "ONACCOUNT"),
    ({"status": "closed"}, "CLOSED"),
    ({"state": "pending", "attributes": ["onaccount", "delivery"]}, "ONACCOUNT"),
    ({"state": "closed", "attributes": ["onaccount"]}, "ONACCOUNT_CLOSED"),
    ({"state": "closed", "attributes": ["delivery"]}, "DISPATCHED_CLOSED"),
    ({"state": "pending", "attributes": ["pickup"]}, "AWAITING_PICKUP"),
    ({"state": "closed"}, "CLOSED"),
    ({"state": "voided"}, "VOIDED"),
    ({"state": "parked"}, "SAVED"),
    ({"register_sale_attributes": ["layby"], "state": "pending"}, "LAYBY"),
    ({}, ""),
])
def test_a_sale_read_without_status_is_told_by_its_state_and_attributes(read, expected):
    """`status` is being replaced by `state` + attributes (reference §8.1): a read carrying only
    those still tells an on-account sale from a closed one, and a void from the rest."""
    assert Sale.model_validate({"id": "s", **read}).status_code == expected


def test_the_ids_a_written_sale_gave_its_lines_go_into_what_was_posted_only_when_they_match() -> None:
    answer = {"id": "s1", "status": "CLOSED",
              "register_sale_products": [{"id": "l1", "product_id": "p1"}, {"id": "l2", "product_id": "p2"}],
              "register_sale_payments": [{"id": "y1", "retailer_payment_type_id": "cc"}]}
    body = WrittenSale.model_validate(answer).ids_into(a_sale())
    assert [line.id for line in body.register_sale_products] == ["l1", "l2"]
    assert [payment.id for payment in body.register_sale_payments] == ["y1"]
    # An answer that does not echo the same lines (another count, another product): none is guessed.
    for lines in ([{"id": "l1", "product_id": "p1"}], [{"id": "l1", "product_id": "p2"}, {"id": "l2"}], None):
        other = WrittenSale.model_validate({**answer, "register_sale_products": lines}).ids_into(a_sale())
        assert [line.id for line in other.register_sale_products] == [None, None]
        assert [payment.id for payment in other.register_sale_payments] == ["y1"]
