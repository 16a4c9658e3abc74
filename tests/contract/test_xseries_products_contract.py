"""Product and sale bodies against Lightspeed's own files: the client's 2.0 product create bodies
(a product, a variant family) validate against ProductCreateBody of the API 2.0 spec, its 0.9 body
and sale body use only keys of the Postman collection's examples, and the simulator refuses what
the spec refuses because its tables are the spec's (compared here)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.clients.xseries_models import (
    ProductCreate,
    ProductCreate09,
    ProductInventory,
    ProductVariantCreate,
    VariantDefinition,
)
from connector.clients.xseries_sale_models import RegisterSale, RegisterSalePayment, RegisterSaleProduct
from connector.clock import FakeClock
from connector.sandbox import xseries_products
from connector.sandbox.xseries import XSeriesSimulator

SPECS = Path(__file__).parents[2].parent / "shared" / "specs" / "xseries"
SPEC_PATH = SPECS / "api-2.0-v1.0.openapi.json"
POSTMAN_PATH = SPECS / "x-series-api.postman_collection.json"
HOST = "https://mystore.retail.lightspeed.app"
AUTH = {"Authorization": "Bearer xs-test-token"}

pytestmark = pytest.mark.skipif(not (SPEC_PATH.exists() and POSTMAN_PATH.exists()),
                                reason="shared/ specs are not present")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:  # OpenAPI 3.0: a $ref's siblings are ignored
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def strict(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with references resolved and no undeclared property allowed anywhere."""
    schema = resolve(spec, schema)
    if schema.get("type") == "array":
        return {**schema, "items": strict(spec, schema["items"])}
    if "properties" in schema:
        return {**schema, "additionalProperties": False,
                "properties": {k: strict(spec, v) for k, v in schema["properties"].items()}}
    return schema


def compact(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The schema in the simulator's notation (connector.sandbox.xseries_products)."""
    schema = resolve(spec, schema)
    if schema.get("type") == "array":
        return [compact(spec, schema["items"])]
    if "enum" in schema:
        return tuple(schema["enum"])
    if "properties" in schema:
        out = {key: compact(spec, value) for key, value in schema["properties"].items()}
        if schema.get("required"):
            out[xseries_products.REQUIRED] = tuple(schema["required"])
        return out
    return schema["type"]


def spec_refuses(spec: dict[str, Any], body: Any) -> bool:
    from openapi_schema_validator import OAS30Validator

    schema = strict(spec, {"$ref": "#/components/schemas/ProductCreateBody"})
    return any(True for _ in OAS30Validator(schema).iter_errors(body))


def postman_body(name: str) -> dict[str, Any]:
    def requests(items):
        for item in items:
            yield from requests(item["item"]) if "item" in item else [item]

    collection = json.loads(POSTMAN_PATH.read_text())
    [raw] = [i["request"]["body"]["raw"] for i in requests(collection["item"]) if i["name"] == name]
    return json.loads(re.sub(r"//[^\n]*", "", raw))  # the example carries // comments


def sim_and_bodies() -> tuple[XSeriesSimulator, list[ProductCreate]]:
    sim = XSeriesSimulator(clock=FakeClock())
    size, colour = sim.variant_attribute_ids["Size"], sim.variant_attribute_ids["Colour"]
    bodies = [
        ProductCreate(name="Mug", sku="MUG", handle="mug", description="<p>Stoneware</p>", source="USER",
                      source_id="bc-12", source_variant_id="bc-12-40", price_excluding_tax=Decimal("4.30435"),
                      supply_price=Decimal("1.25"),
                      inventory=[ProductInventory(outlet_id=sim.main_outlet_id, current_amount=Decimal(3))]),
        ProductCreate(name="Tote", sku="TOTE", price_including_tax=Decimal("24.95")),
        ProductCreate(name="Oxford Shirt", source_id="bc-77", variants=[
            ProductVariantCreate(sku=f"OX-{value}", price_including_tax=Decimal("39.5"), supply_price=Decimal(12),
                                 variant_definitions=[VariantDefinition(attribute_id=size, value=value),
                                                      VariantDefinition(attribute_id=colour, value="Navy")])
            for value in ("S", "L")
        ]),
    ]
    return sim, bodies


# --- 2.0 product create --------------------------------------------------------------------------

def test_the_simulators_product_tables_are_the_specs(spec) -> None:
    schemas = spec["components"]["schemas"]
    assert xseries_products.PRODUCT_CREATE == compact(spec, schemas["ProductCreateBody"])
    assert xseries_products.VARIANT == compact(spec, schemas["ProductAddVariantPayload"])


async def test_the_clients_product_bodies_validate_and_the_simulator_takes_them(spec) -> None:
    from openapi_core import OpenAPI
    from openapi_core.testing import MockRequest

    api = OpenAPI.from_dict(spec)
    sim, bodies = sim_and_bodies()
    async with httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url, headers=AUTH) as c:
        for body in bodies:
            encoded = body.to_json()
            api.validate_request(MockRequest(HOST, "post", "/api/2.0/products", headers=AUTH, data=encoded))
            assert not spec_refuses(spec, json.loads(encoded)), body
            answer = await c.post("/api/2.0/products", content=encoded, headers={"Content-Type": "application/json"})
            assert answer.status_code == 200, answer.text
    family = [p for p in sim.products.values() if p["name"] == "Oxford Shirt"]
    assert sorted(p["variant_name"] for p in family) == ["Oxford Shirt", "Oxford Shirt / L / Navy",
                                                         "Oxford Shirt / S / Navy"]


