"""The BigCommerce simulator answers like the store the reference describes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.clock import FakeClock
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.faults import FaultConfig, FaultInjector
from connector.values import parse_iso8601, parse_rfc2822

TOKEN = "bc-test-token"
V2 = "/stores/abc123/v2"
V3 = "/stores/abc123/v3"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def line(sku: str = "TEE-001-M", price: str = "19.99", quantity: int = 1, product_id: int = 111,
         variant_id: int = 5, name: str = "Organic Cotton Tee - M") -> dict:
    return {"product_id": product_id, "variant_id": variant_id, "sku": sku, "name": name,
            "unit_price": Decimal(price), "quantity": quantity}


JANE = {"id": 7, "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"}


@pytest.fixture
def bc_clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def bc_sim(bc_clock: FakeClock) -> BigCommerceSimulator:
    return BigCommerceSimulator(clock=bc_clock)


def client_for(sim: BigCommerceSimulator, token: str = TOKEN) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=sim.transport(), base_url=sim.base_url,
        headers={"X-Auth-Token": token, "Accept": "application/json"},
    )


@pytest.fixture
async def bc_client(bc_sim: BigCommerceSimulator):
    async with client_for(bc_sim) as client:
        yield client


def add_orders_at(sim: BigCommerceSimulator, dates: list[datetime], **kwargs) -> list[int]:
    return [sim.add_order(customer=JANE, lines=[line()], date_created=d, **kwargs)["id"] for d in dates]


# ------------------------------------------------------------------ auth and scopes

async def test_wrong_token_gets_v2_error_array_and_v3_error_object(bc_sim):
    bc_sim.add_order(customer=JANE, lines=[line()])
    async with client_for(bc_sim, token="nope") as client:
        v2 = await client.get(f"{V2}/orders")
        v3 = await client.get(f"{V3}/orders/metafields")
    assert v2.status_code == 401
    assert isinstance(v2.json(), list) and v2.json()[0]["status"] == 401 and v2.json()[0]["message"]
    assert v3.status_code == 401
    assert v3.json()["status"] == 401 and v3.json()["title"]
    assert "x-rate-limit-requests-quota" in v2.headers


async def test_read_only_scope_can_read_but_not_put(bc_clock):
    sim = BigCommerceSimulator(clock=bc_clock, scopes={"store_v2_orders_read_only"})
    order_id = sim.add_order(customer=JANE, lines=[line()])["id"]
    async with client_for(sim) as client:
        assert (await client.get(f"{V2}/orders/{order_id}")).status_code == 200
        put = await client.put(f"{V2}/orders/{order_id}", json={"status_id": 12})
        catalog = await client.get(f"{V3}/catalog/products", params={"sku": "X"})
    assert put.status_code == 403 and put.json()[0]["status"] == 403
    assert catalog.status_code == 403 and catalog.json()["status"] == 403
    assert sim.order(order_id)["status_id"] == 11


async def test_wrong_store_hash_is_refused(bc_client):
    response = await bc_client.get("/stores/other/v2/orders")
    assert response.status_code == 403


# ------------------------------------------------------------------ listing

async def test_paging_ends_with_204_and_empty_body(bc_sim, bc_client):
    ids = add_orders_at(bc_sim, [T0 - timedelta(hours=i) for i in range(7)])
    seen = []
    for page in (1, 2, 3):
        response = await bc_client.get(f"{V2}/orders", params={"limit": 3, "page": page})
        assert response.status_code == 200
        seen += [o["id"] for o in response.json()]
    past_end = await bc_client.get(f"{V2}/orders", params={"limit": 3, "page": 4})
    assert seen == sorted(ids)
    assert past_end.status_code == 204 and past_end.content == b""
    nothing = await bc_client.get(f"{V2}/orders", params={"status_id": 5})
    assert nothing.status_code == 204 and nothing.content == b""


async def test_default_limit_is_50_and_over_250_is_413(bc_sim, bc_client):
    add_orders_at(bc_sim, [T0] * 55)
    assert len((await bc_client.get(f"{V2}/orders")).json()) == 50
    too_big = await bc_client.get(f"{V2}/orders", params={"limit": 251})
    assert too_big.status_code == 413 and too_big.json()[0]["status"] == 413


async def test_date_filters_accept_rfc2822_and_iso8601_with_offsets_inclusively(bc_sim, bc_client):
    base = datetime(2025, 3, 5, 21, 40, 11, tzinfo=timezone.utc)
    first, second, third = add_orders_at(bc_sim, [base, base + timedelta(seconds=1), base + timedelta(hours=1)])
    # 21:40:12 UTC written in two formats and two offsets: the bound itself is included.
    for bound in ("Wed, 05 Mar 2025 17:40:12 -0400", "2025-03-05T23:40:12.000+02:00", "2025-03-05T21:40:12Z"):
        response = await bc_client.get(f"{V2}/orders", params={"min_date_modified": bound})
        assert [o["id"] for o in response.json()] == [second, third], bound
        response = await bc_client.get(f"{V2}/orders", params={"max_date_created": bound})
        assert [o["id"] for o in response.json()] == [first, second], bound
    both = await bc_client.get(f"{V2}/orders", params={
        "min_date_modified": "2025-03-05T21:40:12+00:00", "max_date_modified": "2025-03-05T21:40:12+00:00"})
    assert [o["id"] for o in both.json()] == [second]


async def test_bad_date_filter_is_400(bc_client):
    response = await bc_client.get(f"{V2}/orders", params={"min_date_modified": "yesterday"})
    assert response.status_code == 400 and response.json()[0]["status"] == 400


async def test_date_modified_follows_status_changes(bc_sim, bc_clock, bc_client):
    old, moved = add_orders_at(bc_sim, [T0 - timedelta(days=2), T0 - timedelta(days=2)])
    bc_clock.advance(3600.7)
    bc_sim.set_status(moved, 2)
    response = await bc_client.get(f"{V2}/orders", params={"min_date_modified": "2026-01-01T01:00:00Z"})
    (only,) = response.json()
    assert only["id"] == moved and only["date_modified"] == "Thu, 01 Jan 2026 01:00:00 +0000"
    assert only["date_shipped"] == only["date_modified"] and only["items_shipped"] == only["items_total"]
    assert bc_sim.order(old)["date_shipped"] == ""


async def test_sort_is_stable_on_id_for_equal_dates(bc_sim, bc_client):
    same = T0 - timedelta(hours=1)
    ids = add_orders_at(bc_sim, [same, T0 - timedelta(hours=2), same, same, T0 - timedelta(hours=3)])
    asc = await bc_client.get(f"{V2}/orders", params={"sort": "date_modified:asc"})
    assert [o["id"] for o in asc.json()] == [ids[4], ids[1], ids[0], ids[2], ids[3]]
    desc = await bc_client.get(f"{V2}/orders", params={"sort": "date_modified:desc"})
    assert [o["id"] for o in desc.json()] == [ids[3], ids[2], ids[0], ids[1], ids[4]]
    paged = []
    for page in (1, 2, 3):
        response = await bc_client.get(f"{V2}/orders", params={"sort": "date_modified:asc", "limit": 2, "page": page})
        paged += [o["id"] for o in response.json()]
    assert paged == [o["id"] for o in asc.json()]
    assert (await bc_client.get(f"{V2}/orders", params={"sort": "total:asc"})).status_code == 400


async def test_other_filters(bc_sim, bc_client):
    a = bc_sim.add_order(customer=JANE, lines=[line()], status_id=11)["id"]
    b = bc_sim.add_order(customer=None, lines=[line(price="100")], status_id=12)["id"]
    c = bc_sim.add_order(customer={**JANE, "email": "JANE@example.com"}, lines=[line()], status_id=11)["id"]
    ids = lambda r: [o["id"] for o in r.json()]  # noqa: E731
    assert ids(await bc_client.get(f"{V2}/orders", params={"status_id": 12})) == [b]
    assert ids(await bc_client.get(f"{V2}/orders", params={"email": "jane@example.com"})) == [a, c]
    assert ids(await bc_client.get(f"{V2}/orders", params={"customer_id": 0})) == [b]
    assert ids(await bc_client.get(f"{V2}/orders", params={"min_id": b, "max_id": c})) == [b, c]
    assert ids(await bc_client.get(f"{V2}/orders", params={"min_total": "50"})) == [b]


async def test_incomplete_orders_hidden_only_with_the_knob(bc_sim, bc_client):
    normal, incomplete = (bc_sim.add_order(customer=JANE, lines=[line()], status_id=s)["id"] for s in (11, 0))
    assert [o["id"] for o in (await bc_client.get(f"{V2}/orders")).json()] == [normal, incomplete]
    bc_sim.hide_incomplete_by_default = True
    assert [o["id"] for o in (await bc_client.get(f"{V2}/orders")).json()] == [normal]
    assert [o["id"] for o in (await bc_client.get(f"{V2}/orders", params={"status_id": 0})).json()] == [incomplete]


async def test_count_by_status(bc_sim, bc_client):
    for status in (11, 11, 12):
        bc_sim.add_order(customer=JANE, lines=[line()], status_id=status)
    body = (await bc_client.get(f"{V2}/orders/count")).json()
    assert body["count"] == 3
    by_id = {s["id"]: s for s in body["statuses"]}
    assert set(by_id) == set(range(15))
    assert by_id[11]["count"] == 2 and by_id[12]["count"] == 1 and by_id[2]["count"] == 0
    assert [s["sort_order"] for s in body["statuses"]] == sorted(s["sort_order"] for s in body["statuses"])


# ------------------------------------------------------------------ single order, lines, consignments

async def test_missing_order_is_404_v2_body(bc_client):
    response = await bc_client.get(f"{V2}/orders/999")
    assert response.status_code == 404
    assert response.json() == [{"status": 404, "message": "The requested resource was not found."}]


async def test_include_embeds_line_items_in_consignments(bc_sim, bc_client):
    order_id = bc_sim.add_order(customer=JANE, lines=[line(), line(sku="MUG-1", product_id=112, variant_id=9)],
                                shipping_ex_tax=Decimal("7.95"))["id"]
    products = (await bc_client.get(f"{V2}/orders/{order_id}/products")).json()
    params = {"include": "consignments.line_items", "consignment_structure": "object"}
    embedded = (await bc_client.get(f"{V2}/orders/{order_id}", params=params)).json()
    listed = (await bc_client.get(f"{V2}/orders", params=params)).json()[0]
    for order in (embedded, listed):
        consignments = order["consignments"]
        assert consignments["pickups"] == [] and consignments["downloads"] == []
        assert consignments["email"] == {"gift_certificates": []}
        (shipping,) = consignments["shipping"]
        assert shipping["line_items"] == products
        assert shipping["cost_ex_tax"] == 7.95 and shipping["items_total"] == 2
    links_only = (await bc_client.get(f"{V2}/orders/{order_id}", params={
        "include": "consignments", "consignment_structure": "object"})).json()
    assert links_only["consignments"]["shipping"][0]["line_items"][0]["resource"] == f"/orders/{order_id}/products/{products[0]['id']}"
    plain = (await bc_client.get(f"{V2}/orders/{order_id}")).json()
    assert plain["consignments"] == {"url": f"{bc_sim.v2_url}/orders/{order_id}/consignments",
                                     "resource": f"/orders/{order_id}/consignments"}


async def test_products_page_and_204_past_end(bc_sim, bc_client):
    order_id = bc_sim.add_order(customer=JANE, lines=[line(sku=f"S-{i}") for i in range(3)])["id"]
    first = await bc_client.get(f"{V2}/orders/{order_id}/products", params={"limit": 2})
    second = await bc_client.get(f"{V2}/orders/{order_id}/products", params={"limit": 2, "page": 2})
    third = await bc_client.get(f"{V2}/orders/{order_id}/products", params={"limit": 2, "page": 3})
    assert [p["sku"] for p in first.json() + second.json()] == ["S-0", "S-1", "S-2"]
    assert third.status_code == 204 and third.content == b""
    one = await bc_client.get(f"{V2}/orders/{order_id}/products/{first.json()[1]['id']}")
    assert one.json()["sku"] == "S-1"


async def test_guest_and_custom_line(bc_sim):
    order = bc_sim.add_order(customer=None, lines=[line(product_id=0, variant_id=77, sku="", name="Engraving")])
    assert order["customer_id"] == 0
    assert order["billing_address"]["email"] and order["billing_address"]["first_name"]
    (product,) = bc_sim.products(order["id"])
    assert product["product_id"] == 0 and product["variant_id"] == 0 and product["sku"] == ""


async def test_overrides_are_stored_raw(bc_sim, bc_client):
    order_id = bc_sim.add_order(customer=JANE, lines=[line()], total_inc_tax="1,234.00", date_shipped="soon")["id"]
    order = (await bc_client.get(f"{V2}/orders/{order_id}")).json()
    assert order["total_inc_tax"] == "1,234.00" and order["date_shipped"] == "soon"


# ------------------------------------------------------------------ status writes and labels

async def test_put_status_returns_whole_order_and_bumps_date_modified(bc_sim, bc_clock, bc_client):
    order_id = bc_sim.add_order(customer=JANE, lines=[line()], date_created=T0 - timedelta(days=1))["id"]
    bc_clock.advance(90)
    response = await bc_client.put(f"{V2}/orders/{order_id}", json={"status_id": 12, "staff_notes": "ID check started"})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == order_id and body["status_id"] == 12
    assert body["status"] == "Manual Verification Required" and body["custom_status"] == "Manual Verification Required"
    assert body["staff_notes"] == "ID check started" and "total_inc_tax" in body
    assert parse_rfc2822(body["date_modified"]) == T0 + timedelta(seconds=90)
    assert bc_sim.order(order_id)["status_id"] == 12


@pytest.mark.parametrize("body, field", [
    ({"status_id": 12, "status": "Shipped"}, "status"),
    ({"date_modified": "Thu, 01 Jan 2026 00:00:00 +0000"}, "date_modified"),
    ({"items_total": 3}, "items_total"),
])
async def test_put_read_only_field_is_400(bc_sim, bc_client, body, field):
    order_id = bc_sim.add_order(customer=JANE, lines=[line()])["id"]
    response = await bc_client.put(f"{V2}/orders/{order_id}", json=body)
    assert response.status_code == 400
    assert response.json() == [{"status": 400, "message": f"The field '{field}' cannot be written to. "
                                "Please remove it from your request before trying again."}]
    assert bc_sim.order(order_id)["status_id"] == 11


async def test_put_unknown_status_and_wrong_content_type(bc_sim, bc_client):
    order_id = bc_sim.add_order(customer=JANE, lines=[line()])["id"]
    assert (await bc_client.put(f"{V2}/orders/{order_id}", json={"status_id": 99})).status_code == 400
    assert (await bc_client.put(f"{V2}/orders/{order_id}", json={"status_id": "12"})).status_code == 400
    not_json = await bc_client.put(f"{V2}/orders/{order_id}", content=b'{"status_id": 12}',
                                   headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 415
    assert (await bc_client.put(f"{V2}/orders/999", json={"status_id": 12})).status_code == 404
    assert bc_sim.order(order_id)["status_id"] == 11


async def test_custom_labels_show_in_statuses_and_orders(bc_sim, bc_client):
    order_id = bc_sim.add_order(customer=JANE, lines=[line()], status_id=12)["id"]
    bc_sim.rename_status(12, "ID check running")
    statuses = (await bc_client.get(f"{V2}/order_statuses")).json()
    assert [s["id"] for s in statuses] == list(range(15))
    assert statuses[12] == {
        "id": 12, "name": "Manual Verification Required", "system_label": "Manual Verification Required",
        "custom_label": "ID check running",
        "system_description": "Order is on hold while some aspect needs to be manually confirmed.", "order": 13,
    }
    assert statuses[11]["custom_label"] == "Awaiting Fulfillment"
    order = (await bc_client.get(f"{V2}/orders/{order_id}")).json()
    assert order["status"] == "Manual Verification Required" and order["custom_status"] == "ID check running"
    one = (await bc_client.get(f"{V2}/order_statuses/12")).json()
    assert one["custom_label"] == "ID check running"
    assert (await bc_client.get(f"{V2}/order_statuses/99")).status_code == 404
    put = await bc_client.put(f"{V2}/orders/{order_id}", json={"status_id": 11})
    assert put.json()["custom_status"] == "Awaiting Fulfillment"


# ------------------------------------------------------------------ rate limit

async def test_quota_headers_429_and_window_reset(bc_clock):
    sim = BigCommerceSimulator(clock=bc_clock, quota=3, window_ms=30_000)
    async with client_for(sim) as client:
        lefts = []
        for _ in range(3):
            response = await client.get(f"{V2}/order_statuses")
            assert response.status_code == 200
            assert response.headers["X-Rate-Limit-Requests-Quota"] == "3"
            assert response.headers["X-Rate-Limit-Time-Window-Ms"] == "30000"
            lefts.append(response.headers["X-Rate-Limit-Requests-Left"])
        assert lefts == ["2", "1", "0"]
        bc_clock.advance(10)
        limited = await client.get(f"{V2}/order_statuses")
        assert limited.status_code == 429
        assert limited.headers["X-Rate-Limit-Time-Reset-Ms"] == "20000"
        assert limited.headers["X-Retry-After"] == "20"
        assert limited.headers["X-Rate-Limit-Requests-Left"] == "0"
        bc_clock.advance(19.5)
        assert (await client.get(f"{V2}/order_statuses")).status_code == 429
        bc_clock.advance(0.5)  # the window that began at t=0 ends at t=30
        fresh = await client.get(f"{V2}/order_statuses")
        assert fresh.status_code == 200
        # the two 429s consumed nothing: the new window has spent exactly one request
        assert fresh.headers["X-Rate-Limit-Requests-Left"] == "2"
        assert fresh.headers["X-Rate-Limit-Time-Reset-Ms"] == "30000"


async def test_quota_can_change_after_construction(bc_sim, bc_client):
    bc_sim.quota = 1
    assert (await bc_client.get(f"{V2}/order_statuses")).status_code == 200
    assert (await bc_client.get(f"{V2}/order_statuses")).status_code == 429


# ------------------------------------------------------------------ faults

async def test_5xx_share_is_seeded_and_logged(bc_clock):
    sim = BigCommerceSimulator(clock=bc_clock, faults=FaultConfig(share_5xx=0.5, seed=3), quota=10_000)
    async with client_for(sim) as client:
        codes = [(await client.get(f"{V2}/order_statuses")).status_code for _ in range(200)]
    errors = codes.count(500)
    assert 60 < errors < 140 and errors + codes.count(200) == 200
    assert sim.faults.injected["5xx"] == errors
    assert sum(1 for r in sim.request_log if r.fault == "5xx" and r.status == 500) == errors


async def test_5xx_body_and_path_filter(bc_sim, bc_client):
    bc_sim.faults = FaultInjector(FaultConfig(share_5xx=1.0, path_filter="/orders"))
    broken = await bc_client.get(f"{V2}/orders")
    assert broken.status_code == 500 and broken.json()[0]["status"] == 500
    assert (await bc_client.get(f"{V2}/order_statuses")).status_code == 200


async def test_injected_429_does_not_spend_quota(bc_sim, bc_client):
    bc_sim.quota = 2
    bc_sim.faults.reconfigure(FaultConfig(share_429=1.0))
    for _ in range(3):
        response = await bc_client.get(f"{V2}/order_statuses")
        assert response.status_code == 429 and "X-Retry-After" in response.headers
    bc_sim.faults.reconfigure(FaultConfig())
    assert (await bc_client.get(f"{V2}/order_statuses")).headers["X-Rate-Limit-Requests-Left"] == "1"


async def test_timeout_does_not_apply_the_write(bc_sim, bc_client):
    order_id = bc_sim.add_order(customer=JANE, lines=[line()])["id"]
    bc_sim.faults.reconfigure(FaultConfig(share_timeout=1.0))
    with pytest.raises(httpx.ReadTimeout):
        await bc_client.put(f"{V2}/orders/{order_id}", json={"status_id": 6})
    assert bc_sim.order(order_id)["status_id"] == 11
    (entry,) = bc_sim.request_log.writes()
    assert entry.status is None and entry.fault == "timeout" and entry.body == {"status_id": 6}


async def test_lost_response_applies_the_write(bc_sim, bc_clock, bc_client):
    order_id = bc_sim.add_order(customer=JANE, lines=[line()])["id"]
    bc_sim.faults.reconfigure(FaultConfig(share_lost_write_response=1.0))
    bc_clock.advance(5)
    with pytest.raises(httpx.ReadTimeout):
        await bc_client.put(f"{V2}/orders/{order_id}", json={"status_id": 6})
    assert bc_sim.order(order_id)["status_id"] == 6
    assert bc_sim.date_modified(order_id) == T0 + timedelta(seconds=5)
    (entry,) = bc_sim.request_log.writes()
    assert entry.status is None and entry.fault == "lost_response"
    # reads are never "lost"
    assert (await bc_client.get(f"{V2}/orders/{order_id}")).status_code == 200


async def test_request_log_masks_the_token(bc_client, bc_sim, bc_clock):
    bc_clock.advance(12)
    await bc_client.get(f"{V2}/orders", params={"limit": 5})
    (entry,) = bc_sim.request_log
    assert entry.headers["x-auth-token"] == "***"
    assert entry.method == "GET" and entry.path == f"{V2}/orders" and entry.query == "limit=5"
    assert entry.at == T0 + timedelta(seconds=12) and entry.at_monotonic == 12 and entry.status == 204


# ------------------------------------------------------------------ V3 metafields

async def test_batch_metafields_filters_and_envelope(bc_sim, bc_clock, bc_client):
    a, b, c = (bc_sim.add_order(customer=JANE, lines=[line()])["id"] for _ in range(3))
    first = bc_sim.set_metafield(a, "realid", "verification_status", "in_progress")
    bc_sim.set_metafield(a, "realid", "check_id", "chk_1")
    bc_sim.set_metafield(b, "other_app", "verification_status", "x")
    bc_clock.advance(60)
    bc_sim.set_metafield(c, "realid", "verification_status", "verified")
    updated = bc_sim.set_metafield(a, "realid", "verification_status", "verified")
    assert updated["id"] == first["id"] and updated["date_created"] == first["date_created"]
    assert parse_iso8601(updated["date_modified"]) == T0 + timedelta(seconds=60)

    response = await bc_client.get(f"{V3}/orders/metafields", params={
        "namespace": "realid", "key": "verification_status", "date_modified:min": "2026-01-01T00:01:00"})
    body = response.json()
    assert [(m["resource_id"], m["value"]) for m in body["data"]] == [(a, "verified"), (c, "verified")]
    assert body["data"][0]["resource_type"] == "order" and body["data"][0]["namespace"] == "realid"
    assert body["meta"]["pagination"] == {
        "total": 2, "count": 2, "per_page": 50, "current_page": 1, "total_pages": 1,
        "links": {"current": "?page=1&limit=50"},
    }
    keys = await bc_client.get(f"{V3}/orders/metafields", params={"key:in": "check_id,nothing"})
    assert [m["value"] for m in keys.json()["data"]] == ["chk_1"]
    spaces = await bc_client.get(f"{V3}/orders/metafields", params={"namespace:in": "other_app"})
    assert [m["resource_id"] for m in spaces.json()["data"]] == [b]
    before = await bc_client.get(f"{V3}/orders/metafields", params={"date_modified:max": "2026-01-01T00:00:59"})
    assert len(before.json()["data"]) == 2
    by_day = await bc_client.get(f"{V3}/orders/metafields", params={"date_modified:min": "2026-01-02"})
    assert by_day.status_code == 200 and by_day.json()["data"] == []


@pytest.mark.parametrize("other", ["2026-01-01T00:01:00+00:00", "2026-01-01T00:01:00Z", "2026-01-01 00:01:00"])
async def test_metafield_dates_are_read_only_in_the_documented_forms(bc_sim, bc_client, other):
    """orders.v3.yml: `date_modified:min=2019-09-04T00:00:00` or `=2019-09-04`; another form is refused."""
    for bound in ("date_modified:min", "date_modified:max"):
        refused = await bc_client.get(f"{V3}/orders/metafields", params={bound: other})
        assert refused.status_code == 422, (bound, other)


async def test_metafield_paging_and_limits(bc_sim, bc_client):
    order_id = bc_sim.add_order(customer=JANE, lines=[line()])["id"]
    for i in range(5):
        bc_sim.set_metafield(order_id, "realid", f"k{i}", "v")
    page2 = (await bc_client.get(f"{V3}/orders/metafields", params={"limit": 2, "page": 2})).json()
    assert [m["key"] for m in page2["data"]] == ["k2", "k3"]
    assert page2["meta"]["pagination"]["links"] == {
        "previous": "?page=1&limit=2", "current": "?page=2&limit=2", "next": "?page=3&limit=2"}
    assert page2["meta"]["pagination"]["total_pages"] == 3
    past = (await bc_client.get(f"{V3}/orders/metafields", params={"limit": 2, "page": 9}))
    assert past.status_code == 200 and past.json()["data"] == []
    assert (await bc_client.get(f"{V3}/orders/metafields", params={"limit": 251})).status_code == 422
    bad_date = await bc_client.get(f"{V3}/orders/metafields", params={"date_modified:min": "nope"})
    assert bad_date.status_code == 422 and bad_date.json()["status"] == 422


async def test_order_metafields_endpoint(bc_sim, bc_client):
    a, b = (bc_sim.add_order(customer=JANE, lines=[line()])["id"] for _ in range(2))
    bc_sim.set_metafield(a, "realid", "check_id", "chk_a")
    bc_sim.set_metafield(b, "realid", "check_id", "chk_b")
    body = (await bc_client.get(f"{V3}/orders/{b}/metafields", params={"namespace": "realid"})).json()
    assert [m["value"] for m in body["data"]] == ["chk_b"]
    missing = await bc_client.get(f"{V3}/orders/999/metafields")
    assert missing.status_code == 404 and missing.json()["status"] == 404


# ------------------------------------------------------------------ V3 catalog

async def test_catalog_sku_search(bc_sim, bc_client):
    simple = bc_sim.add_catalog_product(sku="Ab12-XL", name="Mug", price=Decimal("9.95"))
    tee = bc_sim.add_catalog_product(sku="TEE-001", name="Tee", price=Decimal("20"), variants=[
        {"sku": "TEE-001-S", "price": None, "option_values": [{"label": "S", "option_display_name": "Size"}]},
        {"sku": "TEE-001-XL", "price": Decimal("25"), "option_values": [{"label": "XL", "option_display_name": "Size"}]},
    ])
    found = (await bc_client.get(f"{V3}/catalog/products", params={"sku": "Ab12-XL"})).json()
    assert [p["id"] for p in found["data"]] == [simple["id"]] and found["data"][0]["price"] == 9.95
    assert (await bc_client.get(f"{V3}/catalog/products", params={"sku": "AB12-XL"})).json()["data"] == []
    both = (await bc_client.get(f"{V3}/catalog/products", params={"sku:in": "Ab12-XL,TEE-001"})).json()
    assert {p["id"] for p in both["data"]} == {simple["id"], tee["id"]}
    # product SKU search does not find variant SKUs; the variants endpoint does
    assert (await bc_client.get(f"{V3}/catalog/products", params={"sku": "TEE-001-XL"})).json()["data"] == []
    (variant,) = (await bc_client.get(f"{V3}/catalog/variants", params={"sku": "TEE-001-XL"})).json()["data"]
    assert variant["product_id"] == tee["id"] and variant["price"] == 25.0
    assert variant["option_values"][0]["label"] == "XL"
    (base,) = (await bc_client.get(f"{V3}/catalog/variants", params={"sku": "Ab12-XL"})).json()["data"]
    assert base["id"] == simple["base_variant_id"] and tee["base_variant_id"] is None
    with_variants = (await bc_client.get(f"{V3}/catalog/products/{tee['id']}", params={"include": "variants"})).json()
    assert [v["sku"] for v in with_variants["data"]["variants"]] == ["TEE-001-S", "TEE-001-XL"]


# ------------------------------------------------------------------ money

def check_totals(order: dict, lines: list[dict], *, discount: Decimal) -> None:
    d = lambda name: Decimal(order[name])  # noqa: E731
    for kind in ("ex_tax", "inc_tax", "tax"):
        assert d(f"subtotal_{kind}") == sum(Decimal(p[f"total_{kind}"]) for p in lines)
    for p in lines:
        assert Decimal(p["price_tax"]) == Decimal(p["price_inc_tax"]) - Decimal(p["price_ex_tax"])
        assert Decimal(p["total_inc_tax"]) == Decimal(p["price_inc_tax"]) * p["quantity"]
    for part in ("shipping_cost", "handling_cost", "wrapping_cost"):
        assert d(f"{part}_tax") == d(f"{part}_inc_tax") - d(f"{part}_ex_tax")
    assert d("total_inc_tax") == (d("subtotal_inc_tax") + d("shipping_cost_inc_tax") + d("handling_cost_inc_tax")
                                  + d("wrapping_cost_inc_tax") - discount)
    assert d("total_tax") == d("total_inc_tax") - d("total_ex_tax")
    assert d("discount_amount") == discount
    assert sum(Decimal(p["discounted_total_inc_tax"]) for p in lines) == d("subtotal_inc_tax") - discount
    assert order["items_total"] == sum(p["quantity"] for p in lines)
    money_fields = [k for k, v in order.items() if isinstance(v, str) and k.endswith(("_tax", "_cost", "_amount"))
                    and k != "tax_provider_id"]
    assert all(len(order[k].split(".")[1]) == 4 for k in money_fields), money_fields


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2)
charges = st.decimals(min_value=Decimal(0), max_value=Decimal("50"), places=2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tax_inclusive=st.booleans(),
    units=st.lists(st.tuples(prices, st.integers(min_value=1, max_value=5)), min_size=1, max_size=5),
    shipping=charges, handling=charges, wrapping=charges,
    rate=st.sampled_from([Decimal(0), Decimal("0.10"), Decimal("0.0825"), Decimal("0.2")]),
    discount_cents=st.integers(min_value=0, max_value=2000),
)
def test_totals_are_consistent_in_both_tax_modes(tax_inclusive, units, shipping, handling, wrapping, rate,
                                                 discount_cents):
    sim = BigCommerceSimulator(clock=FakeClock(T0), tax_inclusive=tax_inclusive)
    discount = min(Decimal(discount_cents) / 100, sum(p * q for p, q in units) / 2).quantize(Decimal("0.01"))
    order = sim.add_order(
        customer=JANE, lines=[line(sku=f"S{i}", price=str(p), quantity=q) for i, (p, q) in enumerate(units)],
        shipping_ex_tax=shipping, handling_ex_tax=handling, wrapping_ex_tax=wrapping, tax_rate=rate,
        discount=discount,
    )
    lines = sim.products(order["id"])
    check_totals(order, lines, discount=discount)
    assert order["is_tax_inclusive_pricing"] is tax_inclusive
    exact = "price_inc_tax" if tax_inclusive else "price_ex_tax"
    assert [Decimal(p[exact]) for p in lines] == [p for p, _ in units]
    assert Decimal(order["shipping_cost_ex_tax"]) == shipping


def test_known_example_tax_exclusive():
    sim = BigCommerceSimulator(clock=FakeClock(T0))
    order = sim.add_order(customer=JANE, lines=[line(price="19.99", quantity=3)], shipping_ex_tax=Decimal("10"),
                          discount=Decimal("5"))
    (product,) = sim.products(order["id"])
    assert (product["price_ex_tax"], product["price_inc_tax"], product["price_tax"]) == ("19.9900", "21.9900", "2.0000")
    assert product["discounted_total_inc_tax"] == "60.9700"
    assert product["applied_discounts"][0]["amount"] == "5.0000"
    assert (order["subtotal_inc_tax"], order["shipping_cost_inc_tax"], order["total_inc_tax"]) == (
        "65.9700", "11.0000", "71.9700")


def test_known_example_tax_inclusive():
    sim = BigCommerceSimulator(clock=FakeClock(T0), tax_inclusive=True)
    order = sim.add_order(customer=JANE, lines=[line(price="11.00", quantity=2)])
    (product,) = sim.products(order["id"])
    assert (product["price_ex_tax"], product["price_inc_tax"], product["base_price"]) == ("10.0000", "11.0000", "11.0000")
    assert (order["subtotal_ex_tax"], order["total_inc_tax"], order["total_tax"]) == ("20.0000", "22.0000", "2.0000")


async def test_at_most_ten_hooks_per_scope_each_creation_or_move_past_it_refused(bc_sim, bc_client):
    # §12: at most 10 hooks per store + client + scope (one per destination): an 11th is refused.
    scope = "store/order/statusUpdated"
    for n in range(10):
        created = await bc_client.post(f"{V3}/hooks", json={"scope": scope, "destination": f"https://h{n}.example/x"})
        assert created.status_code == 200, created.text
    other = await bc_client.post(f"{V3}/hooks", json={"scope": "store/order/created", "destination": "https://h.example/x"})
    eleventh = await bc_client.post(f"{V3}/hooks", json={"scope": scope, "destination": "https://h10.example/x"})
    moved = await bc_client.put(f"{V3}/hooks/{other.json()['data']['id']}", json={"scope": scope})
    assert other.status_code == 200 and eleventh.status_code == 422 and moved.status_code == 422
    assert sum(h["scope"] == scope for h in bc_sim.hooks.values()) == 10
