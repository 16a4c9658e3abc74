"""The BigCommerce simulator's answers validate against BigCommerce's own OpenAPI files.

Quirks of the files (reference §14), each handled narrowly:
- a `oneOf` whose alternatives include a link object (`*_Resource`: `{url, resource}` with nothing
  required) cannot pass a strict validator, since the link schema matches every object. That is the
  case for `order.consignments` and for `line_items` inside consignments. They are read as `anyOf`,
  and, because anyOf would then accept anything, each include mode is ALSO validated against a copy of
  the file where that property is pinned to the one alternative the simulator claims to send;
- the 204 that ends V2 paging is not in the file: it is checked on its own;
- `date_shipped: ''` passes (the file declares it as a plain string); `event_date` is sent as null;
- the catalog files mark some nulls with the Swagger-2 `x-nullable`, and P3 declares
  `base_variant_id` non-nullable while describing it as null for products with options: both are
  read as `nullable: true` (see _catalog_nullables).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

SHARED = Path(__file__).parents[2].parent / "shared"
if not (SHARED / "specs" / "bigcommerce" / "orders.v2.oas2.yml").exists():
    pytest.skip(f"BigCommerce OpenAPI files not found under {SHARED}/specs/bigcommerce", allow_module_level=True)

from openapi_core import OpenAPI  # noqa: E402
from openapi_core.testing import MockRequest, MockResponse  # noqa: E402

from connector.clock import FakeClock  # noqa: E402
from connector.sandbox.bigcommerce import BigCommerceSimulator  # noqa: E402

SPECS = SHARED / "specs" / "bigcommerce"
HOST = "https://api.bigcommerce.com"
V2 = "/stores/abc123/v2"
V3 = "/stores/abc123/v3"
SCHEMAS = "#/components/schemas/"
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@lru_cache(maxsize=None)
def _load(name: str) -> dict[str, Any]:
    with open(SPECS / name, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=Loader)


def _is_link_alternative(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    target = schema.get("$ref") or (schema.get("items") or {}).get("$ref") or ""
    return target.endswith("_Resource")


def _link_one_of_as_any_of(node: Any) -> Any:
    """Every oneOf that offers a link object as one alternative becomes anyOf (quirk 1)."""
    if isinstance(node, dict):
        if "oneOf" in node and any(_is_link_alternative(alt) for alt in node["oneOf"]):
            node["anyOf"] = node.pop("oneOf")
        for value in node.values():
            _link_one_of_as_any_of(value)
    elif isinstance(node, list):
        for value in node:
            _link_one_of_as_any_of(value)
    return node


def _line_items_holders(schemas: dict[str, Any]) -> list[dict[str, Any]]:
    """The `properties` dicts that declare consignment line_items."""
    holders = []
    for name in ("shippingConsignment_Get", "pickupConsignment_Get"):
        for part in schemas[name]["allOf"]:
            if "line_items" in part.get("properties", {}):
                holders.append(part["properties"])
    for name in ("digitalConsignment_Get", "giftCertificateConsignment_Get"):
        holders.append(schemas[name]["properties"])
    return holders


@lru_cache(maxsize=None)
def o2(mode: str = "loose") -> OpenAPI:
    """The O2 file with quirk 1 handled; other modes pin consignments to one alternative.

    loose: anyOf as loaded. link: order.consignments must be the link object. embedded_lines /
    embedded_links: order.consignments is orderConsignment_Get whose line_items are full order
    products / link objects.
    """
    spec = _link_one_of_as_any_of(copy.deepcopy(_load("orders.v2.oas2.yml")))
    schemas = spec["components"]["schemas"]
    consignments = schemas["order_RespOnly"]["properties"]
    if mode == "link":
        consignments["consignments"] = {
            "allOf": [{"$ref": SCHEMAS + "orderConsignments_Resource"}],
            "required": ["url", "resource"],
        }
    elif mode in ("embedded_lines", "embedded_links"):
        consignments["consignments"] = {"$ref": SCHEMAS + "orderConsignment_Get"}
        item = "orderProducts" if mode == "embedded_lines" else "products_Resource"
        for holder in _line_items_holders(schemas):
            holder["line_items"] = {"type": "array", "items": {"$ref": SCHEMAS + item}}
        schemas["products_Resource"]["required"] = ["url", "resource"]
    return OpenAPI.from_dict(spec)


def _catalog_nullables(node: Any) -> Any:
    """Catalog files' nulls, read as they are meant:
    - `x-nullable: true` (a Swagger 2 extension left in product-variants_catalog.v3.yml, e.g. on a
      variant's `price`, which is null when the product's price applies) means `nullable: true`;
    - P3's `base_variant_id` is "null for complex products" by its own description, yet declared a
      non-nullable integer: nullable, for that property only."""
    if isinstance(node, dict):
        if node.get("x-nullable") is True:
            node["nullable"] = True
        prop = node.get("base_variant_id")
        if isinstance(prop, dict) and "null" in prop.get("description", ""):
            prop["nullable"] = True
        for value in node.values():
            _catalog_nullables(value)
    elif isinstance(node, list):
        for value in node:
            _catalog_nullables(value)
    return node


@lru_cache(maxsize=None)
def v3_spec(name: str) -> OpenAPI | None:
    try:
        return OpenAPI.from_dict(_catalog_nullables(copy.deepcopy(_load(name))))
    except Exception:  # a file openapi-core cannot read is reported by the test that needs it
        return None


def check(api: OpenAPI, method: str, path: str, response: httpx.Response, params: dict | None = None) -> None:
    request = MockRequest(HOST, method.lower(), path, args=params or {}, headers={"Accept": "application/json"})
    api.validate_response(request, MockResponse(
        response.content, status_code=response.status_code, content_type="application/json"))


@pytest.fixture
async def bc_contract_store():
    sim = BigCommerceSimulator(clock=FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc)))
    sim.rename_status(12, "ID check running")
    sim.add_order(
        customer={"id": 3, "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        lines=[
            {"product_id": 111, "variant_id": 4, "sku": "TEE-001-M", "name": "Tee - M",
             "unit_price": Decimal("19.99"), "quantity": 2},
            {"product_id": 0, "variant_id": 0, "sku": "", "name": "Gift engraving",
             "unit_price": Decimal("4.50"), "quantity": 1},
        ],
        status_id=12, shipping_ex_tax=Decimal("7.95"), handling_ex_tax=Decimal("2"),
        wrapping_ex_tax=Decimal("3"), discount=Decimal("5"),
    )
    sim.add_order(customer=None, lines=[{"product_id": 112, "variant_id": 9, "sku": "mug-blk-2",
                                         "name": "Mug", "unit_price": Decimal("9.95"), "quantity": 1}],
                  status_id=2)
    # 102: what issue 15 reads (fees, coupon, tenders, mixed rates, a product discount, a variant, costs)
    sim.add_order(
        customer={"id": 4, "first_name": "Sam", "last_name": "Roe", "email": "sam@example.com"},
        lines=[
            {"product_id": 112, "variant_id": 2, "sku": "TEE-001-M", "name": "Tee", "unit_price": Decimal("19.99"),
             "quantity": 2, "unit_discount": Decimal("2"), "cost_price": Decimal("8.10"),
             "product_options": [{"display_name": "Size", "display_value": "M"}]},
            {"product_id": 113, "variant_id": 3, "sku": "BOOK-1", "name": "Book", "unit_price": Decimal("12.50"),
             "quantity": 1, "tax_rate": Decimal("0.05")},
        ],
        tax_rate=Decimal("0.20"), discount=Decimal("3"), coupons=[{"code": "SAVE2", "amount": Decimal("2")}],
        fees=[{"name": "Package Protection", "amount": Decimal("2.50")}], gift_certificate_amount=Decimal("10"),
        store_credit_amount=Decimal("5"), shipping_method="Royal Mail 24", customer_message="Ring twice",
        default_currency_code="GBP",
    )
    # 103: collected in store; 104: downloads and a gift certificate only
    sim.add_order(customer=None, status_id=8, pickup=True, lines=[
        {"product_id": 112, "variant_id": 9, "sku": "mug-blk-2", "name": "Mug", "unit_price": Decimal("9.95"), "quantity": 1}])
    sim.add_order(customer=None, lines=[
        {"product_id": 114, "variant_id": 10, "sku": "EBOOK", "name": "E-book", "unit_price": Decimal("5"),
         "quantity": 1, "type": "digital"},
        {"product_id": 0, "sku": "", "name": "Gift Certificate", "unit_price": Decimal("25"), "quantity": 1,
         "type": "giftcertificate"}])
    sim.set_metafield(100, "realid", "verification_status", "in_progress")
    sim.set_metafield(100, "realid", "check_id", "chk_123")
    sim.set_metafield(101, "realid", "verification_status", "verified")
    sim.add_catalog_product(sku="Ab12-XL", name="Mug", price=Decimal("9.95"))
    sim.add_catalog_product(sku="TEE-001", name="Tee", price=Decimal("19.99"), variants=[
        {"sku": "TEE-001-M", "price": None, "option_values": [{"label": "M", "option_display_name": "Size"}]},
        {"sku": "TEE-001-XL", "price": Decimal("24.99"), "option_values": [{"label": "XL", "option_display_name": "Size"}]},
    ])
    async with httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url,
                                 headers={"X-Auth-Token": "bc-test-token", "Accept": "application/json"}) as client:
        yield sim, client


INCLUDE_LINES = {"include": "consignments.line_items", "consignment_structure": "object"}
INCLUDE_LINKS = {"include": "consignments", "consignment_structure": "object"}
INCLUDE_ALL = {"include": "consignments.line_items,fees", "consignment_structure": "object"}  # the client's


@pytest.mark.parametrize("path, params, modes", [
    ("/orders", {}, ("loose", "link")),
    ("/orders", {"sort": "date_modified:desc", "limit": 1}, ("loose", "link")),
    ("/orders", INCLUDE_LINES, ("loose", "embedded_lines")),
    ("/orders", INCLUDE_LINKS, ("loose", "embedded_links")),
    ("/orders/100", {}, ("loose", "link")),
    ("/orders/100", INCLUDE_LINES, ("loose", "embedded_lines")),
    ("/orders/101", INCLUDE_LINKS, ("loose", "embedded_links")),
    ("/orders", INCLUDE_ALL, ("loose", "embedded_lines")),
    ("/orders/102", INCLUDE_ALL, ("loose", "embedded_lines")),
    ("/orders/102", {}, ("loose", "link")),
    ("/orders/103", INCLUDE_ALL, ("loose", "embedded_lines")),
    ("/orders/104", INCLUDE_ALL, ("loose", "embedded_lines")),
    ("/orders/104", INCLUDE_LINKS, ("loose", "embedded_links")),
    ("/orders/102/fees", {}, ("loose",)),
    ("/orders/100/fees", {}, ("loose",)),
    ("/orders/102/coupons", {}, ("loose",)),
    ("/orders/102/products", {}, ("loose",)),
    ("/orders/103/consignments", {"include": "consignments.line_items"}, ("loose", "embedded_lines")),
    ("/orders/104/consignments", {}, ("embedded_links",)),
    ("/orders/100/products", {}, ("loose",)),
    ("/orders/100/shipping_addresses", {}, ("loose",)),
    ("/orders/100/consignments", {"include": "consignments.line_items"}, ("loose", "embedded_lines")),
    ("/orders/100/consignments", {}, ("embedded_links",)),
    ("/orders/count", {}, ("loose",)),
    ("/orders/count", {"status_id": 12}, ("loose",)),
    ("/order_statuses", {}, ("loose",)),
    ("/order_statuses/12", {}, ("loose",)),
])
async def test_v2_reads_match_the_spec(bc_contract_store, path, params, modes):
    _, client = bc_contract_store
    response = await client.get(V2 + path, params=params)
    assert response.status_code == 200
    for mode in modes:
        check(o2(mode), "GET", V2 + path, response, params)


async def test_put_response_matches_the_spec(bc_contract_store):
    _, client = bc_contract_store
    response = await client.put(f"{V2}/orders/100", json={"status_id": 11, "staff_notes": "ID verified"})
    assert response.status_code == 200
    check(o2("link"), "PUT", f"{V2}/orders/100", response)


async def test_declared_404_bodies_match(bc_contract_store):
    _, client = bc_contract_store
    for path in ("/orders/999", "/orders/999/consignments"):
        response = await client.get(V2 + path)
        assert response.status_code == 404
        check(o2(), "GET", V2 + path, response)
        assert response.json() == [{"status": 404, "message": "The requested resource was not found."}]


async def test_204_past_the_end_is_empty(bc_contract_store):
    _, client = bc_contract_store
    for path, params in (("/orders", {"page": 2}), ("/orders/100/products", {"page": 2})):
        response = await client.get(V2 + path, params=params)
        assert response.status_code == 204 and response.content == b""
        assert "x-rate-limit-requests-left" in response.headers


async def test_the_contract_check_has_teeth(bc_contract_store):
    """A body that breaks the file is refused, so the passes above mean something."""
    _, client = bc_contract_store
    products = await client.get(f"{V2}/orders/100/products")
    broken = products.json()
    broken[0]["not_in_the_schema"] = 1  # orderProducts forbids unknown fields
    with pytest.raises(Exception):
        check(o2(), "GET", f"{V2}/orders/100/products", httpx.Response(200, content=json.dumps(broken).encode()))
    order = await client.get(f"{V2}/orders/100", params=INCLUDE_LINES)
    bad = order.json()
    bad["consignments"]["shipping"][0]["line_items"][0]["quantity"] = "2"
    with pytest.raises(Exception):
        check(o2("embedded_lines"), "GET", f"{V2}/orders/100", httpx.Response(200, content=json.dumps(bad).encode()),
              INCLUDE_LINES)
    links = await client.get(f"{V2}/orders/100", params=INCLUDE_LINKS)
    with pytest.raises(Exception):  # links where full line items were promised
        check(o2("embedded_lines"), "GET", f"{V2}/orders/100", links, INCLUDE_LINKS)
    with_fees = (await client.get(f"{V2}/orders/102", params=INCLUDE_ALL)).json()
    with_fees["fees"][0]["tax_class_id"] = "none"  # orderFees_Resp: an integer or null
    with pytest.raises(Exception):
        check(o2("embedded_lines"), "GET", f"{V2}/orders/102",
              httpx.Response(200, content=json.dumps(with_fees).encode()), INCLUDE_ALL)


# ------------------------------------------------------------------ V3

@pytest.mark.parametrize("path, params", [
    ("/orders/metafields", {}),
    ("/orders/metafields", {"namespace": "realid", "key": "verification_status",
                            "date_modified:min": "2026-01-01T00:00:00"}),
    ("/orders/metafields", {"limit": 1, "page": 2}),
    ("/orders/100/metafields", {"namespace": "realid"}),
])
async def test_v3_metafields_match_orders_v3(bc_contract_store, path, params):
    api = v3_spec("orders.v3.yml")
    if api is None:
        pytest.skip("orders.v3.yml does not load with openapi-core")
    _, client = bc_contract_store
    response = await client.get(V3 + path, params=params)
    assert response.status_code == 200 and response.json()["data"]
    check(api, "GET", V3 + path, response, params)


@pytest.mark.parametrize("spec_name, path, params", [
    ("products_catalog.v3.yml", "/catalog/products", {"sku": "Ab12-XL"}),
    ("products_catalog.v3.yml", "/catalog/products", {"sku:in": "Ab12-XL,TEE-001", "include": "variants"}),
    ("product-variants_catalog.v3.yml", "/catalog/variants", {"sku": "TEE-001-XL"}),
    ("product-variants_catalog.v3.yml", "/catalog/products/112/variants", {}),
    ("products_catalog.v3.yml", "/catalog/products/112", {"include": "variants"}),
])
async def test_v3_catalog_matches_its_spec(bc_contract_store, spec_name, path, params):
    api = v3_spec(spec_name)
    if api is None:
        pytest.skip(f"{spec_name} does not load with openapi-core")
    _, client = bc_contract_store
    response = await client.get(V3 + path, params=params)
    assert response.status_code == 200 and response.json()["data"]
    check(api, "GET", V3 + path, response, params)


async def test_fees_answer_holds_fee_objects_of_the_spec(bc_contract_store):
    """/orders/{id}/fees answers {"fees": [...]} as the spec's example does; its schema (one fee
    object, nothing required) would accept any object, so each fee is checked on its own."""
    from openapi_schema_validator import OAS30Validator

    _, client = bc_contract_store
    fee_schema = _load("orders.v2.oas2.yml")["components"]["schemas"]["orderFees_Resp"]
    strict = {**fee_schema, "additionalProperties": False}
    fees = (await client.get(f"{V2}/orders/102/fees")).json()["fees"]
    assert fees
    for fee in fees:
        OAS30Validator(strict).validate(fee)
    with pytest.raises(Exception):
        OAS30Validator(strict).validate({**fees[0], "cost_inc_tax": None})
