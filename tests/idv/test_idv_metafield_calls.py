"""What one metafield poll costs in BigCommerce calls: check_id comes in the same batch call, a
check once seen is remembered, and a store that refuses or ignores `key:in` still works."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from sqlalchemy import delete

from connector.clients.bigcommerce import BigCommerceClient
from connector.clock import FakeClock
from connector.idv.decision import Outcome
from connector.idv.ledger import CheckIdRead, SqlCheckIds
from connector.store.idv_tables import IdvOrderCheckId
from test_idv_metafields import poll, realid

ORDER_READ_OR_WRITE = "/stores/abc123/v2/orders/"
OUT_OF_OVERLAP = 600  # seconds: more than sync.overlap_seconds (300)


async def quiet_cycle_past_the_overlap(world) -> None:
    """A poll far enough later that the next one's window no longer reaches back to earlier writes."""
    world.clock.advance(OUT_OF_OVERLAP)
    await poll(world)


def metafield_calls(world) -> list:
    return world.bc.request_log.matching(contains="/metafields")


def per_order_look_ups(world) -> list:
    return [r for r in metafield_calls(world) if r.path != "/stores/abc123/v3/orders/metafields"]


def assert_only_the_decisions_touch_orders(world) -> None:
    """Everything but the poll's metafield reads is the engine reading and writing orders."""
    others = [r for r in world.bc.request_log if "/metafields" not in r.path]
    assert all(r.path.startswith(ORDER_READ_OR_WRITE) and r.method in ("GET", "PUT") for r in others)


async def test_a_cycle_reading_20_verdicts_makes_one_metafield_call(world):
    await world.start()
    orders = [world.add_order(status_id=11) for _ in range(20)]

    # 20 new checks: each order's check_id and verdict changed within the window.
    for order in orders:
        realid(world, order, "pending", f"rid-{order}")
    report = await poll(world)
    assert report.read == 20 and report.outcomes == {Outcome.WRITTEN: 20}
    assert len(metafield_calls(world)) == 1 and per_order_look_ups(world) == []
    assert_only_the_decisions_touch_orders(world)

    # 20 verdicts of the same checks, past the overlap: check_id untouched, so not in the batch.
    await quiet_cycle_past_the_overlap(world)
    for n, order in enumerate(orders):
        realid(world, order, "failed" if n % 2 else "verified")
    report = await poll(world)
    assert report.read == 20 and report.check_ids_read == 0 and report.looked_up == 0
    assert len(metafield_calls(world)) == 1 and per_order_look_ups(world) == []
    assert_only_the_decisions_touch_orders(world)
    assert [world.status(o) for o in orders] == [6 if n % 2 else 11 for n in range(20)]
    for order in orders:
        assert {e.target_id for e in world.audit(order)} == {f"rid-{order}"}


async def test_a_check_never_seen_is_looked_up_once_then_remembered(world):
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "pending", "rid-1")
    await poll(world)
    await quiet_cycle_past_the_overlap(world)
    # As after an upgrade: the cursor is recent, but no check_id was ever remembered.
    with world.store.session() as s:
        s.exec(delete(IdvOrderCheckId))
        s.commit()

    realid(world, order, "in_review")
    report = await poll(world)
    assert len(per_order_look_ups(world)) == 1 and report.looked_up == 1
    realid(world, order, "verified")
    report = await poll(world)
    assert per_order_look_ups(world) == [] and report.looked_up == 0
    assert world.status(order) == 11
    assert [e.target_id for e in world.audit(order)] == ["rid-1", "rid-1", "rid-1"]


async def test_a_new_check_replaces_the_remembered_one(world):
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "failed", "rid-1")
    await poll(world)
    realid(world, order, "pending", "rid-2")
    await poll(world)
    await quiet_cycle_past_the_overlap(world)
    realid(world, order, "verified")
    report = await poll(world)
    assert per_order_look_ups(world) == [] and report.looked_up == 0 and world.status(order) == 11
    assert [e.target_id for e in world.audit(order)] == ["rid-1", "rid-2", "rid-2"]


