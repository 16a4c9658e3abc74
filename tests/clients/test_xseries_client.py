"""XSeriesClient against respx mocks: paths, bodies, parsing, retries and their limits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
import respx

from connector.clients.xseries import XSeriesClient
from connector.clients.xseries_models import CustomerCreate, ProductPage
from connector.clients.xseries_sale_models import RegisterSale, RegisterSalePayment, RegisterSaleProduct
from connector.clock import FakeClock
from connector.errors import (
    CredentialsError,
    NotFoundError,
    PermanentApiError,
    UnknownWriteOutcome,
)
from connector.values import to_http_date

BASE = "https://shop.retail.lightspeed.app"
TOKEN = "lsxs_pt_SECRET-TOKEN-1234"
REGISTER = "b1e198a9-f019-11e3-a0f5-b8ca3a64f8f4"
USER = "b1ed6158-f019-11e3-a0f5-b8ca3a64f8f4"
PRODUCT = "b1d87b58-f019-11e3-a0f5-b8ca3a64f8f4"
TAX = "b1d192bc-f019-11e3-a0f5-b8ca3a64f8f4"
PAYMENT_TYPE = "b1e1d70e-f019-11e3-a0f5-b8ca3a64f8f4"
SALE = "a604d16b-a999-a82b-11e7-2ddc0a37c22b"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))


def a_sale(**changes) -> RegisterSale:
    at = datetime(2026, 2, 28, 23, 35, 34, tzinfo=timezone.utc)
    fields = dict(
        register_id=REGISTER,
        user_id=USER,
        sale_date=at,
        status="CLOSED",
        state="closed",
        note="BigCommerce order #1484",
        invoice_number="BC-1484",
        source="BIGCOMMERCE",
        source_id="1484",
        register_sale_products=[
            RegisterSaleProduct(
                product_id=PRODUCT, quantity=Decimal("2"), price=Decimal("19.99"),
                tax=Decimal("3.00"), tax_id=TAX, sequence=0, price_set=True,
            )
        ],
        register_sale_payments=[
            RegisterSalePayment(
                retailer_payment_type_id=PAYMENT_TYPE, amount=Decimal("45.98"), payment_date=at
            )
        ],
    )
    fields.update(changes)
    return RegisterSale(**fields)


SALE_ANSWER = {
    "register_sale": {
        "id": SALE, "source": "BIGCOMMERCE", "source_id": "1484", "register_id": REGISTER,
        "user_id": USER, "sale_date": "2026-02-28 23:35:34", "total_price": 39.98,
        "total_tax": 6, "status": "CLOSED", "invoice_number": "BC-1484",
        "register_sale_products": [
            {"id": "l1", "product_id": PRODUCT, "quantity": 2, "price": 19.99, "tax": 3,
             "tax_id": TAX, "status": "CONFIRMED"}
        ],
        "register_sale_payments": [
            {"id": "p1", "retailer_payment_type_id": PAYMENT_TYPE, "amount": 45.98,
             "payment_date": "2026-02-28 23:35:34"}
        ],
    }
}


# -- paging ---------------------------------------------------------------------------------


async def test_version_cursor_paging_follows_max_and_stops_on_empty(client, api) -> None:
    pages = {
        "0": {"data": [{"id": "p1", "sku": "a", "version": 5}, {"id": "p2", "sku": "b", "version": 10}],
              "version": {"min": 5, "max": 10}},
        "10": {"data": [{"id": "p3", "sku": "c", "version": 25}], "version": {"min": 25, "max": 25}},
        "25": {"data": [], "version": {"min": None, "max": None}},
    }
    route = api.get("/api/2.0/products").mock(
        side_effect=lambda request: httpx.Response(200, json=pages[request.url.params["after"]])
    )
    seen = [page async for page in client.iter_products(page_size=2)]
    assert [[p.id for p in page.items] for page in seen] == [["p1", "p2"], ["p3"]]
    assert [page.max_version for page in seen] == [10, 25]
    assert all(isinstance(page, ProductPage) for page in seen)
    assert [c.request.url.params["after"] for c in route.calls] == ["0", "10", "25"]
    assert {c.request.url.params["page_size"] for c in route.calls} == {"2"}


async def test_the_cursor_never_passes_the_last_item_read(client, api) -> None:
    """A `version.max` beyond the page's own items (say, the collection's) must not skip the items
    between; versions sent as strings ("numbers as strings") still move the cursor."""
    pages = {
        "0": {"data": [{"id": "p1", "sku": "a", "version": "5"}, {"id": "p2", "sku": "b", "version": "10"}],
              "version": {"min": "5", "max": "30"}},
        "10": {"data": [{"id": "p3", "sku": "c", "version": 30}], "version": {"min": 30, "max": 30}},
        "30": {"data": [], "version": {"min": None, "max": None}},
    }
    api.get("/api/2.0/products").mock(
        side_effect=lambda request: httpx.Response(200, json=pages[request.url.params["after"]]))
    seen = [page async for page in client.iter_products(page_size=2)]
    assert [[p.id for p in page.items] for page in seen] == [["p1", "p2"], ["p3"]]
    assert [page.max_version for page in seen] == [10, 30]


async def test_a_server_refusing_a_large_page_size_is_asked_for_the_documented_one(client, api) -> None:
    """The 2.0 maximum page_size is not confirmed (§6): a server that refuses 1000 with a 400 is
    asked again with 200, for the rest of the feed too; one that refuses 200 is an error."""
    def products(request: httpx.Request) -> httpx.Response:
        if int(request.url.params["page_size"]) > 200:
            return httpx.Response(400, json={"error": "page_size must be at most 200"})
        after = request.url.params["after"]
        data = [{"id": "p1", "sku": "a", "version": 5}] if after == "0" else []
        return httpx.Response(200, json={"data": data, "version": {"min": 5, "max": 5} if data else None})

    route = api.get("/api/2.0/products").mock(side_effect=products)
    seen = [p.id for page in [page async for page in client.iter_products()] for p in page.items]
    assert seen == ["p1"]
    assert [(c.request.url.params["after"], c.request.url.params["page_size"]) for c in route.calls] == [
        ("0", "1000"), ("0", "200"), ("5", "200")]
    api.get("/api/2.0/customers").mock(return_value=httpx.Response(400, json={"error": "bad page_size"}))
    with pytest.raises(PermanentApiError):
        [page async for page in client.iter_customers(page_size=200)]


async def test_a_refused_page_size_is_not_asked_for_again(client, api) -> None:
    # Every cycle reads the product and customer feeds: a refusal each time would spend the quota.
    def feed(request: httpx.Request) -> httpx.Response:
        if int(request.url.params["page_size"]) > 200:
            return httpx.Response(400, json={"error": "page_size must be at most 200"})
        return httpx.Response(200, json={"data": []})

    products = api.get("/api/2.0/products").mock(side_effect=feed)
    customers = api.get("/api/2.0/customers").mock(side_effect=feed)
    for _ in range(2):
        assert [page async for page in client.iter_products()] == []
    assert [page async for page in client.iter_customers()] == []
    assert [c.request.url.params["page_size"] for c in products.calls] == ["1000", "200", "200"]
    assert [c.request.url.params["page_size"] for c in customers.calls] == ["200"]


async def test_paging_resumes_after_a_stored_version(client, api) -> None:
    route = api.get("/api/2.0/customers").mock(return_value=httpx.Response(200, json={"data": []}))
    assert [page async for page in client.iter_customers(after_version=777)] == []
    assert route.calls.last.request.url.params["after"] == "777"


async def test_a_cursor_that_does_not_move_is_an_error_not_a_loop(client, api) -> None:
    api.get("/api/2.0/sales").mock(
        return_value=httpx.Response(200, json={"data": [{"id": "s1", "version": 3}],
                                                "version": {"min": 3, "max": 3}})
    )
    with pytest.raises(PermanentApiError):
        async for _ in client.iter_sales(after_version=3):
            pass


async def test_reference_lists_page_to_the_end(client, api) -> None:
    def registers(request: httpx.Request) -> httpx.Response:
        if request.url.params["after"] == "0":
            return httpx.Response(200, json={
                "data": [{"id": REGISTER, "name": "Main", "outlet_id": "o1", "invoice_prefix": "BC-",
                          "invoice_suffix": "", "is_open": True, "version": 4}],
                "version": {"min": 4, "max": 4}})
        return httpx.Response(200, json={"data": [], "version": {"min": None, "max": None}})

    route = api.get("/api/2.0/registers").mock(side_effect=registers)
    found = await client.registers()
    assert [(r.id, r.outlet_id, r.invoice_prefix, r.is_open) for r in found] == [
        (REGISTER, "o1", "BC-", True)
    ]
    # The empty page ends the list (§6), however short the page before it.
    assert [c.request.url.params["after"] for c in route.calls] == ["0", "4"]


async def test_long_reference_lists_follow_the_version_cursor(client, api) -> None:
    def users(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params["after"])
        if after < 150:
            rows = [{"id": f"u{v}", "version": v} for v in range(after + 1, after + 101)]
            return httpx.Response(200, json={"data": rows, "version": {"min": after + 1, "max": after + 100}})
        return httpx.Response(200, json={"data": [], "version": {"min": None, "max": None}})

    route = api.get("/api/2.0/users").mock(side_effect=users)
    found = await client.users()
    assert len(found) == 200 and route.call_count == 3


async def test_retailer_and_taxes(client, api) -> None:
    api.get("/api/2.0/retailer").mock(return_value=httpx.Response(200, json={"data": {
        "id": "r1", "name": "Shop", "tax_exclusive": False, "currency": {"code": "NZD", "symbol": "$"},
        "timezone": "Pacific/Auckland"}}))
    api.get("/api/2.0/taxes").mock(side_effect=[
        httpx.Response(200, json={"data": [{"id": TAX, "name": "GST", "display_name": "GST", "is_default": True,
                                            "rates": [{"id": "x", "name": "GST", "rate": 0.15,
                                                       "display_name": "GST"}], "version": 9}],
                                  "version": {"min": 9, "max": 9}}),
        httpx.Response(200, json={"data": []}),
    ])
    retailer = await client.retailer()
    assert retailer.tax_exclusive is False and retailer.currency.code == "NZD"
    [gst] = await client.taxes()
    assert gst.rate == Decimal("0.15") and gst.is_default



@pytest.mark.parametrize("path", ["taxes", "users", "payment_types"])
async def test_a_reference_list_answered_whole_without_versions_is_read(client, api, path) -> None:
    # §7 lists taxes and users without `version`, and the spec's TaxCollection has no `version`
    # block: a server may give such a collection whole, with no cursor. That list is what it gave;
    # it used to be refused as a cursor that did not move, and start-up stopped there.
    item = {"taxes": {"id": TAX, "name": "GST", "is_default": True, "rates": [{"id": "x", "rate": 0.15}]},
            "users": {"id": USER, "username": "api@example.com", "account_type": "admin"},
            "payment_types": {"id": PAYMENT_TYPE, "name": "Cash"}}[path]
    route = api.get(f"/api/2.0/{path}").mock(return_value=httpx.Response(200, json={"data": [item]}))
    found = await {"taxes": client.taxes, "users": client.users, "payment_types": client.payment_types}[path]()
    assert [x.id for x in found] == [item["id"]] and route.call_count == 1


async def test_a_long_reference_list_without_versions_is_read_once_not_looped(client, api) -> None:
    rows = [{"id": f"u{n}", "username": f"u{n}"} for n in range(150)]
    route = api.get("/api/2.0/users").mock(return_value=httpx.Response(200, json={"data": rows}))
    assert len(await client.users()) == 150 and route.call_count == 1


# -- products -------------------------------------------------------------------------------


async def test_sku_search_lowercases_the_sku(client, api) -> None:
    route = api.get("/api/2.0/search").mock(return_value=httpx.Response(200, json={"data": [
        {"id": PRODUCT, "sku": "ABC123", "name": "Widget", "price_excluding_tax": 19.99, "version": 1}]}))
    [found] = await client.find_products_by_sku("ABC123")
    params = route.calls.last.request.url.params
    assert params["type"] == "products" and params["sku"] == "abc123"
    assert found.id == PRODUCT and found.price_excluding_tax == Decimal("19.99")


async def test_plain_sku_not_found_makes_no_fallback_search(client, api) -> None:
    route = api.get("/api/2.0/search").mock(return_value=httpx.Response(200, json={"data": []}))
    assert await client.find_products_by_sku("ABC123") == []
    assert route.call_count == 1


async def test_hyphenated_sku_falls_back_to_free_text_and_keeps_exact_matches(client, api) -> None:
    def search(request: httpx.Request) -> httpx.Response:
        if "sku" in request.url.params:
            return httpx.Response(200, json={"data": []})  # the live quirk
        assert request.url.params["q"] == "NGH-ROOM"
        return httpx.Response(200, json={"data": [
            {"id": "1", "sku": "NGH-ROOM-2"},
            {"id": "2", "sku": "ngh-room"},
            {"id": "3", "sku": "NGH ROOM"},
            {"id": "4", "sku": "NGH-ROOM", "deleted_at": "2025-01-01T00:00:00+00:00"},
            {"id": "5", "sku": None},
        ]})

    route = api.get("/api/2.0/search").mock(side_effect=search)
    found = await client.find_products_by_sku("NGH-ROOM")
    assert [p.id for p in found] == ["2"]
    assert route.call_count == 2


async def test_a_server_ignoring_the_free_text_search_is_read_to_its_last_page(client, api) -> None:
    """A server that ignores the undocumented `q` answers with every customer: the fallback reads on
    to the last page (a miss on its first page alone would create the customer twice; at most
    Q_FALLBACK_PAGES, test_xseries_q_fallback), and finds none."""
    everyone = [{"id": f"c{i}", "email": f"c{i}@example.com"} for i in range(1000)]

    def search(request: httpx.Request) -> httpx.Response:
        if "email" in request.url.params:
            return httpx.Response(200, json={"data": []})
        # `q` ignored: page after page of everyone (5,000 customers)
        return httpx.Response(200, json={"data": everyone if int(request.url.params["offset"]) < 5000 else []})

    route = api.get("/api/2.0/search").mock(side_effect=search)
    assert await client.search_customers_by_email("ann@my-shop.example") == []
    assert [("q" in c.request.url.params, c.request.url.params["offset"]) for c in route.calls] == [
        (False, "0")] + [(True, str(offset)) for offset in range(0, 6000, 1000)]


async def test_search_pages_by_offset(client, api) -> None:
    full = {"data": [{"id": f"c{i}", "email": "x@example.com"} for i in range(1000)]}
    route = api.get("/api/2.0/search").mock(side_effect=[
        httpx.Response(200, json=full),
        httpx.Response(200, json={"data": [{"id": "last", "email": "x@example.com"}]}),
    ])
    found = await client.search_customers_by_email("x@example.com")
    assert len(found) == 1001
    assert [c.request.url.params["offset"] for c in route.calls] == ["0", "1000"]


async def test_a_404_read_is_not_found(client, api) -> None:
    api.get(f"/api/2.0/products/{PRODUCT}/inventory").mock(
        return_value=httpx.Response(404, json={"error": "product not found"}))
    with pytest.raises(NotFoundError):
        await client.inventory(PRODUCT)


async def test_inventory_levels_are_decimal(client, api) -> None:
    api.get(f"/api/2.0/products/{PRODUCT}/inventory").mock(return_value=httpx.Response(200, json={"data": [
        {"id": "i1", "outlet_id": "o1", "product_id": PRODUCT, "inventory_level": 21, "current_amount": 20.5},
        {"id": "i2", "outlet_id": "o2", "product_id": PRODUCT, "inventory_level": 7},
    ]}))
    records = await client.inventory(PRODUCT)
    assert [(r.outlet_id, r.level) for r in records] == [("o1", Decimal("20.5")), ("o2", Decimal("7"))]


# -- customers ------------------------------------------------------------------------------


async def test_customer_email_match_is_case_insensitive(client, api) -> None:
    route = api.get("/api/2.0/search").mock(return_value=httpx.Response(200, json={"data": [
        {"id": "c1", "first_name": "Jane", "last_name": "Doe", "email": "Jane.Doe@Example.com"},
        {"id": "c2", "first_name": "Jan", "last_name": "Doe", "email": "jane.doe@example.com.au"},
        {"id": "c3", "first_name": "No", "last_name": "Mail", "email": None},
    ]}))
    found = await client.search_customers_by_email("JANE.DOE@example.COM ")
    assert [c.id for c in found] == ["c1"]
    assert route.calls.last.request.url.params["type"] == "customers"


async def test_create_customer_reads_the_201_data(client, api) -> None:
    route = api.post("/api/2.0/customers").mock(return_value=httpx.Response(201, json={"data": {
        "id": "c9", "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com",
        "customer_code": "Jane-37YP", "version": 12}}))
    created = await client.create_customer(
        CustomerCreate(first_name="Jane", last_name="Doe", email="jane@example.com", physical_city="Auckland"))
    assert (created.id, created.customer_code) == ("c9", "Jane-37YP")
    assert json.loads(route.calls.last.request.content) == {
        "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com", "physical_city": "Auckland"}


async def test_create_customer_is_not_retried_on_5xx(client, api) -> None:
    route = api.post("/api/2.0/customers").mock(return_value=httpx.Response(502))
    with pytest.raises(UnknownWriteOutcome):
        await client.create_customer(CustomerCreate(first_name="A", last_name="B"))
    assert route.call_count == 1


# -- sales ----------------------------------------------------------------------------------


async def test_create_sale_posts_the_09_body_and_returns_the_sale(client, api) -> None:
    route = api.post("/api/register_sales").mock(return_value=httpx.Response(200, json=SALE_ANSWER))
    sale = await client.create_sale_document(a_sale().to_json())
    sent = json.loads(route.calls.last.request.content)
    assert "id" not in sent
    assert sent["sale_date"] == "2026-02-28 23:35:34"
    assert (sent["register_id"], sent["user_id"], sent["status"], sent["state"]) == (
        REGISTER, USER, "CLOSED", "closed")
    assert (sent["source"], sent["source_id"], sent["invoice_number"]) == ("BIGCOMMERCE", "1484", "BC-1484")
    assert sent["register_sale_attributes"] == []
    [line] = sent["register_sale_products"]
    assert line == {"product_id": PRODUCT, "quantity": 2, "price": 19.99, "tax": 3, "tax_id": TAX,
                    "sequence": "0", "price_set": 1, "status": "CONFIRMED"}
    [payment] = sent["register_sale_payments"]
    assert payment == {"retailer_payment_type_id": PAYMENT_TYPE, "amount": 45.98,
                       "payment_date": "2026-02-28 23:35:34"}
    # Numbers, not strings, on the X-Series wire.
    assert isinstance(line["price"], float) and isinstance(payment["amount"], float)
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"

    assert sale.id == SALE and sale.status == "CLOSED"
    assert sale.total_price == Decimal("39.98") and sale.total_including_tax == Decimal("45.98")
    assert sale.sale_date == datetime(2026, 2, 28, 23, 35, 34, tzinfo=timezone.utc)
    assert [(li.product_id, li.quantity, li.price) for li in sale.line_items] == [
        (PRODUCT, Decimal("2"), Decimal("19.99"))]
    assert [p.amount for p in sale.payments] == [Decimal("45.98")]


async def test_sale_date_is_sent_in_utc(client, api) -> None:
    route = api.post("/api/register_sales").mock(return_value=httpx.Response(200, json=SALE_ANSWER))
    auckland = timezone(timedelta(hours=13))
    await client.create_sale_document(
        a_sale(sale_date=datetime(2026, 3, 1, 12, 35, 34, tzinfo=auckland)).to_json())
    assert json.loads(route.calls.last.request.content)["sale_date"] == "2026-02-28 23:35:34"


async def test_create_sale_timeout_is_unknown_outcome_after_one_request(client, api) -> None:
    route = api.post("/api/register_sales").mock(side_effect=httpx.ReadTimeout("no answer"))
    with pytest.raises(UnknownWriteOutcome):
        await client.create_sale_document(a_sale().to_json())
    assert route.call_count == 1


async def test_create_sale_500_is_unknown_outcome_without_retry(client, api) -> None:
    route = api.post("/api/register_sales").mock(return_value=httpx.Response(500, json={"error": "oops"}))
    with pytest.raises(UnknownWriteOutcome):
        await client.create_sale_document(a_sale().to_json())
    assert route.call_count == 1


async def test_create_sale_429_is_waited_out_and_retried(client, api, clock) -> None:
    route = api.post("/api/register_sales").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "10"},
                       json={"error": "Too Many Requests", "message": "Rate limiting enforced"}),
        httpx.Response(200, json=SALE_ANSWER),
    ])
    sale = await client.create_sale_document(a_sale().to_json())
    assert sale.id == SALE
    assert route.call_count == 2
    assert clock.monotonic() >= 10


@pytest.mark.parametrize("shape", ["bare", "data-list", "register_sales-list"])
async def test_create_sale_reads_the_sale_from_any_unverified_09_answer_shape(client, api, shape) -> None:
    # §8.7/§13: only the `register_sale` wrapper is sourced; an independent server may answer the
    # sale bare, or as the one item of a list (2.0's `data`, 0.9's `register_sales` collection).
    inner = SALE_ANSWER["register_sale"]
    body = {"bare": inner, "data-list": {"data": [inner]}, "register_sales-list": {"register_sales": [inner]}}[shape]
    api.post("/api/register_sales").mock(return_value=httpx.Response(200, json=body))
    sale = await client.create_sale_document(a_sale().to_json())
    assert (sale.id, sale.status, sale.invoice_number) == (SALE, "CLOSED", "BC-1484")


@pytest.mark.parametrize("body", [{"register_sales": [SALE_ANSWER["register_sale"]] * 2}, {"data": []},
                                  {"status": "CLOSED"}, {"error": "x", "id": 5}])
async def test_a_sale_answer_naming_no_one_sale_is_unknown_outcome(client, api, body) -> None:
    api.post("/api/register_sales").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(UnknownWriteOutcome):
        await client.create_sale_document(a_sale().to_json())


async def test_create_sale_answer_without_sale_is_unknown_outcome(client, api) -> None:
    api.post("/api/register_sales").mock(return_value=httpx.Response(200, text="<html>ok</html>"))
    with pytest.raises(UnknownWriteOutcome):
        await client.create_sale_document(a_sale().to_json())


async def test_update_sale_reposts_the_full_sale_and_is_retried_on_5xx(client, api) -> None:
    voided = {"register_sale": {**SALE_ANSWER["register_sale"], "status": "VOIDED"}}
    route = api.post("/api/register_sales").mock(side_effect=[
        httpx.Response(503), httpx.Response(200, json=voided)])
    sale = await client.update_sale(a_sale(id=SALE, status="VOIDED", state="voided"))
    assert sale.status == "VOIDED"
    assert route.call_count == 2
    sent = json.loads(route.calls.last.request.content)
    assert (sent["id"], sent["status"], sent["state"]) == (SALE, "VOIDED", "voided")
    assert len(sent["register_sale_products"]) == 1  # complete body: left-out lines get deleted


async def test_a_sale_refused_on_a_closed_register_opens_it_and_is_posted_once_more(client, api, clock) -> None:
    # §7/§13, domain D: whether API sales need an open register is unverified. A server that
    # refuses them on a closed register refused every sale until a person opened it (each order
    # parked as a permanent failure); the register is opened and the sale posted once more.
    refused = httpx.Response(422, json={"error": "Register is closed", "message": "Open the register first"})
    sales = api.post("/api/register_sales").mock(side_effect=[refused, httpx.Response(200, json=SALE_ANSWER)])
    read = api.get(f"/api/2.0/registers/{REGISTER}").mock(return_value=httpx.Response(200, json={"data": {
        "id": REGISTER, "name": "Web", "outlet_id": "o1", "is_open": False, "version": 7}}))
    opened = api.put(f"/api/2.0/registers/{REGISTER}/actions/open").mock(return_value=httpx.Response(
        200, json={"data": {"id": REGISTER, "name": "Web", "outlet_id": "o1", "is_open": True, "version": 8}}))
    sale = await client.create_sale_document(a_sale(register_id=REGISTER).to_json())
    assert sale.id == SALE
    assert (sales.call_count, read.call_count, opened.call_count) == (2, 1, 1)
    assert json.loads(opened.calls.last.request.content) == {"register_open_time": "2026-03-01T12:00:00+00:00"}
    assert sales.calls[0].request.content == sales.calls[1].request.content


@pytest.mark.parametrize("is_open", [True, None])
async def test_a_sale_refused_on_an_open_register_is_refused(client, api, is_open) -> None:
    sales = api.post("/api/register_sales").mock(return_value=httpx.Response(422, json={"error": "bad tax_id"}))
    api.get(f"/api/2.0/registers/{REGISTER}").mock(return_value=httpx.Response(200, json={"data": {
        "id": REGISTER, "is_open": is_open, "version": 7}}))
    opened = api.put(f"/api/2.0/registers/{REGISTER}/actions/open").mock(return_value=httpx.Response(200, json={}))
    with pytest.raises(PermanentApiError, match="bad tax_id"):
        await client.create_sale_document(a_sale().to_json())
    assert (sales.call_count, opened.call_count) == (1, 0)


async def test_a_register_that_will_not_open_leaves_the_sales_refusal(client, api) -> None:
    sales = api.post("/api/register_sales").mock(return_value=httpx.Response(400, json={"error": "Register is closed"}))
    api.get(f"/api/2.0/registers/{REGISTER}").mock(return_value=httpx.Response(200, json={"data": {
        "id": REGISTER, "is_open": False, "version": 7}}))
    api.put(f"/api/2.0/registers/{REGISTER}/actions/open").mock(return_value=httpx.Response(
        403, json={"error": "permission denied"}))
    with pytest.raises(PermanentApiError, match="Register is closed"):
        await client.create_sale_document(a_sale().to_json())
    assert sales.call_count == 1


async def test_update_sale_needs_an_id(client) -> None:
    with pytest.raises(ValueError):
        await client.update_sale(a_sale())


async def test_a_sale_is_read_by_its_id_from_the_20_read(client, api) -> None:
    # GET /api/2.0/sales/{id} (§8.5): the sale itself, not the search index; a 404 is NotFoundError
    # (the read expects a completed sale), which the caller takes as "cannot tell".
    from connector.errors import NotFoundError

    api.get(f"/api/2.0/sales/{SALE}").mock(return_value=httpx.Response(200, json={"data": {
        "id": SALE, "status": "VOIDED", "state": "voided", "invoice_number": "BC-1484"}}))
    sale = await client.get_sale(SALE)
    assert sale.id == SALE and sale.status_code == "VOIDED"
    api.get("/api/2.0/sales/other").mock(return_value=httpx.Response(404, json={"error": "sale not found"}))
    with pytest.raises(NotFoundError):
        await client.get_sale("other")


async def test_a_found_sale_normalises_the_20_read(client, api) -> None:
    api.get("/api/2.0/search").mock(return_value=httpx.Response(200, json={"data": [{
        "id": SALE, "status": "CLOSED", "state": "closed", "invoice_number": "BC-1484", "source_id": "1484",
        "total_price": 201.5, "total_tax": 30.1, "sale_date": "2014-09-18T01:37:56+00:00",
        "line_items": [{"id": "l1", "product_id": PRODUCT, "quantity": 1, "price": 200.1, "tax": 30.1}],
        "payments": [{"id": "p1", "retailer_payment_type_id": PAYMENT_TYPE, "amount": 231.6,
                      "payment_date": "2014-09-18T01:37:54Z"}]}]}))
    [sale] = await client.find_sales_by_invoice_number("BC-1484")
    assert sale.total_price == Decimal("201.5") and sale.total_tax == Decimal("30.1")
    assert sale.line_items[0].price == Decimal("200.1")
    assert sale.payments[0].amount == Decimal("231.6")
    assert sale.payments[0].payment_date == datetime(2014, 9, 18, 1, 37, 54, tzinfo=timezone.utc)


async def test_find_sales_by_invoice_number_keeps_exact_matches(client, api) -> None:
    route = api.get("/api/2.0/search").mock(return_value=httpx.Response(200, json={"data": [
        {"id": "s1", "invoice_number": "BC-1484"}, {"id": "s2", "invoice_number": "BC-14845"}]}))
    found = await client.find_sales_by_invoice_number("BC-1484")
    assert [s.id for s in found] == ["s1"]
    params = route.calls.last.request.url.params
    assert params["type"] == "sales" and params["invoice_number"] == "BC-1484"


# -- errors, retries, rate limits -----------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_credentials_errors_do_not_leak_the_token(client, api, status) -> None:
    route = api.get("/api/2.0/retailer").mock(return_value=httpx.Response(
        status, json={"error": "Access token is not valid" if status == 401 else "permission denied"}))
    with pytest.raises(CredentialsError) as caught:
        await client.retailer()
    assert caught.value.status == status
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value.body)
    assert TOKEN not in repr(client)
    assert route.call_count == 1


async def test_retry_after_http_date_waits_until_that_moment(client, api, clock) -> None:
    reset = clock.now() + timedelta(seconds=37)
    sent_at: list[datetime] = []

    def outlets(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.now())
        if len(sent_at) == 1:
            return httpx.Response(429, headers={"Retry-After": to_http_date(reset),
                                                "X-RateLimit-Limit": "350", "X-RateLimit-Remaining": "0"},
                                  json={"error": "Too Many Requests", "message": "Rate limiting enforced"})
        return httpx.Response(200, json={"data": []},
                              headers={"X-RateLimit-Limit": "350", "X-RateLimit-Remaining": "349"})

    api.get("/api/2.0/outlets").mock(side_effect=outlets)
    assert await client.outlets() == []
    assert len(sent_at) == 2
    assert sent_at[1] >= reset
    assert sent_at[1] - reset <= timedelta(seconds=2)  # waited for the moment, not much longer


async def test_retry_after_in_seconds(client, api, clock) -> None:
    route = api.get("/api/2.0/users").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "12"}),
        httpx.Response(200, json={"data": [{"id": USER, "username": "api", "display_name": "API",
                                            "email": "api@example.com", "version": 1}]}),
        httpx.Response(200, json={"data": []}),
    ])
    [user] = await client.users()
    assert user.id == USER
    assert route.call_count == 3  # the 429, the page again, the empty page that ends the list
    assert 12 <= clock.monotonic() <= 14


async def test_get_is_retried_on_5xx_and_connection_errors(client, api) -> None:
    route = api.get("/api/2.0/payment_types").mock(side_effect=[
        httpx.Response(500),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={"data": [{"id": PAYMENT_TYPE, "name": "Cash", "type_id": 1, "version": 2}]}),
        httpx.Response(200, json={"data": []}),
    ])
    [cash] = await client.payment_types()
    assert (cash.id, cash.name) == (PAYMENT_TYPE, "Cash")
    assert route.call_count == 5  # three failures, the page, the empty page that ends the list
    assert client.transport.stats.retries == 3


async def test_pacer_learns_the_quota_from_responses(client, api) -> None:
    api.get("/api/2.0/outlets").mock(return_value=httpx.Response(
        200, json={"data": []}, headers={"X-RateLimit-Limit": "350", "X-RateLimit-Remaining": "12"}))
    await client.outlets()
    assert (client.pacer.limit, client.pacer.remaining) == (350, 12)


async def test_money_parsing_is_exact_decimal(client, api) -> None:
    api.get("/api/2.0/search").mock(return_value=httpx.Response(200, json={"data": [{
        "id": PRODUCT, "sku": "w", "name": "Widget", "price_excluding_tax": 0.1,
        "price_including_tax": 0.115, "supply_price": "1.2300", "has_inventory": False,
        "version": 5, "is_active": True, "deleted_at": None}]}))
    [product] = await client.find_products_by_sku("w")
    assert product.price_excluding_tax == Decimal("0.1")
    assert product.price_including_tax == Decimal("0.115")
    assert product.supply_price == Decimal("1.2300")
    assert product.has_inventory is False


async def test_custom_api_url_and_headers(clock) -> None:
    with respx.mock(base_url="http://127.0.0.1:8099/xs") as mock:
        route = mock.get("/api/2.0/retailer").mock(
            return_value=httpx.Response(200, json={"data": {"id": "r1", "currency": "NZD"}}))
        async with XSeriesClient(domain_prefix="shop", token=TOKEN, api_url="http://127.0.0.1:8099/xs/",
                                 clock=clock) as xs:
            retailer = await xs.retailer()
        assert retailer.currency.code == "NZD"
        headers = route.calls.last.request.headers
        assert headers["Accept"] == "application/json" and headers["User-Agent"].startswith("order-sync/")


def test_a_stored_sale_body_round_trips_through_json() -> None:
    # The sync stores the posted body to re-post it (void); it must come back identical.
    body = a_sale(id=SALE)
    assert RegisterSale.model_validate_json(body.model_dump_json(exclude_none=True)) == body


# -- search answers that include deleted objects ------------------------------------------------
# The search's `deleted` parameter has no documented default: a server may answer deleted products
# and customers unasked. Binding a lost create to a deleted one would put it on every later sale.

async def test_sku_search_leaves_out_deleted_and_other_skus(client, api) -> None:
    api.get("/api/2.0/search").mock(return_value=httpx.Response(200, json={"data": [
        {"id": "old", "sku": "ABC123", "deleted_at": "2025-01-01T00:00:00+00:00", "version": 1},
        {"id": "near", "sku": "ABC1234", "version": 2},
        {"id": "live", "sku": "abc123", "version": 3},
    ]}))
    assert [p.id for p in await client.find_products_by_sku("ABC123")] == ["live"]


async def test_customer_search_leaves_out_deleted_customers(client, api) -> None:
    api.get("/api/2.0/search").mock(return_value=httpx.Response(200, json={"data": [
        {"id": "old", "email": "jane@example.com", "deleted_at": "2025-01-01T00:00:00+00:00"},
        {"id": "live", "email": "Jane@example.com"},
    ]}))
    assert [c.id for c in await client.search_customers_by_email("jane@example.com")] == ["live"]


@pytest.mark.parametrize("status", [400, 422])
async def test_a_server_refusing_the_undocumented_free_text_search_finds_nothing(client, api, status) -> None:
    # `q` is not in the spec: a server may refuse it. That is "not found", not a broken order.
    def search(request: httpx.Request) -> httpx.Response:
        if "q" in request.url.params:
            return httpx.Response(status, json={"error": "Bad Request", "message": "unknown parameter q"})
        return httpx.Response(200, json={"data": []})

    api.get("/api/2.0/search").mock(side_effect=search)
    assert await client.find_products_by_sku("NGH-ROOM") == []
