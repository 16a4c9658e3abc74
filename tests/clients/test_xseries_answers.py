"""XSeriesClient against answers an independent X-Series implementation may give from the same
reference: lists without `data`, taxes without rates, reference lists cut into pages smaller than
asked for. Each reads as the reference allows, or fails as an ApiError naming the endpoint."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pytest

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

