"""Real ID's verdicts in metafields answered without date_modified, date_created or id (orders.v3.yml
requires none of them), end to end on the simulator: each verdict is acted on once, a re-read through
the overlap is not decided again, a new value is, and a verdict that could not be applied holds the
cursor. The simulator keeps the fields (it filters on date_modified); the answers lose them."""

from __future__ import annotations

import json

import httpx
import pytest

from connector.idv.decision import Outcome
from connector.sandbox.faults import FaultConfig
from test_idv_metafields import poll, realid

CASES = {
    "no-date_modified": ("date_modified",),
    "no-date_modified-no-id": ("date_modified", "id"),
    "no-dates": ("date_modified", "date_created"),
    "no-dates-no-id": ("date_modified", "date_created", "id"),
}


class Stripping(httpx.AsyncBaseTransport):
    """The simulator's answers, with these fields taken out of every metafield row."""

    def __init__(self, inner: httpx.AsyncBaseTransport, fields: tuple[str, ...]) -> None:
        self.inner, self.fields = inner, fields

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if "/metafields" not in request.url.path or response.status_code != 200:
            return response
        await response.aread()
        body = json.loads(response.content)
        for row in body.get("data") or []:
            for name in self.fields:
                row.pop(name, None)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        return httpx.Response(200, json=body, headers=headers)

    async def aclose(self) -> None:
        await self.inner.aclose()


def strip(world, fields: tuple[str, ...]) -> None:
    world.transport.inner = Stripping(world.transport.inner, fields)


@pytest.mark.parametrize("fields", CASES.values(), ids=CASES.keys())
async def test_each_verdict_is_acted_on_once(world, fields):
    strip(world, fields)
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "pending", "rid-1")
    report = await poll(world)
    assert report.outcomes == {Outcome.WRITTEN: 1} and world.status(order) == 12

    for _ in range(3):  # re-read through the overlap: not decided again
        report = await poll(world)
        assert report.already_handled == 1 and not report.outcomes
    assert len(world.audit(order)) == 1

    realid(world, order, "failed")  # a new value of the same metafield
    report = await poll(world)
    assert report.outcomes == {Outcome.WRITTEN: 1} and world.status(order) == 6
    realid(world, order, "manually_approved")
    await poll(world)
    assert world.status(order) == 11
    assert [e.target_id for e in world.audit(order)] == ["rid-1"] * 3


async def test_a_verdict_without_date_modified_is_not_judged_by_date_created(world):
    """The metafield was created with the check's first step; a later webhook step leaves its
    date_created behind. Its verdict goes by its answer's Date and is applied, not judged stale."""
    strip(world, ("date_modified",))
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "pending", "rid-1")
    await poll(world)
    await world.event(order, "submitted", "rid-1", advance=60)  # the webhook, after date_created
    realid(world, order, "verified")
    report = await poll(world)
    assert report.outcomes == {Outcome.WRITTEN: 1} and world.status(order) == 11


@pytest.mark.parametrize("fields", CASES.values(), ids=CASES.keys())
async def test_a_verdict_not_applied_is_read_again_even_past_the_overlap(world, fields):
    strip(world, fields)
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "failed", "rid-1")
    world.clock.advance(400)  # read more than the overlap after it was written: the answer's Date is no floor
    world.bc.faults.reconfigure(FaultConfig(share_5xx=1.0, path_filter=f"/v2/orders/{order}"))
    report = await poll(world)
    assert report.failed and world.status(order) == 11 and world.audit(order) == []
    world.bc.faults.reconfigure(FaultConfig())
    world.clock.advance(3600)  # far beyond the 300 s overlap: only the held cursor finds it again
    report = await poll(world)
    assert report.outcomes == {Outcome.WRITTEN: 1} and world.status(order) == 6


@pytest.mark.parametrize("fields", CASES.values(), ids=CASES.keys())
async def test_a_new_check_failing_again_between_two_polls_is_acted_on(world, fields):
    """The merchant released an order whose check failed; a new check (rid-2) then failed too before
    the next poll. The metafield shows the same value as decided on, and without dates nothing else
    tells it apart but the new check_id read in the same batch: the order must be held again."""
    strip(world, fields)
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "pending", "rid-1")
    await poll(world)
    realid(world, order, "failed")
    await poll(world)
    assert world.status(order) == 6
    world.clock.advance(5)
    world.bc.set_status(order, 11)  # the merchant releases the order by hand
    realid(world, order, "pending", "rid-2")
    realid(world, order, "failed")
    report = await poll(world)
    assert report.already_handled == 0 and world.status(order) == 6
    assert [e.target_id for e in world.audit(order)][-1] == "rid-2"
