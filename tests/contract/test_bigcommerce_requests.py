"""The BigCommerce client's requests, as sent, validated against BigCommerce's own OpenAPI files.

Requests are captured with respx and checked with openapi-core (path, query parameters, headers,
security header, PUT body). The spec files are the official ones in ../shared/specs, beside the clone.

One property of orders.v2.oas2.yml is handled here rather than by loosening the client: its `sort`
parameter lists only bare field names in an enum, while the parameter's own description says to
"add `:asc` or `:desc` to the end" (e.g. `sort=date_created:desc`). The enum is extended with those
documented suffixes when the file is loaded; every other value is still checked.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

# Beside the clone, as CI has it (like the other contract tests): not a fixed absolute path, which a
# clone elsewhere would not have, and the check would skip there while ../shared is present.
SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "bigcommerce"
pytestmark = pytest.mark.skipif(
    not SPECS.is_dir(), reason=f"BigCommerce OpenAPI files not available ({SPECS} absent)"
)

yaml = pytest.importorskip("yaml")
openapi_core = pytest.importorskip("openapi_core")
from openapi_core.datatypes import RequestParameters  # noqa: E402
from openapi_core.validation.request.exceptions import RequestValidationError  # noqa: E402
from werkzeug.datastructures import Headers, ImmutableMultiDict  # noqa: E402

from connector.clients.bigcommerce import BigCommerceClient  # noqa: E402
from connector.clock import FakeClock  # noqa: E402

BASE = "https://api.bigcommerce.com/stores/abc123"
UTC = timezone.utc


class CapturedRequest:
    """openapi-core's Request protocol over an httpx.Request, exactly as it went on the wire."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self._url = urlsplit(str(request.url))
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(self._url.query, keep_blank_values=True)),
            header=Headers(dict(request.headers)),
        )

    @property
    def host_url(self) -> str:
        return f"{self._url.scheme}://{self._url.netloc}"

    @property
    def path(self) -> str:
        return self._url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        return self._request.headers.get("Content-Type", "application/json")


