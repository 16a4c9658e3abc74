"""A refund that is not returned is visible to monitoring (review, item 2): `sync` exits 1 while a
refund fails (retried each cycle) or waits for a person after X-Series refused it for good, as it
does for failed and parked orders, and `status` lists the refunds held for a person."""

from __future__ import annotations

import contextlib
import io

from connector import commands
from connector.clients.transport import RetryPolicy
from connector.clients.xseries import XSeriesClient
from connector.errors import PermanentApiError, TransientApiError
from connector.store.repository import Store
from sync_world import line


def refusing(monkeypatch, error: Exception) -> None:
    """X-Series answers every return POST (invoice BC-<order>-R<refund>) with `error`."""
    original = XSeriesClient.create_sale_document

    async def create(self, body, answer=None, **options):
        if b"-R" in body:
            raise error
        return await original(self, body, answer=answer, **options)

    monkeypatch.setattr(XSeriesClient, "create_sale_document", create)


async def sync(world) -> int:
    world.clock.advance(600)
    return await commands.sync_once(world.settings(), bc_transport=world.bc.transport(),
                                    xs_transport=world.xs.transport(), clock=world.clock,
                                    retry=RetryPolicy(seed=1, base_delay=0.01))


def status(world) -> str:
    out = io.StringIO()
    commands.show_status(world.settings(), out=out)
    return out.getvalue()


async def a_refunded_order(world) -> int:
    order_id = world.add_order([line(quantity=2)])
    world.clock.advance(2)
    assert await sync(world) == 0
    tee = next(p for p in world.bc.products(order_id) if p["product_id"])
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    return order_id


async def test_a_refund_refused_for_good_exits_1_until_a_person_resolves_it(world, monkeypatch):
    order_id = await a_refunded_order(world)
    refusing(monkeypatch, PermanentApiError("422 Unprocessable Entity: return refused", api="xseries",
                                            method="POST", path="/api/register_sales", status=422))
    assert [await sync(world) for _ in range(3)] == [1, 1, 1]
    text = status(world)
    assert "refunds held for a person: 1" in text
    assert f"order {order_id}: refund" in text and "refused" in text and "422" in text

    with contextlib.closing(Store.open(world.database_url, clock=world.clock)) as store:
        [exception] = store.exceptions()
        store.resolve_exception(exception.id, by="merchant")  # returned by hand
    assert await sync(world) == 0
    assert "refunds held for a person: 0" in status(world)


async def test_a_refund_failing_each_cycle_exits_1_and_shows_in_the_last_cycle(world, monkeypatch):
    await a_refunded_order(world)
    refusing(monkeypatch, TransientApiError("503 Service Unavailable", api="xseries", method="POST",
                                            path="/api/register_sales", status=503))
    assert [await sync(world) for _ in range(2)] == [1, 1]
    assert "failures, " in status(world) and "a refund failed" in status(world)

    monkeypatch.undo()
    assert await sync(world) == 0
