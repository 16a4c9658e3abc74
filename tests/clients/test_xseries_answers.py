"""XSeriesClient against answers an independent X-Series implementation may give from the same
reference: lists without `data`, taxes without rates, reference lists cut into pages smaller than
asked for. Each reads as the reference allows, or fails as an ApiError naming the endpoint."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pytest

from connector.clients.xseries_sale_models import RegisterSale, RegisterSalePayment, RegisterSaleProduct, WrittenSale
from connector.clock import FakeClock
from connector.errors import ApiError

TAX = "b1d192bc-f019-11e3-a0f5-b8ca3a64f8f4"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))


# -- reference lists end on an empty page (§6) ----------------------------------------------------


async def test_a_reference_list_in_pages_smaller_than_asked_is_read_to_the_empty_page(client, api) -> None:
    # §6: "stop when `data` is empty". A server that caps pages at 50, below what we ask for (and
    # below the 100 the old short-page shortcut took for "cannot have been cut short"), used to
    # lose every register after the first page.
    def registers(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params["after"])
        rows = [{"id": f"r{v}", "name": f"R{v}", "outlet_id": "o1", "version": v}
                for v in range(after + 1, min(after + 50, 120) + 1)]
        return httpx.Response(200, json={"data": rows, "version": {"min": rows[0]["version"], "max": rows[-1][
            "version"]} if rows else {"min": None, "max": None}})

    route = api.get("/api/2.0/registers").mock(side_effect=registers)
    found = await client.registers()
    assert [r.id for r in found] == [f"r{v}" for v in range(1, 121)]
    assert [c.request.url.params["after"] for c in route.calls] == ["0", "50", "100", "120"]


async def test_a_reference_list_server_ignoring_after_is_read_once_not_refused(client, api) -> None:
    # Read to the empty page, a list from a server that ignores `after` comes back whole: nothing
    # after the cursor is the end of a reference list, not a cursor that did not move.
    route = api.get("/api/2.0/taxes").mock(return_value=httpx.Response(200, json={"data": [
        {"id": TAX, "name": "GST", "version": 3, "rates": [{"id": "a", "rate": 0.15}]}]}))
    assert [t.rate for t in await client.taxes()] == [Decimal("0.15")]
    assert route.call_count == 2


# -- taxes without rates (start-up maps tax by rate) ----------------------------------------------


@pytest.mark.parametrize("rates", [None, "missing", []])
async def test_a_tax_answered_without_rates_is_a_tax_with_no_component_rates(client, api, rates) -> None:
    # The spec's Tax does not require `rates`; an implementation may send it null. It used to fail
    # validation, and start-up (which reads every tax) stopped with a pydantic traceback.
    no_tax = {"id": TAX, "name": "No Tax", "is_default": False, "version": 2}
    if rates != "missing":
        no_tax["rates"] = rates
    gst = {"id": "gst", "name": "GST", "is_default": True, "version": 3, "rates": [{"id": "g", "rate": 0.15}]}
    api.get("/api/2.0/taxes").mock(side_effect=[httpx.Response(200, json={"data": [no_tax, gst]}),
                                                httpx.Response(200, json={"data": []})])
    found = await client.taxes()
    assert [(t.id, t.rates, t.rate) for t in found] == [(TAX, [], Decimal(0)), ("gst", found[1].rates, Decimal("0.15"))]


async def test_a_tax_rate_without_its_rate_is_an_error_naming_the_tax(client, api) -> None:
    # A component without its rate cannot be mapped by rate, nor read as zero (a GST taken for
    # "No Tax" would sell untaxed): start-up stops on an ApiError that says which tax.
    api.get("/api/2.0/taxes").mock(return_value=httpx.Response(200, json={"data": [
        {"id": TAX, "name": "GST", "version": 3, "rates": [{"id": "g", "name": "GST", "rate": None}]}]}))
    with pytest.raises(ApiError, match=r"GET /api/2.0/taxes.*GST.*rate") as caught:
        await client.taxes()
    assert TAX in str(caught.value)


# -- a sale answer in the 2.0 shapes keeps its line and payment ids -------------------------------


def a_sale() -> RegisterSale:
    return RegisterSale(
        register_id="reg", user_id="usr", status="CLOSED", state="closed", invoice_number="BC-1484",
        register_sale_products=[
            RegisterSaleProduct(product_id="p1", quantity=Decimal(2), price=Decimal("19.99"), tax=Decimal(3),
                                tax_id="tax"),
            RegisterSaleProduct(product_id="p2", quantity=Decimal(1), price=Decimal(5), tax=Decimal("0.75"),
                                tax_id="tax")],
        register_sale_payments=[RegisterSalePayment(retailer_payment_type_id="cc", amount=Decimal("50.73"))],
    )


ANSWERS_20 = {
    # The 2.0 read of a sale (§8.5): line_items and payments, with the 0.9 fields' own names.
    "2.0": {"id": "s1", "state": "closed", "invoice_number": "BC-1484", "total_price": 44.98, "total_tax": 6.75,
            "line_items": [{"id": "l1", "product_id": "p1"}, {"id": "l2", "product_id": "p2"}],
            "payments": [{"id": "y1", "retailer_payment_type_id": "cc"}]},
    # The date-versioned sale (§8.6): product{id}, type{config_id}, totals{price, tax}.
    "2026": {"id": "s1", "state": "closed", "invoice_number": "BC-1484",
             "totals": {"price": "44.98", "price_incl_tax": "51.73", "tax": "6.75"},
             "line_items": [{"id": "l1", "product": {"id": "p1"}}, {"id": "l2", "product": {"id": "p2"}}],
             "payments": [{"id": "y1", "type": {"config_id": "cc"}}]},
}


@pytest.mark.parametrize("shape", ANSWERS_20)
async def test_a_sale_answer_in_a_20_shape_gives_its_line_and_payment_ids(client, api, shape) -> None:
    # A void re-posts the whole sale, and lines it does not name are deleted and replaced (§8.3): the
    # ids read only from register_sale_products used to be lost for a 2.0-shaped answer.
    api.post("/api/register_sales").mock(return_value=httpx.Response(200, json={"data": ANSWERS_20[shape]}))
    written = await client.create_sale_document(a_sale().to_json(), answer=WrittenSale)
    body = written.ids_into(a_sale())
    assert [line.id for line in body.register_sale_products] == ["l1", "l2"]
    assert [payment.id for payment in body.register_sale_payments] == ["y1"]
    assert (written.id, written.state, written.invoice_number) == ("s1", "closed", "BC-1484")
    # The totals X-Series made of the lines, which the order path checks against what was sent.
    assert (written.total_price, written.total_tax) == (Decimal("44.98"), Decimal("6.75"))


async def test_a_20_answer_naming_other_products_gives_no_line_ids(client, api) -> None:
    answer = {**ANSWERS_20["2026"], "line_items": [{"id": "l1", "product": {"id": "p9"}},
                                                   {"id": "l2", "product": {"id": "p2"}}]}
    api.post("/api/register_sales").mock(return_value=httpx.Response(200, json={"data": answer}))
    written = await client.create_sale_document(a_sale().to_json(), answer=WrittenSale)
    assert [line.id for line in written.ids_into(a_sale()).register_sale_products] == [None, None]


# -- answers without `data` -----------------------------------------------------------------------

# The spec's collections and its search answer do not require `data` (only TaxCollection and
# UserCollection do), and the 2026 spec gives an empty list `version` {min: null, max: null}: an
# answer without `data` is an empty list. Each used to fail as "has no data".
EMPTY_LISTS = {
    "search": ("/api/2.0/search", lambda xs: xs.find_products_by_sku("abc")),
    "inventory": ("/api/2.0/products/p1/inventory", lambda xs: xs.inventory("p1")),
    "variant_attributes": ("/api/2.0/variant_attributes", lambda xs: xs.variant_attributes()),
    "registers": ("/api/2.0/registers", lambda xs: xs.registers()),
    "products": ("/api/2.0/products", lambda xs: _pages(xs.iter_products())),
}


async def _pages(feed) -> list:
    return [page async for page in feed]


@pytest.mark.parametrize("body", [{}, {"version": {"min": None, "max": None}}, {"data": None}])
@pytest.mark.parametrize("endpoint", EMPTY_LISTS)
async def test_a_list_answered_without_data_is_empty(client, api, endpoint, body) -> None:
    path, call = EMPTY_LISTS[endpoint]
    api.get(path).mock(return_value=httpx.Response(200, json=body))
    assert await call(client) == []


@pytest.mark.parametrize("body", [{}, {"version": {"min": None, "max": None}}, {"error": "internal"}, [], "ok"])
@pytest.mark.parametrize("path", ["taxes", "users"])
async def test_a_list_whose_schema_requires_data_is_an_error_naming_it(client, api, path, body) -> None:
    # TaxCollection and UserCollection require `data`; so does any list answer that is not a JSON
    # object, or that says it is an error: an ApiError naming the endpoint, never a traceback.
    api.get(f"/api/2.0/{path}").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ApiError, match=f"GET /api/2.0/{path}"):
        await getattr(client, path)()


@pytest.mark.parametrize("body", [{"error": "internal"}, [], {"data": "yes"}])
async def test_a_search_answer_that_cannot_be_a_list_is_an_error_naming_it(client, api, body) -> None:
    api.get("/api/2.0/search").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ApiError, match="GET /api/2.0/search"):
        await client.find_sales_by_invoice_number("BC-1")


@pytest.mark.parametrize("item", [{"invoice_number": "BC-1"}, "BC-1", {"id": "s1", "line_items": "none"}])
async def test_a_search_item_that_cannot_be_read_is_an_error_naming_it(client, api, item) -> None:
    # A sale without its id, or not an object: a lost write's look-up (§8.4) fails as an ApiError
    # naming the endpoint and the item, as a reference list's does, not a validation traceback.
    api.get("/api/2.0/search").mock(return_value=httpx.Response(200, json={"data": [item]}))
    with pytest.raises(ApiError, match="GET /api/2.0/search") as err:
        await client.find_sales_by_invoice_number("BC-1")
    assert "cannot be read" in str(err.value)


@pytest.mark.parametrize("body", [{}, {"data": None}, {"data": []}, {"error": "not found"}])
async def test_a_retailer_answer_without_the_retailer_is_an_error_naming_it(client, api, body) -> None:
    # Start-up reads the retailer for its currency and tax mode: nothing can stand in for it.
    # {"data": null} failed validation with a traceback.
    api.get("/api/2.0/retailer").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ApiError, match="GET /api/2.0/retailer"):
        await client.retailer()


async def test_a_retailer_answered_as_a_list_of_one_is_read(client, api) -> None:
    # As GET /user's examples give its object (a list of one), so an implementation may the retailer.
    api.get("/api/2.0/retailer").mock(return_value=httpx.Response(200, json={"data": [{"id": "r1", "currency": "NZD"}]}))
    assert (await client.retailer()).currency.code == "NZD"


@pytest.mark.parametrize("body", [{}, {"data": None}, {"data": []}])
async def test_the_current_user_answered_without_data_is_none(client, api, body) -> None:
    # UserResponse does not require `data`: no user, and start-up falls back to the first admin.
    # {} used to stop start-up with "has no data".
    api.get("/api/2.0/user").mock(return_value=httpx.Response(200, json=body))
    assert await client.current_user() is None


async def test_the_current_user_answered_with_an_error_is_an_error_naming_it(client, api) -> None:
    api.get("/api/2.0/user").mock(return_value=httpx.Response(200, json={"error": "permission denied"}))
    with pytest.raises(ApiError, match="GET /api/2.0/user.*permission denied"):
        await client.current_user()