@functools.cache
def spec(name: str):
    data = yaml.load((SPECS / name).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    sort = data.get("components", {}).get("parameters", {}).get("sort")
    if sort and "enum" in sort.get("schema", {}):
        fields = list(sort["schema"]["enum"])
        sort["schema"]["enum"] = fields + [f"{f}:{d}" for f in fields for d in ("asc", "desc")]
    return openapi_core.OpenAPI.from_dict(data)


def validate(spec_name: str, request: httpx.Request) -> None:
    spec(spec_name).validate_request(CapturedRequest(request))


def line(line_id: int, order_id: int) -> dict:
    return {"id": line_id, "order_id": order_id, "product_id": 77, "variant_id": 5, "name": "Towel",
            "sku": "S-ORAN", "type": "physical", "base_price": "55.9900", "price_ex_tax": "55.9900",
            "price_inc_tax": "65.2300", "price_tax": "9.2400", "total_ex_tax": "55.9900",
            "total_inc_tax": "65.2300", "total_tax": "9.2400", "quantity": 1}


def order(order_id: int, *, embedded: bool = True) -> dict:
    data = {
        "id": order_id, "customer_id": 0, "date_created": "Tue, 05 Mar 2019 21:40:11 +0000",
        "date_modified": "Mon, 11 Mar 2019 15:17:25 +0000", "date_shipped": "", "status_id": 11,
        "status": "Awaiting Fulfillment", "subtotal_ex_tax": "55.9900", "subtotal_inc_tax": "65.2300",
        "subtotal_tax": "9.2400", "shipping_cost_ex_tax": "0.0000", "shipping_cost_inc_tax": "0.0000",
        "shipping_cost_tax": "0.0000", "total_ex_tax": "55.9900", "total_inc_tax": "65.2300",
        "total_tax": "9.2400", "billing_address": {"email": "a@example.com", "zip": "78108"},
    }
    if embedded:
        data["consignments"] = {"shipping": [{"id": 1, "line_items": [line(65, order_id)]}], "pickups": []}
    else:
        data["consignments"] = {"url": f"{BASE}/v2/orders/{order_id}/consignments",
                                "resource": f"/orders/{order_id}/consignments"}
    return data


@pytest.fixture
async def client():
    c = BigCommerceClient(store_hash="abc123", access_token="tok", clock=FakeClock())
    yield c
    await c.aclose()


def v3(rows: list[dict]) -> httpx.Response:
    return httpx.Response(200, json={"data": rows, "meta": {"pagination": {"current_page": 1, "total_pages": 1}}})


@respx.mock
async def test_order_list_requests_match_the_v2_spec(client):
    route = respx.get(f"{BASE}/v2/orders").mock(return_value=httpx.Response(200, json=[order(1)]))
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    [o async for o in client.iter_orders_modified(since, until)]
    [o async for o in client.iter_orders_created(since, until)]
    assert route.call_count == 2
    for call in route.calls:
        validate("orders.v2.oas2.yml", call.request)


@respx.mock
async def test_get_order_products_and_statuses_match_the_v2_spec(client):
    get = respx.get(f"{BASE}/v2/orders/5").mock(
        return_value=httpx.Response(200, json={**order(5, embedded=False), "shipping_address_count": 1}))
    products = respx.get(f"{BASE}/v2/orders/5/products").mock(return_value=httpx.Response(200, json=[line(65, 5)]))
    addresses = respx.get(f"{BASE}/v2/orders/5/shipping_addresses").mock(return_value=httpx.Response(200, json=[]))
    statuses = respx.get(f"{BASE}/v2/order_statuses").mock(return_value=httpx.Response(200, json=[]))
    await client.get_order(5)
    await client.list_order_statuses()
    for route in (get, products, addresses, statuses):
        assert route.call_count == 1
        validate("orders.v2.oas2.yml", route.calls[0].request)


@respx.mock
async def test_status_put_matches_the_v2_spec(client):
    route = respx.put(f"{BASE}/v2/orders/5").mock(return_value=httpx.Response(200, json=order(5, embedded=False)))
    await client.update_order_status(5, 12)
    request = route.calls[0].request
    validate("orders.v2.oas2.yml", request)
    assert json.loads(request.content) == {"status_id": 12}


def test_the_validator_rejects_a_wrong_request():
    """Guards the harness: a request the spec forbids must fail, or the tests above prove nothing."""
    bad_body = httpx.Request("PUT", f"{BASE}/v2/orders/5", json={"status_id": "twelve"},
                             headers={"X-Auth-Token": "t", "Accept": "application/json"})
    bad_sort = httpx.Request("GET", f"{BASE}/v2/orders", params={"sort": "modified:asc"},
                             headers={"X-Auth-Token": "t", "Accept": "application/json"})
    bad_include = httpx.Request("GET", f"{BASE}/v2/orders", params={"include": "line_items"},
                                headers={"X-Auth-Token": "t", "Accept": "application/json"})
    no_token = httpx.Request("GET", f"{BASE}/v2/orders", headers={"Accept": "application/json"})
    for request in (bad_body, bad_sort, bad_include, no_token):
        with pytest.raises(RequestValidationError):
            validate("orders.v2.oas2.yml", request)


@respx.mock
async def test_v3_requests_match_their_specs(client):
    meta_all = respx.get(f"{BASE}/v3/orders/metafields").mock(return_value=v3([]))
    meta_one = respx.get(f"{BASE}/v3/orders/5/metafields").mock(return_value=v3([]))
    [m async for m in client.iter_order_metafields(
        namespace="realid", key="verification_status", modified_since=datetime(2026, 1, 1, tzinfo=UTC))]
    await client.list_metafields_for_order(5, namespace="realid", key="check_id")
    for route, name in ((meta_all, "orders.v3.yml"), (meta_one, "orders.v3.yml")):
        assert route.call_count >= 1
        for call in route.calls:
            validate(name, call.request)


@respx.mock
async def test_fee_and_catalog_product_requests_match_their_specs(client):
    with_fee_link = order(6)
    with_fee_link["fees"] = {"url": f"{BASE}/v2/orders/6/fees", "resource": "/orders/6/fees"}
    respx.get(f"{BASE}/v2/orders/6").mock(return_value=httpx.Response(200, json=with_fee_link))
    fees = respx.get(f"{BASE}/v2/orders/6/fees").mock(return_value=httpx.Response(200, json={"fees": []}))
    product = respx.get(f"{BASE}/v3/catalog/products/192").mock(return_value=httpx.Response(
        200, json={"data": {"id": 192, "name": "Mitten", "price": 10}, "meta": {}}))
    await client.get_order(6)
    await client.catalog_product(192)
    for route, name in ((fees, "orders.v2.oas2.yml"), (product, "products_catalog.v3.yml")):
        assert route.call_count == 1
        validate(name, route.calls[0].request)
