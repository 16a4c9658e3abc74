"""Consignments that do not hold the whole order are not "an order without lines": /products is read.

No property of orderConsignment_Get is required (O2), so `{}` or every list empty is an answer the
spec allows from a store that left the line items out; and the embedded quantities must add up to
the order's items_total, or the embed was partial.
"""

from __future__ import annotations

import httpx
import pytest
import respx

from connector.clients.bigcommerce_consignments import consignment_lines
from connector.clients.bigcommerce_models import Order
import test_bigcommerce_client as bc_client_tests
from test_bigcommerce_client import API, line, order

# The BigCommerce client's fixtures, from its own module (this folder's conftest has X-Series' client).
client, clock = bc_client_tests.client, bc_client_tests.clock

EMPTY_LISTS = {"pickups": [], "shipping": [], "downloads": [], "email": {}}
EMPTY_ALL = {"pickups": [], "shipping": [], "downloads": [], "email": {"gift_certificates": []}}


def products_of(n: int) -> list[dict]:
    return [line(65, 218, quantity=2), line(66, 218, quantity=2)][:n]


@pytest.mark.parametrize("consignments", [{}, EMPTY_LISTS, EMPTY_ALL, [], [{}], [EMPTY_LISTS]],
                         ids=["empty-object", "empty-lists", "empty-email-list", "empty-array", "array-of-empty",
                              "array-of-empty-lists"])
@respx.mock
async def test_consignments_with_no_line_item_read_products(client, consignments):
    respx.get(f"{API}/v2/orders/218").mock(
        return_value=httpx.Response(200, json=order(218, consignments=consignments, items_total=4)))
    products = respx.get(f"{API}/v2/orders/218/products").mock(return_value=httpx.Response(200, json=products_of(2)))
    # Nor any shipping consignment, while shipping_address_count is 1: the addresses are read too.
    addresses = respx.get(f"{API}/v2/orders/218/shipping_addresses").mock(return_value=httpx.Response(204))
    got = await client.get_order(218)
    assert products.call_count == 1 and addresses.call_count == 1
    assert [(li.id, li.quantity) for li in got.lines] == [(65, 2), (66, 2)] and got.lines_included


@respx.mock
async def test_a_partial_embed_reads_products(client):
    # items_total 4: the embedded line's 2 units are not the whole order.
    partial = order(218, items_total=4, lines=[line(65, 218, quantity=2)])
    respx.get(f"{API}/v2/orders/218").mock(return_value=httpx.Response(200, json=partial))
    products = respx.get(f"{API}/v2/orders/218/products").mock(return_value=httpx.Response(200, json=products_of(2)))
    got = await client.get_order(218)
    assert products.call_count == 1 and [li.id for li in got.lines] == [65, 66]


@pytest.mark.parametrize("items_total", [4, 4.0, "4", None, "n/a"], ids=["int", "float", "string", "absent", "unreadable"])
@respx.mock
async def test_a_whole_embed_costs_no_products_call(client, items_total):
    whole = order(218, items_total=items_total, lines=products_of(2))
    if items_total is None:
        del whole["items_total"]
    respx.get(f"{API}/v2/orders/218").mock(return_value=httpx.Response(200, json=whole))
    products = respx.get(f"{API}/v2/orders/218/products")
    got = await client.get_order(218)
    assert not products.called and [li.id for li in got.lines] == [65, 66] and got.lines_included


def test_the_parse_alone_says_lines_not_included():
    """Order.from_api without /products: no lines found is "not included", never "none sold"."""
    for consignments in ({}, EMPTY_LISTS, []):
        parsed = Order.from_api(order(218, consignments=consignments, items_total=4))
        assert parsed.lines == [] and not parsed.lines_included
    assert consignment_lines(EMPTY_LISTS) is None and consignment_lines({}, 0) is None
    # A line repeated in two consignments counts once toward items_total.
    twice = {"shipping": [{"line_items": [line(1, 9, quantity=3)]}], "pickups": [{"line_items": [line(1, 9, quantity=3)]}]}
    assert [item["id"] for _, item in consignment_lines(twice, 3)] == [1]
    assert consignment_lines(twice, 6) is None