@pytest.mark.parametrize("body", [
    {"name": "Shipping", "track_inventory": False},  # 2.1 / 0.9 field, not 2.0
    {"name": "Tee", "variant_parent_id": "00000000-0000-4000-8000-000000000000"},
    {"sku": "nameless"},
    {"name": 5},
    {"name": "x", "price_excluding_tax": None},
    {"name": "x", "price_excluding_tax": "12.50"},
    {"name": "x", "is_active": 1},
    {"name": "x", "weight_unit": "STONE"},
    {"name": "x", "inventory": [{"outlet_id": "o"}]},
    {"name": "x", "images": [{"type": "url"}]},
    {"name": "x", "tag_ids": "t1"},
    {"name": "x", "variants": [{"sku": "x-1", "variant_definitions": [{"attribute_id": "a", "value": 1}]}]},
    {"name": "x", "variants": [{"sku": "x-1", "name": "x / S", "variant_definitions": []}]},
], ids=lambda body: ",".join(f"{k}" for k in body))
async def test_the_simulator_refuses_what_the_spec_refuses(spec, body) -> None:
    assert spec_refuses(spec, body)
    sim = XSeriesSimulator(clock=FakeClock())
    before = dict(sim.products)
    async with httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url, headers=AUTH) as c:
        answer = await c.post("/api/2.0/products", json=body)
    assert answer.status_code == 422, answer.text
    assert sim.products == before


async def test_the_variant_attributes_and_a_family_read_match_the_spec(spec) -> None:
    from openapi_core import OpenAPI
    from openapi_core.testing import MockRequest, MockResponse

    api = OpenAPI.from_dict(spec)
    sim, bodies = sim_and_bodies()
    async with httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url, headers=AUTH) as c:
        ids = (await c.post("/api/2.0/products", content=bodies[2].to_json(),
                            headers={"Content-Type": "application/json"})).json()["data"]
        answers = {"/api/2.0/variant_attributes": await c.get("/api/2.0/variant_attributes")}
        for product_id in (ids[0], sim.products[ids[0]]["variant_parent_id"]):
            answers[f"/api/2.0/products/{product_id}"] = await c.get(f"/api/2.0/products/{product_id}")
    for path, answer in answers.items():
        api.validate_response(MockRequest(HOST, "get", path, headers=AUTH),
                              MockResponse(answer.content, answer.status_code, headers=dict(answer.headers)))
    assert {a["name"] for a in answers["/api/2.0/variant_attributes"].json()["data"]} == {"Size", "Colour"}


# --- 0.9 bodies: keys of the Postman examples ----------------------------------------------------

def test_the_09_product_body_uses_only_the_postman_examples_keys() -> None:
    example = postman_body("Create or update product 0.9")
    assert xseries_products.POSTMAN_09_KEYS == set(example)
    assert xseries_products.POSTMAN_09_INVENTORY_KEYS == set(example["inventory"][0])
    body = ProductCreate09(name="Shipping", sku="bc-shipping", handle="bc-shipping", source_id="bc-shipping")
    assert set(json.loads(body.to_json())) <= set(example)
    assert json.loads(body.to_json())["track_inventory"] is False


def test_the_sale_body_with_discount_cost_and_attributes_uses_documented_keys() -> None:
    example = postman_body("Create or update a register sale")
    sale = RegisterSale(
        register_id="r", user_id="u", customer_id="c", status="CLOSED", state="closed",
        register_sale_attributes=["delivery"], note="n", invoice_number="BC-1", source="BIGCOMMERCE",
        source_id="1-2", register_sale_products=[
            RegisterSaleProduct(product_id="p", register_id="r", sequence=0, quantity=Decimal(3),
                                price=Decimal("4.30435"), tax=Decimal("0.64565"), tax_id="t",
                                discount=Decimal("0.86957"), cost=Decimal("2.1"), price_set=True,
                                loyalty_value=Decimal(0)),
            RegisterSaleProduct(product_id="discount", quantity=Decimal(-1), price=Decimal(5),
                                tax=Decimal(1), tax_id="t"),
        ],
        register_sale_payments=[RegisterSalePayment(retailer_payment_type_id="pt", amount=Decimal("8.91"),
                                                    register_id="r")],
    )
    body = json.loads(sale.to_json())
    # state and register_sale_attributes are the 2025+ documented fields (reference §8.1, §8.2).
    assert set(body) <= set(example) | {"state", "register_sale_attributes"}
    assert {key for line in body["register_sale_products"] for key in line} <= set(
        example["register_sale_products"][0])
    assert set(body["register_sale_payments"][0]) <= set(example["register_sale_payments"][0])
    assert {"discount", "cost"} <= set(body["register_sale_products"][0])
