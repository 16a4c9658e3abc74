"""XSeriesClient's product calls against respx mocks: the 2.0 create (a product or a variant family),
the 0.9 create of products that are not stock-tracked, variant attributes, and the reference data
the sale maths reads (retailer currency, discount product, tax rates)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pydantic
import pytest

from connector.clients.xseries_models import ProductCreate, ProductVariantCreate, VariantDefinition
from connector.clock import FakeClock
from connector.errors import UnknownWriteOutcome

BASE = "https://shop.retail.lightspeed.app"
NEW_ID = "0717b8d6-a4eb-858b-351d-16274fdf186c"
SIZE = "069db350-8d41-11eb-f6a9-869155c00090"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))


def sent(route) -> dict:
    return json.loads(route.calls.last.request.content)


# -- 2.0 create -----------------------------------------------------------------------------------

async def test_create_product_sends_the_20_body_and_returns_the_ids(client, api) -> None:
    route = api.post("/api/2.0/products").mock(return_value=httpx.Response(200, json={"data": [NEW_ID]}))
    body = ProductCreate(name="Mug", sku="MUG-1", handle="mug", source_id="bc-7",
                         price_excluding_tax=Decimal("4.30435"), supply_price=Decimal("0.10"))
    assert await client.create_product(body) == [NEW_ID]
    assert sent(route) == {"name": "Mug", "sku": "MUG-1", "handle": "mug", "source_id": "bc-7", "is_active": True,
                           "price_excluding_tax": 4.30435, "supply_price": 0.1}
    assert b'"price_excluding_tax":4.30435' in route.calls.last.request.content


async def test_a_family_create_sends_its_variants_and_returns_every_id(client, api) -> None:
    ids = ["11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002"]
    route = api.post("/api/2.0/products").mock(return_value=httpx.Response(200, json={"data": ids}))
    body = ProductCreate(name="Oxford Shirt", variants=[
        ProductVariantCreate(sku="OX-S", price_including_tax=Decimal("30"),
                             variant_definitions=[VariantDefinition(attribute_id=SIZE, value="S")]),
        ProductVariantCreate(sku="OX-L", price_including_tax=Decimal("32.50"), supply_price=Decimal("11"),
                             variant_definitions=[VariantDefinition(attribute_id=SIZE, value="L")]),
    ])
    assert await client.create_product(body) == ids
    assert sent(route) == {"name": "Oxford Shirt", "is_active": True, "variants": [
        {"sku": "OX-S", "price_including_tax": 30, "variant_definitions": [{"attribute_id": SIZE, "value": "S"}]},
        {"sku": "OX-L", "price_including_tax": 32.5, "supply_price": 11,
         "variant_definitions": [{"attribute_id": SIZE, "value": "L"}]},
    ]}


@pytest.mark.parametrize("make", [
    lambda: ProductCreate(name="x", price_excluding_tax=Decimal(1), price_including_tax=Decimal("1.15")),
    lambda: ProductVariantCreate(price_excluding_tax=Decimal(1), price_including_tax=Decimal("1.15"),
                                 variant_definitions=[]),
    # Not a field of the 2.0 body: a live store would drop it and track the product's stock.
    lambda: ProductCreate(name="Shipping", track_inventory=False),
    lambda: ProductVariantCreate(variant_definitions=[], variant_parent_id=NEW_ID),
], ids=["both-prices", "variant-both-prices", "track_inventory", "variant_parent_id"])
def test_bodies_the_spec_refuses_cannot_be_built(make) -> None:
    with pytest.raises(pydantic.ValidationError):
        make()


@pytest.mark.parametrize("answer", [{"data": []}, {"data": [None]}, {"data": {}}, {"ok": True}])
async def test_a_create_answer_without_ids_is_an_unknown_outcome(client, api, answer) -> None:
    api.post("/api/2.0/products").mock(return_value=httpx.Response(200, json=answer))
    with pytest.raises(UnknownWriteOutcome):
        await client.create_product(ProductCreate(name="x", sku="x"))


async def test_a_create_answering_a_list_of_objects_gives_their_ids(client, api) -> None:
    # The spec's schema types the answer's items as objects, its example as bare ids: either reads.
    api.post("/api/2.0/products").mock(return_value=httpx.Response(200, json={"data": [{"id": NEW_ID}]}))
    assert await client.create_product(ProductCreate(name="x")) == [NEW_ID]


async def test_a_create_answering_one_object_gives_its_id(client, api) -> None:
    api.post("/api/2.0/products").mock(return_value=httpx.Response(200, json={"data": {"id": NEW_ID}}))
    assert await client.create_product(ProductCreate(name="x")) == [NEW_ID]


@pytest.mark.parametrize("path", ["/api/2.0/products", "/api/products"])
async def test_a_lost_create_answer_is_an_unknown_outcome_after_one_request(client, api, path) -> None:
    route = api.post(path).mock(side_effect=httpx.ReadTimeout("no answer"))
    with pytest.raises(UnknownWriteOutcome):
        if path == "/api/products":
            await client.create_untracked_product(name="Shipping", sku="bc-shipping", handle="bc-shipping")
        else:
            await client.create_product(ProductCreate(name="Mug"))
    assert route.call_count == 1


# -- 0.9 create: not stock-tracked ----------------------------------------------------------------

@pytest.mark.parametrize("answer, expected", [
    ({"product": {"id": NEW_ID, "name": "Shipping"}}, NEW_ID),
    ({"id": NEW_ID, "name": "Shipping"}, NEW_ID),
    ({"product": {"name": "Shipping"}}, None),
    ({}, None),
    # The 0.9 answer's wrapper is unverified (§9.3): 2.0's `data` or a one-item list read the same.
    ({"data": {"id": NEW_ID, "name": "Shipping"}}, NEW_ID),
    ({"data": [NEW_ID]}, NEW_ID),
    ({"products": [{"id": NEW_ID, "name": "Shipping"}]}, NEW_ID),
    ({"product": [{"id": NEW_ID}]}, NEW_ID),
    ({"products": [{"id": NEW_ID}, {"id": "another"}]}, None),  # which one is ours? look it up
], ids=["wrapped", "bare", "wrapped-without-id", "empty", "data", "data-ids", "products-list", "product-list",
        "two-products"])
async def test_untracked_product_posts_the_09_body_and_reads_either_answer(client, api, answer, expected) -> None:
    route = api.post("/api/products").mock(return_value=httpx.Response(200, json=answer))
    got = await client.create_untracked_product(name="Shipping", sku="bc-shipping", handle="bc-shipping",
                                                source_id="bc-shipping")
    assert got == expected
    assert sent(route) == {"name": "Shipping", "sku": "bc-shipping", "handle": "bc-shipping",
                           "source_id": "bc-shipping", "active": True, "track_inventory": False}


async def test_an_untracked_create_answered_without_json_is_an_unknown_outcome(client, api) -> None:
    api.post("/api/products").mock(return_value=httpx.Response(200, text="<html>ok</html>"))
    with pytest.raises(UnknownWriteOutcome):
        await client.create_untracked_product(name="Fee", sku="bc-fee", handle="bc-fee")


# -- reference data -------------------------------------------------------------------------------

async def test_variant_attributes(client, api) -> None:
    api.get("/api/2.0/variant_attributes").mock(return_value=httpx.Response(200, json={"data": [
        {"id": SIZE, "name": "Size", "deleted_at": None},
        {"id": NEW_ID, "name": "Old", "deleted_at": "2024-01-02T03:04:05+00:00"},
    ]}))
    size, old = await client.variant_attributes()
    assert (size.id, size.name, size.deleted_at) == (SIZE, "Size", None)
    assert old.deleted_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


async def test_retailer_currency_discount_product_and_group_tax_rate(client, api) -> None:
    api.get("/api/2.0/retailer").mock(return_value=httpx.Response(200, json={"data": {
        "id": "r1", "tax_exclusive": True, "currency": {"code": "GBP", "symbol": "£"},
        "discount_product_id": NEW_ID}}))
    api.get("/api/2.0/taxes").mock(return_value=httpx.Response(200, json={"data": [
        {"id": "t1", "name": "GST + PST", "version": 3,
         "rates": [{"id": "a", "rate": 0.05}, {"id": "b", "rate": 0.07}]}]}))
    retailer = await client.retailer()
    assert (retailer.currency.code, retailer.discount_product_id, retailer.tax_exclusive) == ("GBP", NEW_ID, True)
    [tax] = await client.taxes()
    assert tax.rate == Decimal("0.12")