async def test_a_refused_key_in_falls_back_to_one_call_per_key(world):
    world.bc.metafield_key_in = "refuse"
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "failed", "rid-1")
    report = await poll(world)
    assert report.outcomes == {Outcome.WRITTEN: 1} and world.status(order) == 6
    assert [r.status for r in metafield_calls(world)] == [400, 200, 200]
    assert [parse_qs(r.query).get("key") for r in metafield_calls(world)[1:]] == [
        ["verification_status"], ["check_id"]]

    await quiet_cycle_past_the_overlap(world)
    realid(world, order, "manually_approved")
    await poll(world)  # the refusal is remembered: no second try of key:in
    assert [r.status for r in metafield_calls(world)] == [200, 200]
    assert world.status(order) == 11
    assert [e.target_id for e in world.audit(order)] == ["rid-1", "rid-1"]


async def test_an_ignored_key_in_still_acts_on_realid_verdicts_only(world):
    world.bc.metafield_key_in = "ignore"
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "failed", "rid-1")
    world.bc.set_metafield(order, "realid", "score", "verified")  # another realid key
    report = await poll(world)
    assert len(metafield_calls(world)) == 1 and report.read == 1
    assert world.status(order) == 6 and world.audit(order)[0].target_id == "rid-1"


def test_the_remembered_check_id_never_goes_back_to_an_older_read(store):
    """On SQLite and PostgreSQL: the upsert is each dialect's ON CONFLICT."""
    memory = SqlCheckIds(store)
    now = store.clock.now()
    memory.remember([CheckIdRead(7, "rid-2", now)])
    memory.remember([CheckIdRead(7, "rid-1", now - timedelta(minutes=1)), CheckIdRead(8, "rid-9", now)])
    assert memory.known({7, 8, 9}) == {7: "rid-2", 8: "rid-9"}
    memory.remember([CheckIdRead(7, "rid-3", now + timedelta(seconds=1))])
    assert memory.known({7}) == {7: "rid-3"}


@pytest.mark.parametrize("query, keys", [
    ({"key:in": "verification_status,check_id"}, ["verification_status", "check_id"]),
    ({"key:in": "check_id"}, ["check_id"]),
    ({"key:in": "check_id", "key": "verification_status"}, ["verification_status", "check_id"]),
    ({}, ["verification_status", "check_id", "score"]),
])
async def test_the_simulated_batch_endpoint_filters_on_key_in(world, query, keys):
    order = world.add_order(status_id=11)
    realid(world, order, "failed", "rid-1")
    world.bc.set_metafield(order, "realid", "score", "0.9")
    async with httpx.AsyncClient(transport=world.bc.transport(), base_url=world.bc.base_url) as client:
        response = await client.get("/stores/abc123/v3/orders/metafields",
                                    params={"namespace": "realid", **query},
                                    headers={"X-Auth-Token": world.bc.access_token, "Accept": "application/json"})
    assert response.status_code == 200
    assert sorted(m["key"] for m in response.json()["data"]) == sorted(keys)


async def test_the_batch_call_with_key_in_matches_the_v3_spec():
    """The request as it goes on the wire, checked against orders.v3.yml (tests/contract's validator)."""
    contract = _contract_helpers()
    client = BigCommerceClient(store_hash="abc123", access_token="tok", clock=FakeClock())
    try:
        with respx.mock:
            route = respx.get(f"{contract.BASE}/v3/orders/metafields").mock(return_value=contract.v3([]))
            [m async for m in client.iter_order_metafields(namespace="realid", keys=("verification_status", "check_id"),
                                                           modified_since=FakeClock().now())]
    finally:
        await client.aclose()
    [call] = route.calls
    assert parse_qs(call.request.url.query.decode())["key:in"] == ["verification_status,check_id"]
    contract.validate("orders.v3.yml", call.request)


def _contract_helpers():
    path = Path(__file__).resolve().parents[1] / "contract" / "test_bigcommerce_requests.py"
    # The official files are in ../shared beside the clone, wherever the clone is.
    if not path.is_file() or not (Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "bigcommerce").is_dir():
        pytest.skip("the BigCommerce OpenAPI files or tests/contract are not available")
    pytest.importorskip("openapi_core")
    loaded = importlib.util.spec_from_file_location("bigcommerce_request_contract", path)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module
