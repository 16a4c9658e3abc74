"""Order metafields as orders.v3.yml allows them: Metafield is allOf(MetafieldBase, {id, date_created,
date_modified, owner_client_id}) and MetafieldBase requires only permission_set. A row without id or
dates is read (with its answer's Date, the time to go by); one without what a verdict needs is
passed over, named in the log, and the others come."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import httpx
import pytest
import respx

import test_bigcommerce_client as bc_client_tests
from test_bigcommerce_client import API

# The BigCommerce client's fixtures, from its own module (this folder's conftest has X-Series' client).
client, clock = bc_client_tests.client, bc_client_tests.clock

UTC = timezone.utc
ROW = {"id": 7, "namespace": "realid", "key": "verification_status", "value": "verified",
       "permission_set": "read", "resource_type": "order", "resource_id": 218,
       "date_created": "2022-06-16T18:39:00+00:00"}  # the reviewer's row: no date_modified
DATE_1, DATE_2 = "Tue, 02 Mar 2026 09:00:00 GMT", "Tue, 02 Mar 2026 09:00:05 GMT"


def page(rows: list[dict], current: int, total: int, date: str | None) -> httpx.Response:
    body = {"data": rows, "meta": {"pagination": {"total": len(rows), "count": len(rows), "per_page": 250,
                                                  "current_page": current, "total_pages": total}}}
    return httpx.Response(200, json=body, headers={"Date": date} if date else {})


def without(*names: str, **changes) -> dict:
    return {k: v for k, v in {**ROW, **changes}.items() if k not in names}


@respx.mock
async def test_a_metafield_without_date_modified_or_id_is_read(client):
    rows = [ROW, without("id", resource_id=219), without("date_created", "resource_type", resource_id=220)]
    respx.get(f"{API}/v3/orders/metafields").mock(return_value=page(rows, 1, 1, DATE_1))
    seen: list[datetime] = []
    got = [m async for m in client.iter_order_metafields(namespace="realid", key="verification_status",
                                                          on_server_time=seen.append)]
    assert [(m.id, m.resource_id, m.value, m.resource_type) for m in got] == [
        (7, 218, "verified", "order"), (None, 219, "verified", "order"), (7, 220, "verified", "order")]
    assert got[0].date_modified is None and got[0].stamp == datetime(2022, 6, 16, 18, 39, tzinfo=UTC)
    assert got[2].stamp is None
    answered = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert [m.answered_at for m in got] == [answered] * 3 and seen == [answered]


@respx.mock
async def test_each_row_carries_its_own_answers_date(client):
    respx.get(f"{API}/v3/orders/100/metafields").mock(side_effect=[
        page([ROW], 1, 3, DATE_1), page([without("id")], 2, 3, DATE_2), page([without("id", value="failed")], 3, 3, None),
    ])
    got = await client.list_metafields_for_order(100, namespace="realid")
    assert [m.answered_at for m in got] == [datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
                                            datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC), None]


@pytest.mark.parametrize("missing", ["value", "key", "namespace", "resource_id"])
@respx.mock
async def test_a_row_without_what_a_verdict_needs_is_passed_over_and_named(client, caplog, missing):
    respx.get(f"{API}/v3/orders/metafields").mock(
        return_value=page([without(missing, resource_id=300, id=8), without("date_created")], 1, 1, DATE_1))
    with caplog.at_level(logging.ERROR, logger="connector.bigcommerce"):
        got = [m async for m in client.iter_order_metafields(namespace="realid")]
    assert [m.resource_id for m in got] == [218]
    assert "does not parse" in caplog.text and f"{missing}: Field required" in caplog.text
