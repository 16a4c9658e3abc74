"""A server that numbers sales itself (knob numbers_sales_itself; §8.2 says a given invoice number
"should use" the register's prefix/suffix, not that it is kept): a write whose answer is lost cannot
be found by our invoice number, so it is looked up by the source_id order-sync gave it (§8.4) before
anything is written again. With or without a server that refuses a duplicate source_id (unverified,
§8.4): exactly one sale or return, stock and money moved once, and nothing parked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sync_world import cents, line, lose_next_sale_answer, sale_sent_then_crashed

SERVERS = [pytest.param(False, id="duplicate-source-id-taken"), pytest.param(True, id="duplicate-source-id-refused")]


def self_numbering(world_factory, refuses_duplicate: bool):
    return world_factory(xs_options={"numbers_sales_itself": True, "reject_duplicate_source_id": refuses_duplicate})


def live(world, order_id: int, *, returns: bool = False) -> list[dict]:
    return [s for s in world.xs.sales_of_order(order_id, returns=returns) if s["status"] != "VOIDED"]


def paid(sales: list[dict]) -> Decimal:
    return sum((cents(p["amount"]) for s in sales for p in s["payments"]), Decimal(0))


def nothing_failed(world, order_id: int) -> None:
    assert world.store.failure(order_id) is None
    assert [e for e in world.store.exceptions() if e.bc_order_id == order_id] == []


async def cycles(world, n: int = 3):
    for _ in range(n):
        report = await world.cycle(advance=40)
    return report


@pytest.mark.parametrize("refuses_duplicate", SERVERS)
async def test_a_lost_sale_answer_on_a_self_numbering_server_makes_one_sale(world_factory, refuses_duplicate):
    world = self_numbering(world_factory, refuses_duplicate)
    order_id = world.add_order([line("TEE-M", 2)], status_id=11)
    lost = lose_next_sale_answer(world)

    report = await cycles(world)

    assert lost and not report.failed
    [sale] = live(world, order_id)
    assert world.store.order_binding(order_id).sale_id == sale["id"]
    assert world.stock("TEE-M") == 48 and paid([sale]) == cents(world.order(order_id)["total_inc_tax"])
    nothing_failed(world, order_id)


@pytest.mark.parametrize("refuses_duplicate", SERVERS)
async def test_a_crash_after_the_sale_landed_on_a_self_numbering_server_makes_one_sale(world_factory,
                                                                                       refuses_duplicate):
    world = self_numbering(world_factory, refuses_duplicate)
    order_id = await sale_sent_then_crashed(world, [line("TEE-M", 2)], status_id=11)

    next_run = await world.new_runtime()  # a new process: nothing of the last one is known
    for _ in range(3):
        report = await world.cycle(advance=40, runtime=next_run)

    assert not report.failed
    [sale] = live(world, order_id)
    assert next_run.store.order_binding(order_id).sale_id == sale["id"]
    assert world.stock("TEE-M") == 48 and paid([sale]) == cents(world.order(order_id)["total_inc_tax"])
    nothing_failed(world, order_id)


@pytest.mark.parametrize("refuses_duplicate", SERVERS)
async def test_a_lost_return_answer_on_a_self_numbering_server_returns_once(world_factory, refuses_duplicate):
    world = self_numbering(world_factory, refuses_duplicate)
    order_id = world.add_order([line("TEE-M", 2)], status_id=11)
    await world.cycle()
    tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    lost = lose_next_sale_answer(world)

    report = await cycles(world)

    assert lost and not report.refunds_failed
    [ret] = live(world, order_id, returns=True)
    assert [i["quantity"] for i in ret["line_items"]] == [-1]
    assert [b.return_sale_id for b in world.store.refund_bindings(order_id)] == [ret["id"]]
    assert world.stock("TEE-M") == 49 and len(live(world, order_id)) == 1
    refunded = sum((cents(r["total_amount"]) for r in world.bc.refunds.values() if r["order_id"] == order_id),
                   Decimal(0))
    assert paid([ret]) == -refunded
    nothing_failed(world, order_id)


def lagging_refuser(world_factory):
    """Self-numbering, refusing a duplicate source_id, and a search that shows a new sale only
    120 s after it was made: longer than sync.lost_write_settle_seconds (30), so the sale whose
    answer was lost is written again, and refused as a duplicate, before the search shows it."""
    return world_factory(xs_options={"numbers_sales_itself": True, "reject_duplicate_source_id": True,
                                     "search_lag_seconds": 120})


async def test_a_refusal_of_a_duplicate_source_id_after_a_lost_answer_binds_the_sale_that_landed(world_factory):
    world = lagging_refuser(world_factory)
    order_id = world.add_order([line("TEE-M", 2)], status_id=11)
    lost = lose_next_sale_answer(world)

    report = await cycles(world, 6)

    assert lost and not report.failed
    [sale] = live(world, order_id)
    assert world.store.order_binding(order_id).sale_id == sale["id"]
    assert world.stock("TEE-M") == 48 and paid([sale]) == cents(world.order(order_id)["total_inc_tax"])
    nothing_failed(world, order_id)


async def test_a_refusal_of_a_duplicate_source_id_after_a_lost_return_answer_binds_the_return(world_factory):
    world = lagging_refuser(world_factory)
    order_id = world.add_order([line("TEE-M", 2)], status_id=11)
    await cycles(world, 4)
    tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    lost = lose_next_sale_answer(world)

    report = await cycles(world, 6)

    assert lost and not report.refunds_failed
    [ret] = live(world, order_id, returns=True)
    assert [b.return_sale_id for b in world.store.refund_bindings(order_id)] == [ret["id"]]
    assert world.stock("TEE-M") == 49 and len(live(world, order_id)) == 1
    nothing_failed(world, order_id)
