"""The free-text `q` fallback of an exact look-up (a server whose keyed search misses hyphenated
values, §9.1) is paged on until the exact match is found: a sale missed among the substring matches
of its number would be written a second time. Past Q_FALLBACK_PAGES it says so instead of "none"."""

from __future__ import annotations

import httpx
import pytest

from connector.clients import xseries_paging
from connector.errors import PermanentApiError


def search_of(sales: list[dict]):
    """GET /api/2.0/search of a server whose invoice_number search misses hyphenated numbers and whose
    `q` lists every sale containing the text, in the given order, paged by offset."""
    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if "q" not in params:
            return httpx.Response(200, json={"data": []})
        found = [s for s in sales if params["q"].lower() in s["invoice_number"].lower()]
        offset, size = int(params["offset"]), int(params["page_size"])
        return httpx.Response(200, json={"data": found[offset:offset + size]})
    return answer


def others(count: int) -> list[dict]:
    """Sales of other orders whose numbers contain BC-100 (BC-1000, BC-10000, …)."""
    return [{"id": f"other-{i}", "invoice_number": f"BC-100{i}"} for i in range(count)]


async def test_the_q_fallback_reads_on_past_its_first_page(client, api) -> None:
    route = api.get("/api/2.0/search").mock(side_effect=search_of(
        others(1110) + [{"id": "ours", "invoice_number": "BC-100"}]))
    [sale] = await client.find_sales_by_invoice_number("BC-100")
    assert sale.id == "ours"
    offsets = [c.request.url.params["offset"] for c in route.calls if "q" in c.request.url.params]
    assert offsets == ["0", "1000"]


async def test_the_q_fallback_stops_at_the_page_with_the_match(client, api) -> None:
    route = api.get("/api/2.0/search").mock(side_effect=search_of(
        [{"id": "ours", "invoice_number": "BC-100"}] + others(2500)))
    [sale] = await client.find_sales_by_invoice_number("BC-100")
    assert sale.id == "ours"
    assert len([c for c in route.calls if "q" in c.request.url.params]) == 1


async def test_the_q_fallback_past_its_page_cap_says_it_could_not_tell(client, api, monkeypatch) -> None:
    monkeypatch.setattr(xseries_paging, "SEARCH_PAGE_SIZE", 10)
    monkeypatch.setattr(xseries_paging, "Q_FALLBACK_PAGES", 3)
    route = api.get("/api/2.0/search").mock(side_effect=search_of(
        others(40) + [{"id": "ours", "invoice_number": "BC-100"}]))
    with pytest.raises(PermanentApiError, match="BC-100"):
        await client.find_sales_by_invoice_number("BC-100")
    assert len([c for c in route.calls if "q" in c.request.url.params]) == 3


async def test_the_q_fallback_whose_last_page_is_the_cap_page_finds_none(client, api, monkeypatch) -> None:
    """Its page cap reached on a short page: that page was the last, everything was read."""
    monkeypatch.setattr(xseries_paging, "SEARCH_PAGE_SIZE", 10)
    monkeypatch.setattr(xseries_paging, "Q_FALLBACK_PAGES", 3)
    route = api.get("/api/2.0/search").mock(side_effect=search_of(others(25)))  # pages of 10, 10, 5
    assert await client.find_sales_by_invoice_number("BC-100") == []
    assert len([c for c in route.calls if "q" in c.request.url.params]) == 3


async def test_the_q_fallback_that_runs_out_of_pages_finds_none(client, api) -> None:
    api.get("/api/2.0/search").mock(side_effect=search_of(others(1500)))
    assert await client.find_sales_by_invoice_number("BC-100") == []


async def test_a_customer_past_the_page_cap_is_taken_as_not_found(client, api, monkeypatch, caplog) -> None:
    """A duplicate customer is less harm than an order parked: the cap raises for sales only."""
    monkeypatch.setattr(xseries_paging, "SEARCH_PAGE_SIZE", 10)
    monkeypatch.setattr(xseries_paging, "Q_FALLBACK_PAGES", 3)

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if "q" not in params:
            return httpx.Response(200, json={"data": []})
        rows = [{"id": f"c{i}", "email": f"a-{i}@x.example"} for i in range(100)]
        offset, size = int(params["offset"]), int(params["page_size"])
        return httpx.Response(200, json={"data": rows[offset:offset + size]})

    route = api.get("/api/2.0/search").mock(side_effect=answer)
    assert await client.search_customers_by_email("new-one@x.example") == []
    assert len([c for c in route.calls if "q" in c.request.url.params]) == 3
    assert "taken as not found" in caplog.text
