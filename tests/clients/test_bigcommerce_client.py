"""BigCommerceClient against respx: paging, exact requests, retries and errors, and order parsing."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest
import respx

from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.bigcommerce_models import Order, OrderValidationError
from connector.clients.transport import RetryPolicy
from connector.values import parse_rfc2822
from connector.clock import FakeClock
from connector.errors import ConfigError, CredentialsError, PermanentApiError, TransientApiError, UnknownWriteOutcome

API = "https://api.bigcommerce.com/stores/abc123"
TOKEN = "tok-SECRET-9f8e7d6c"
UTC = timezone.utc


def line(line_id: int, order_id: int, **overrides) -> dict:
    data = {
        "id": line_id, "order_id": order_id, "product_id": 77, "variant_id": 5, "order_address_id": 51,
        "name": "Chambray Towel", "sku": "S-ORAN", "type": "physical",
        "base_price": "55.9900", "price_ex_tax": "55.9900", "price_inc_tax": "65.2300", "price_tax": "9.2400",
        "base_total": "55.9900", "total_ex_tax": "55.9900", "total_inc_tax": "65.2300", "total_tax": "9.2400",
        "discounted_total_inc_tax": "63.6400", "quantity": 1,
        "applied_discounts": [
            {"id": "manual-discount", "amount": "1.5900", "name": "Manual Discount", "code": None, "target": "order"}
        ],
        "product_options": [
            {"id": 45, "option_id": 18, "order_product_id": line_id, "product_option_id": 120,
             "display_name": "Size", "display_value": "S", "value": "69", "type": "Multiple choice",
             "name": "Apparel sizes", "display_style": "Rectangle"}
        ],
    }
    data.update(overrides)
    return data


def order(order_id: int = 218, *, lines: list[dict] | None = None, **overrides) -> dict:
    """A V2 order as GET /v2/orders?include=consignments.line_items&consignment_structure=object sends it."""
    data = {
        "id": order_id, "customer_id": 11,
        "date_created": "Tue, 05 Mar 2019 21:40:11 +0000",
        "date_modified": "Mon, 11 Mar 2019 15:17:25 +0000", "date_shipped": "",
        "status_id": 11, "status": "Awaiting Fulfillment", "custom_status": "Awaiting Fulfillment",
        "subtotal_ex_tax": "62.6793", "subtotal_inc_tax": "67.8400", "subtotal_tax": "4.4000",
        "base_shipping_cost": "12.0000", "shipping_cost_ex_tax": "11.0900", "shipping_cost_inc_tax": "12.0000",
        "shipping_cost_tax": "0.9100", "shipping_cost_tax_class_id": 0,
        "base_handling_cost": "0.0000", "handling_cost_ex_tax": "0.0000", "handling_cost_inc_tax": "0.0000",
        "handling_cost_tax": "0.0000", "handling_cost_tax_class_id": 0,
        "base_wrapping_cost": "0.0000", "wrapping_cost_ex_tax": "0.0000", "wrapping_cost_inc_tax": "0.0000",
        "wrapping_cost_tax": "0.0000", "wrapping_cost_tax_class_id": 0,
        "total_ex_tax": "64.5300", "total_inc_tax": "69.8400", "total_tax": "5.3100",
        "is_tax_inclusive_pricing": False, "items_total": 1, "items_shipped": 0,
        "payment_method": "Cash", "payment_provider_id": "", "payment_status": "authorized",
        "refunded_amount": "0.0000", "order_is_digital": False,
        "store_credit_amount": "0.0000", "gift_certificate_amount": "0.0000",
        "currency_id": 1, "currency_code": "USD", "currency_exchange_rate": "1.0000000000",
        "default_currency_id": 1, "default_currency_code": "USD",
        "staff_notes": "", "customer_message": "", "discount_amount": "5.0000", "coupon_discount": "5.0000",
        "shipping_address_count": 1, "is_deleted": False, "ebay_order_id": "0",
        "billing_address": {
            "first_name": "Jane", "last_name": "Doe", "company": "", "street_1": "555 East Street",
            "street_2": "", "city": "Austin", "state": "Texas", "zip": "78108", "country": "United States",
            "country_iso2": "US", "phone": "1234567890", "email": "janedoe@example.com", "form_fields": [],
        },
        "order_source": "external", "channel_id": 1, "external_source": None,
        "products": {"url": f"{API}/v2/orders/{order_id}/products", "resource": f"/orders/{order_id}/products"},
        "consignments": {
            "pickups": [],
            "shipping": [{"id": 99, "first_name": "Jane", "shipping_method": "Free Shipping",
                          "line_items": lines if lines is not None else [line(65, order_id)]}],
            "downloads": [],
            "email": {"gift_certificates": []},
        },
    }
    data.update(overrides)
    return data


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(clock: FakeClock):
    c = BigCommerceClient(store_hash="abc123", access_token=TOKEN, clock=clock, retry=RetryPolicy(seed=1))
    yield c
    await c.aclose()


def since_until() -> tuple[datetime, datetime]:
    # Around the orders' dates (order()'s in 2019, the paging tests' on 2026-01-01): a listing drops
    # the rows outside the bounds it was given.
    return datetime(2019, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)


# -- paging --------------------------------------------------------------------------------------


def dated(i: int) -> dict:
    """Order i changed i seconds into 2026 (each in its own second: pages end without ties)."""
    return order(i, date_modified=format_datetime(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i)))


def full_page(start: int) -> list[dict]:
    return [dated(i) for i in range(start, start + 250)]


@respx.mock
async def test_paging_ends_on_a_short_page(client):
    route = respx.get(f"{API}/v2/orders").mock(
        side_effect=[httpx.Response(200, json=full_page(1)), httpx.Response(200, json=[dated(251), dated(252)])]
    )
    got = [o.id async for o in client.iter_orders_modified(*since_until())]
    assert got == list(range(1, 253))
    assert route.call_count == 2
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "1"]  # the next by key


@respx.mock
async def test_paging_ends_on_204(client):
    route = respx.get(f"{API}/v2/orders").mock(
        side_effect=[httpx.Response(200, json=full_page(1)), httpx.Response(204)]
    )
    got = [o.id async for o in client.iter_orders_modified(*since_until())]
    assert len(got) == 250
    assert route.call_count == 2


@respx.mock
@pytest.mark.parametrize("empty", [httpx.Response(200, json=[]), httpx.Response(200, content=b"")])
async def test_paging_ends_on_an_empty_list_or_body(client, empty):
    route = respx.get(f"{API}/v2/orders").mock(side_effect=[httpx.Response(200, json=full_page(1)), empty])
    got = [o.id async for o in client.iter_orders_modified(*since_until())]
    assert len(got) == 250
    assert route.call_count == 2


@respx.mock
async def test_an_order_repeated_across_pages_is_yielded_once(client):
    page1 = full_page(1)
    respx.get(f"{API}/v2/orders").mock(
        side_effect=[httpx.Response(200, json=page1), httpx.Response(200, json=[page1[-1], dated(251)])]
    )
    got = [o.id async for o in client.iter_orders_modified(*since_until())]
    assert got == list(range(1, 252))


@respx.mock
async def test_list_query_params_are_exact(client):
    route = respx.get(f"{API}/v2/orders").mock(return_value=httpx.Response(204))
    # A non-UTC bound must go out as the same instant in UTC with an explicit +00:00 offset.
    since = datetime(2026, 3, 1, 7, 30, 5, tzinfo=timezone(timedelta(hours=-5)))
    until = datetime(2026, 3, 1, 13, 0, 0, tzinfo=UTC)
    assert [o async for o in client.iter_orders_modified(since, until)] == []
    request = route.calls[0].request
    assert dict(request.url.params) == {
        # A second more each side: whether BigCommerce's bounds include their own second is unverified.
        "min_date_modified": "2026-03-01T12:30:04+00:00",
        "max_date_modified": "2026-03-01T13:00:01+00:00",
        "sort": "date_modified:asc",
        "limit": "250",
        "include": "consignments.line_items,fees",
        "consignment_structure": "object",
        "page": "1",
    }
    # The '+' of the offset is percent-encoded, or the server would read it as a space.
    assert "%2B00%3A00" in str(request.url)
    assert request.headers["X-Auth-Token"] == TOKEN
    assert request.headers["Accept"] == "application/json"


@respx.mock
async def test_created_iteration_uses_created_filters(client):
    route = respx.get(f"{API}/v2/orders").mock(return_value=httpx.Response(204))
    assert [o async for o in client.iter_orders_created(datetime(2025, 1, 1, tzinfo=UTC), None)] == []
    params = dict(route.calls[0].request.url.params)
    assert params["sort"] == "date_created:asc"
    assert params["min_date_created"] == "2024-12-31T23:59:59+00:00"  # a second before: see above
    assert "max_date_created" not in params and "min_date_modified" not in params


@respx.mock
async def test_get_order_asks_for_embedded_lines(client):
    route = respx.get(f"{API}/v2/orders/218").mock(return_value=httpx.Response(200, json=order(218)))
    got = await client.get_order(218)
    assert got.id == 218 and [l.id for l in got.lines] == [65]
    params = route.calls[0].request.url.params
    assert params["include"] == "consignments.line_items,fees"
    assert params["consignment_structure"] == "object"


# -- rate limits, retries, errors ----------------------------------------------------------------


@respx.mock
async def test_429_with_headers_waits_the_reset_then_retries(client, clock):
    route = respx.get(f"{API}/v2/order_statuses").mock(
        side_effect=[
            httpx.Response(429, headers={"X-Rate-Limit-Time-Reset-Ms": "15000", "X-Rate-Limit-Requests-Left": "0"}),
            httpx.Response(200, json=[{"id": 11, "name": "Awaiting Fulfillment"}]),
        ]
    )
    statuses = await client.list_order_statuses()
    assert [s.id for s in statuses] == [11]
    assert route.call_count == 2
    assert sum(clock.slept) == pytest.approx(15.0, abs=0.1)
    assert clock.monotonic() >= 15.0


@respx.mock
async def test_429_without_headers_backs_off(client, clock):
    route = respx.get(f"{API}/v2/order_statuses").mock(
        side_effect=[httpx.Response(429), httpx.Response(429), httpx.Response(200, json=[])]
    )
    assert await client.list_order_statuses() == []
    assert route.call_count == 3
    # Exponential, jittered: the second wait's ceiling is twice the first's.
    assert len(clock.slept) == 2
    assert 0.25 <= clock.slept[0] <= 0.5 and 0.5 <= clock.slept[1] <= 1.0
    assert client.transport.stats.rate_limited == 2


@respx.mock
async def test_5xx_on_get_is_retried(client):
    route = respx.get(f"{API}/v2/orders/218").mock(
        side_effect=[httpx.Response(502), httpx.Response(503), httpx.Response(200, json=order(218))]
    )
    assert (await client.get_order(218)).id == 218
    assert route.call_count == 3


@respx.mock
async def test_5xx_until_retries_run_out_is_transient(clock):
    c = BigCommerceClient(store_hash="abc123", access_token=TOKEN, clock=clock, retry=RetryPolicy(max_attempts=3, seed=1))
    route = respx.get(f"{API}/v2/orders/218").mock(return_value=httpx.Response(500))
    with pytest.raises(TransientApiError):
        await c.get_order(218)
    assert route.call_count == 3
    await c.aclose()


@respx.mock
@pytest.mark.parametrize("status", [401, 403])
async def test_credentials_errors_are_not_retried_and_hide_the_token(client, status, caplog):
    caplog.set_level(logging.DEBUG)
    route = respx.get(f"{API}/v2/orders/218").mock(
        return_value=httpx.Response(status, json=[{"status": status, "message": "You don't have access"}])
    )
    with pytest.raises(CredentialsError) as info:
        await client.get_order(218)
    assert route.call_count == 1
    assert info.value.status == status
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    assert TOKEN not in repr(info.value.body)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(client)


@respx.mock
async def test_status_put_sends_only_status_id_and_is_retried_after_5xx(client):
    route = respx.put(f"{API}/v2/orders/218").mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json=order(218, status_id=12, consignments=None))]
    )
    updated = await client.update_order_status(218, 12)
    assert updated.status_id == 12
    assert route.call_count == 2
    for call in route.calls:
        assert json.loads(call.request.content) == {"status_id": 12}
        assert call.request.headers["Content-Type"] == "application/json"


@respx.mock
async def test_id_verification_reads_and_writes_only_the_status_of_an_order_that_does_not_parse(client):
    """An order whose other fields do not parse (a null billing address here) still has its status
    read, and an applied status write is known as applied: only status_id is read from the answers."""
    broken = {**order(218, status_id=9, consignments=None), "billing_address": None, "total_inc_tax": "n/a"}
    get = respx.get(f"{API}/v2/orders/218").mock(return_value=httpx.Response(200, json=broken))
    respx.put(f"{API}/v2/orders/218").mock(return_value=httpx.Response(200, json={**broken, "status_id": 11}))
    assert (await client.get_order_status(218)).status_id == 9
    assert "include" not in get.calls.last.request.url.params  # no lines asked for
    assert (await client.update_order_status(218, 11)).status_id == 11
    with pytest.raises(OrderValidationError):
        await client.get_order(218)
    respx.get(f"{API}/v2/orders/218").mock(return_value=httpx.Response(200, json={"id": 218}))
    with pytest.raises(OrderValidationError):
        await client.get_order_status(218)


@respx.mock
async def test_status_put_retried_after_a_timeout(client):
    route = respx.put(f"{API}/v2/orders/218").mock(
        side_effect=[httpx.ReadTimeout("no answer"), httpx.Response(200, json=order(218, status_id=6))]
    )
    assert (await client.update_order_status(218, 6)).status_id == 6
    assert route.call_count == 2


@respx.mock
async def test_a_write_not_safe_to_repeat_gives_unknown_outcome_on_timeout(client):
    route = respx.post(f"{API}/v3/orders/metafields").mock(side_effect=httpx.ReadTimeout("no answer"))
    with pytest.raises(UnknownWriteOutcome):
        await client.transport.request("POST", "/v3/orders/metafields", json=[{"key": "k"}])
    assert route.call_count == 1


def test_empty_credentials_are_a_config_error():
    with pytest.raises(ConfigError):
        BigCommerceClient(store_hash="abc123", access_token="  ")
    with pytest.raises(ConfigError):
        BigCommerceClient(store_hash="", access_token=TOKEN)


# -- order parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Tue, 05 Mar 2019 21:40:11 +0000", datetime(2019, 3, 5, 21, 40, 11, tzinfo=UTC)),
        ("Thu, 20 Apr 2017 11:32:00 -0400", datetime(2017, 4, 20, 15, 32, 0, tzinfo=UTC)),
        ("Mon, 11 Mar 2019 01:17:25 +0530", datetime(2019, 3, 10, 19, 47, 25, tzinfo=UTC)),
        ("Mon, 11 Mar 2019 15:17:25 -0000", datetime(2019, 3, 11, 15, 17, 25, tzinfo=UTC)),
    ],
)
def test_rfc2822_dates_become_aware_utc(text, expected):
    parsed = Order.from_api(order(date_modified=text, date_shipped=text))
    assert parsed.date_modified == expected and parsed.date_modified.utcoffset() == timedelta(0)
    assert parsed.date_shipped == expected


def test_empty_date_shipped_is_none():
    assert Order.from_api(order()).date_shipped is None


def test_money_is_decimal():
    parsed = Order.from_api(order(total_inc_tax="924.47", total_tax="0", subtotal_ex_tax="62.6793"))
    assert parsed.total_inc_tax == Decimal("924.47") and isinstance(parsed.total_inc_tax, Decimal)
    assert parsed.total_tax == Decimal("0")
    assert parsed.subtotal_ex_tax == Decimal("62.6793")
    assert parsed.lines[0].price_inc_tax == Decimal("65.2300")
    assert parsed.lines[0].applied_discounts[0].amount == Decimal("1.5900")


def test_money_with_a_thousands_separator_is_rejected_naming_the_order():
    with pytest.raises(OrderValidationError) as info:
        Order.from_api(order(4242, total_inc_tax="1,234.00"))
    assert info.value.order_id == 4242
    assert "4242" in str(info.value) and "total_inc_tax" in str(info.value)


def test_unknown_fields_are_tolerated_and_kept():
    parsed = Order.from_api(order(brand_new_field={"x": 1}, lines=[line(65, 218, shiny=True)]))
    assert parsed.model_extra["brand_new_field"] == {"x": 1}
    assert parsed.lines[0].model_extra["shiny"] is True


def test_missing_required_field_names_order_and_field():
    data = order(777)
    del data["date_modified"]
    with pytest.raises(OrderValidationError) as info:
        Order.from_api(data)
    assert "777" in str(info.value) and "date_modified" in str(info.value)


@pytest.mark.parametrize("quantity", [-1, 1.5, "2.5"])
def test_negative_or_fractional_quantity_is_rejected_naming_the_line(quantity):
    with pytest.raises(OrderValidationError) as info:
        Order.from_api(order(300, lines=[line(65, 300), line(66, 300, quantity=quantity)]))
    assert "300" in str(info.value) and "line 66 quantity" in str(info.value)


def test_lines_are_flattened_from_every_consignment_kind_once():
    data = order(9, items_total=6, consignments={
        "shipping": [{"id": 1, "line_items": [line(1, 9), line(2, 9)]},
                     {"id": 2, "line_items": [line(3, 9)]}],
        "pickups": [{"id": 3, "line_items": [line(4, 9), line(1, 9)]}],
        "downloads": [{"recipient_email": "a@b.c", "line_items": [line(5, 9, type="digital")]}],
        "email": {"gift_certificates": [{"recipient_email": "a@b.c",
                                         "line_items": [line(6, 9, product_id=0, variant_id=0, type="giftcertificate")]}]},
    })
    parsed = Order.from_api(data)
    assert [(l.id, l.consignment) for l in parsed.lines] == [
        (1, "shipping"), (2, "shipping"), (3, "shipping"), (4, "pickup"), (5, "download"), (6, "email")
    ]
    assert parsed.lines_included
    assert parsed.lines[5].product_id == 0 and parsed.lines[0].product_id != 0


def test_array_consignment_structure_is_read_too():
    parsed = Order.from_api(order(9, consignments=[{"shipping": [{"line_items": [line(1, 9)]}], "pickups": []}]))
    assert [l.id for l in parsed.lines] == [1]


@respx.mock
async def test_lines_given_as_links_are_fetched_from_products(client):
    linked = order(218, consignments={"shipping": [{"id": 1, "line_items": [
        {"url": f"{API}/v2/orders/218/products/65", "resource": "/orders/218/products/65"}]}]})
    respx.get(f"{API}/v2/orders/218").mock(return_value=httpx.Response(200, json=linked))
    products = respx.get(f"{API}/v2/orders/218/products").mock(
        return_value=httpx.Response(200, json=[line(65, 218), line(66, 218, quantity=3)])
    )
    got = await client.get_order(218)
    assert [(l.id, l.quantity) for l in got.lines] == [(65, 1), (66, 3)]
    assert got.lines_included and products.call_count == 1
    assert products.calls[0].request.url.params["limit"] == "250"


@respx.mock
async def test_consignments_without_line_items_are_not_an_order_without_lines(client):
    # No property of orderConsignment_Get is required: a server honouring include=consignments but
    # not its `.line_items` may leave `line_items` out. That is lines not embedded, not none sold.
    consignments = {"shipping": [{"id": 1, "first_name": "Jane", "shipping_method": "Free Shipping"}], "pickups": []}
    respx.get(f"{API}/v2/orders/218").mock(return_value=httpx.Response(200, json=order(218, consignments=consignments)))
    products = respx.get(f"{API}/v2/orders/218/products").mock(return_value=httpx.Response(200, json=[line(65, 218)]))
    got = await client.get_order(218)
    assert [l.id for l in got.lines] == [65] and got.lines_included and products.call_count == 1


@respx.mock
async def test_on_invalid_sets_a_bad_order_aside_and_goes_on(client):
    respx.get(f"{API}/v2/orders").mock(
        return_value=httpx.Response(200, json=[order(1), order(2, subtotal_tax="1,000.00"), order(3)])
    )
    bad: list[int | None] = []
    got = [o.id async for o in client.iter_orders_modified(*since_until(), on_invalid=lambda e, raw: bad.append(e.order_id))]
    assert got == [1, 3] and bad == [2]
    with pytest.raises(OrderValidationError):
        [o async for o in client.iter_orders_modified(*since_until())]


@respx.mock
async def test_an_order_whose_lines_cannot_be_read_is_set_aside_as_retryable_and_the_listing_goes_on(client):
    # The store did not embed the lines (consignments as a link object): the client reads /products,
    # and order 1's keeps failing. Orders after it must still reach the cycle.
    link = {"url": f"{API}/v2/orders/1/consignments", "resource": "/orders/1/consignments"}
    respx.get(f"{API}/v2/orders").mock(return_value=httpx.Response(200, json=[
        order(1, consignments=link), order(2, consignments=link), order(3)]))
    respx.get(f"{API}/v2/orders/1/products").mock(return_value=httpx.Response(500, json=[{"status": 500}]))
    respx.get(f"{API}/v2/orders/2/products").mock(return_value=httpx.Response(200, json=[line(70, 2)]))
    respx.get(f"{API}/v2/orders/2/shipping_addresses").mock(return_value=httpx.Response(204))
    set_aside: list[OrderValidationError] = []
    got = [o.id async for o in client.iter_orders_modified(*since_until(), on_invalid=lambda e, raw: set_aside.append(e))]
    assert got == [2, 3]
    [failure] = set_aside
    assert failure.order_id == 1 and failure.retryable and "500" in str(failure)
    # Without on_invalid the read's own error ends the listing, as before.
    with pytest.raises(TransientApiError):
        [o async for o in client.iter_orders_created(None, None)]


@respx.mock
async def test_credentials_refused_on_an_orders_lines_end_the_listing(client):
    link = {"url": f"{API}/v2/orders/1/consignments", "resource": "/orders/1/consignments"}
    respx.get(f"{API}/v2/orders").mock(return_value=httpx.Response(200, json=[order(1, consignments=link), order(2)]))
    respx.get(f"{API}/v2/orders/1/products").mock(return_value=httpx.Response(403, json=[{"status": 403}]))
    with pytest.raises(CredentialsError):
        [o async for o in client.iter_orders_modified(*since_until(), on_invalid=lambda e, raw: None)]


# -- statuses, metafields, catalog -----------------------------------------------------------------


@respx.mock
async def test_order_statuses(client):
    respx.get(f"{API}/v2/order_statuses").mock(return_value=httpx.Response(200, json=[
        {"id": 0, "name": "Incomplete", "system_label": "Incomplete", "custom_label": "Incomplete - Testing",
         "system_description": "An incomplete order", "order": 0},
        {"id": 12, "name": "Manual Verification Required", "system_label": "Manual Verification Required",
         "custom_label": "ID check", "system_description": "On hold", "order": 13},
    ]))
    statuses = await client.list_order_statuses()
    assert [(s.id, s.label, s.order) for s in statuses] == [(0, "Incomplete - Testing", 0), (12, "ID check", 13)]


def metafield(mid: int, order_id: int, value: str = "verified") -> dict:
    return {"id": mid, "key": "verification_status", "value": value, "namespace": "realid",
            "permission_set": "app_only", "resource_type": "order", "resource_id": order_id,
            "description": "", "date_created": "2026-01-01T10:00:00+00:00",
            "date_modified": "2026-01-01T05:00:00-05:00", "owner_client_id": "abc"}


def v3_page(rows: list[dict], current: int, total: int) -> httpx.Response:
    return httpx.Response(200, json={"data": rows, "meta": {"pagination": {
        "total": 3, "count": len(rows), "per_page": 250, "current_page": current, "total_pages": total,
        "links": {"current": f"?page={current}&limit=250"}}}})


@respx.mock
async def test_metafield_batch_pages_until_the_last_page(client):
    route = respx.get(f"{API}/v3/orders/metafields").mock(side_effect=[
        v3_page([metafield(1, 100), metafield(2, 101)], 1, 2), v3_page([metafield(3, 102, "failed")], 2, 2),
    ])
    since = datetime(2026, 1, 1, tzinfo=UTC)
    got = [m async for m in client.iter_order_metafields(namespace="realid", key="verification_status", modified_since=since)]
    assert [(m.resource_id, m.value) for m in got] == [(100, "verified"), (101, "verified"), (102, "failed")]
    assert got[0].date_modified == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert route.call_count == 2
    assert dict(route.calls[1].request.url.params) == {
        "namespace": "realid", "key": "verification_status",
        # the documented form (orders.v3.yml: `date_modified:min=2019-09-04T00:00:00`), in UTC
        "date_modified:min": "2026-01-01T00:00:00", "limit": "250", "page": "2",
    }


@respx.mock
async def test_metafields_for_one_order(client):
    route = respx.get(f"{API}/v3/orders/100/metafields").mock(return_value=v3_page([metafield(1, 100)], 1, 1))
    got = await client.list_metafields_for_order(100, namespace="realid")
    assert [m.id for m in got] == [1] and route.call_count == 1
    assert route.calls[0].request.url.params["namespace"] == "realid"


# -- paging by key: no order is lost when orders sharing a second come back in another order -----


def _at(i: int, second: int) -> dict:
    return order(i, date_modified=f"Thu, 01 Jan 2026 10:00:{second:02d} +0000")


@respx.mock
async def test_next_page_restarts_a_second_before_the_last_date(client):
    first = [_at(i, 1) for i in range(1, 250)] + [_at(250, 5)]
    route = respx.get(f"{API}/v2/orders").mock(
        side_effect=[httpx.Response(200, json=first), httpx.Response(200, json=[_at(250, 5), _at(251, 6)])]
    )
    got = [o.id async for o in client.iter_orders_modified(*since_until())]
    assert got == list(range(1, 252))  # 250 came back twice, yielded once
    second = route.calls[1].request.url.params
    assert second["page"] == "1"
    assert second["min_date_modified"] == "2026-01-01T10:00:04+00:00"


@pytest.mark.parametrize("inclusive", [True, False], ids=["min-inclusive", "min-exclusive"])
@respx.mock
async def test_no_order_is_lost_whether_the_date_filter_includes_its_bound_or_not(client, inclusive):
    """The reference does not say whether min_date_modified includes its bound. 300 orders, 61 of
    them sharing the second where the first page ends: all 300 come back, once, either way."""
    orders = [_at(i, 1 + i // 5) for i in range(1, 240)] + [_at(i, 50) for i in range(240, 301)]

    def listing(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        bound = datetime.fromisoformat(params["min_date_modified"])
        after = [o for o in orders if (parse_rfc2822(o["date_modified"]) >= bound if inclusive
                                       else parse_rfc2822(o["date_modified"]) > bound)]
        start = (int(params["page"]) - 1) * int(params["limit"])
        rows = after[start:start + int(params["limit"])]
        return httpx.Response(200, json=rows) if rows else httpx.Response(204)

    respx.get(f"{API}/v2/orders").mock(side_effect=listing)
    since = datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC)
    got = [o.id async for o in client.iter_orders_modified(since, since_until()[1])]
    assert sorted(got) == list(range(1, 301)) and len(got) == 300


@respx.mock
async def test_page_drift_within_one_second_loses_nothing(client):
    """251 orders: 249 early ones, then 2 sharing the last second. The server sorts ties
    differently on each request, so page-number paging would skip one of them."""
    early = [_at(i, 1) for i in range(1, 250)]
    tie_a, tie_b = _at(300, 9), _at(301, 9)
    responses = [
        httpx.Response(200, json=early + [tie_a]),  # page 1: 249 + tie_a
        httpx.Response(200, json=[tie_b, tie_a]),  # from 10:00:09 inclusive, ties in the other order
    ]
    respx.get(f"{API}/v2/orders").mock(side_effect=responses)
    got = [o.id async for o in client.iter_orders_modified(*since_until())]
    assert sorted(got) == list(range(1, 250)) + [300, 301]
    assert len(got) == len(set(got))


# -- V3 lists whose meta carries no pagination (the refunds list is specified with an empty meta) --


def refund(refund_id: int) -> dict:
    return {"id": refund_id, "order_id": 100 + refund_id, "created": "2026-01-01T10:00:00+00:00",
            "total_amount": "5.00", "items": [], "payments": []}


@respx.mock
async def test_refunds_without_pagination_are_read_to_the_end(client):
    refunds = [refund(i) for i in range(1, 501)]

    def listing(request: httpx.Request) -> httpx.Response:
        start = (int(request.url.params["page"]) - 1) * int(request.url.params["limit"])
        return httpx.Response(200, json={"data": refunds[start:start + 250], "meta": {}})

    route = respx.get(f"{API}/v3/orders/payment_actions/refunds").mock(side_effect=listing)
    got = [r.id async for r in client.iter_refunds()]
    assert got == list(range(1, 501))
    assert len(route.calls) == 3  # two full pages, then the empty one that ends the list


@respx.mock
async def test_a_list_that_ignores_the_page_parameter_ends(client):
    respx.get(f"{API}/v3/orders/payment_actions/refunds").mock(
        return_value=httpx.Response(200, json={"data": [refund(1), refund(2)], "meta": {}}))
    assert [r.id async for r in client.iter_refunds()] == [1, 2]


@pytest.mark.parametrize("pagination", [lambda page: {"total_pages": "10"},
                                        lambda page: {"total_pages": 10.0, "current_page": str(page)}],
                         ids=["pages-as-a-string-no-current", "numbers-as-string-and-float"])
@respx.mock
async def test_pagination_numbers_given_as_strings_or_floats_still_page(client, pagination):
    # A partial meta.pagination whose counts come as JSON strings or floats: read as the numbers they
    # say, neither a crash (str >= int) nor a string comparison ("9" >= "10").
    def listing(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(200, json={"data": [refund(page)], "meta": {"pagination": pagination(page)}})

    route = respx.get(f"{API}/v3/orders/payment_actions/refunds").mock(side_effect=listing)
    assert [r.id async for r in client.iter_refunds()] == list(range(1, 11)) and route.call_count == 10


@respx.mock
async def test_v3_dates_with_rfc3339_lower_case_t_and_z_are_read(client):
    # OpenAPI's date-time is RFC 3339's, whose "T" and "Z" may be lower case (§5.6). A refund so
    # dated stopped every cycle at the refunds (and so every later refund); a metafield so dated
    # was passed over, its ID verdict never applied.
    respx.get(f"{API}/v3/orders/payment_actions/refunds").mock(return_value=httpx.Response(
        200, json={"data": [{**refund(1), "created": "2026-01-01t10:00:00z"}], "meta": {}}))
    respx.get(f"{API}/v3/orders/metafields").mock(
        return_value=v3_page([{**metafield(1, 100), "date_modified": "2026-01-01t10:00:00.5z"}], 1, 1))
    assert [r.created async for r in client.iter_refunds()] == [datetime(2026, 1, 1, 10, tzinfo=UTC)]
    assert [m.date_modified async for m in client.iter_order_metafields(namespace="realid")] == [
        datetime(2026, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)]


@respx.mock
async def test_the_listing_reports_each_answers_date_when_it_has_a_readable_one(client):
    """The store's clock, for the sync window's end: a page without a Date or with an unreadable one
    reports nothing (the caller keeps its own clock); a second Date a proxy added is not read."""
    dated = [("Date", "Mon, 11 Mar 2019 15:20:00 GMT"), ("Date", "Tue, 12 Mar 2019 00:00:00 GMT")]
    respx.get(f"{API}/v2/orders").mock(side_effect=[
        httpx.Response(200, json=full_page(1), headers=dated),
        httpx.Response(200, json=full_page(251), headers={"Date": "soon"}),
        httpx.Response(204),
    ])
    seen: list[datetime] = []
    got = [o.id async for o in client.iter_orders_modified(*since_until(), on_server_time=seen.append)]
    assert len(got) == 500
    assert seen == [datetime(2019, 3, 11, 15, 20, tzinfo=UTC)]


@respx.mock
@pytest.mark.parametrize("count", [45, 45.0], ids=["integer", "whole-float"])
async def test_order_count_is_a_number(client, count):
    """orders.v2.oas2.yml types /v2/orders/count's `count` as number: 45.0 is 45 orders."""
    respx.get(f"{API}/v2/orders/count").respond(200, json={"count": count})
    assert await client.count_orders() == 45


@respx.mock
@pytest.mark.parametrize("count", [45.5, None, "many"])
async def test_an_order_count_that_is_no_whole_number_is_refused(client, count):
    respx.get(f"{API}/v2/orders/count").respond(200, json={"count": count})
    with pytest.raises(PermanentApiError, match="count"):
        await client.count_orders()
