"""A sale write held up by the pacer (or a 429's quota window) while its order's lease lapses (its
renewals cannot reach the database: a failover, a network cut): another worker takes the order over
and writes it. The first worker must then send nothing, or the order has two sales (two payments)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from connector.sync.order_mirror import Outcome
from sync_world import line

LAPSE = 200  # seconds: past the lease's 120 s ttl


def sale_write_marked(store, order_id: int) -> bool:
    """A sale write is next: its binding is saved pending first."""
    binding = store.order_binding(order_id)
    return binding is not None and bool(binding.pending_state)


def return_write_marked(store, order_id: int) -> bool:
    """A return, or a return's void, is next: its refund is marked first."""
    return any(b.pending or b.outcome == "voiding" for b in store.refund_bindings(order_id))


async def a_paced_write_outlived_by_its_lease(world, order_id: int, marked=sale_write_marked):
    """Worker A's write to the order waits for its pacer slot past the lease's ttl; meanwhile worker
    B runs a cycle. Returns (A's report, B's report, the X-Series writes once B was done, B)."""
    a, b = await world.new_runtime(), await world.new_runtime()
    gate, blocked = asyncio.Event(), asyncio.Event()
    pace = a.xs.pacer.before_request

    async def slot_after_the_lease() -> None:  # only the write, once `marked`
        if marked(a.store, order_id) and not gate.is_set():
            blocked.set()
            await gate.wait()
        await pace()

    a.xs.pacer.before_request = slot_after_the_lease
    world.clock.advance(1)
    task = asyncio.create_task(a.cycle().run())
    await blocked.wait()
    world.clock.advance(LAPSE)  # A renewed nothing meanwhile: the lease expired in the database
    b_report = await b.cycle().run()
    writes = world.xs_writes()
    gate.set()
    return await task, b_report, writes, b


def paid(sale: dict) -> Decimal:
    return sum((Decimal(str(p["amount"])) for p in sale["payments"]), Decimal(0))


@pytest.mark.parametrize("write", ["create", "void", "settle"])
async def test_a_write_whose_lease_lapsed_while_it_waited_is_not_sent(db_world, write):
    world = db_world
    order_id = world.add_order([line("TEE-M", 2)], status_id=7 if write == "settle" else 11,
                               payment_status="")  # a bank transfer: paid when moved on
    if write != "create":
        await world.cycle()
        world.set_status(order_id, 5 if write == "void" else 11)  # cancelled; paid
    stock = world.stock("TEE-M")

    a_report, b_report, writes, b = await a_paced_write_outlived_by_its_lease(world, order_id)

    expected = {"create": Outcome.CREATED, "void": Outcome.VOIDED, "settle": Outcome.SETTLED}[write]
    assert dict(b_report.outcomes) == {expected: 1} and not b_report.failed
    assert world.xs_writes() == writes  # A sent nothing after B wrote
    assert "not sent" in a_report.failed[order_id]
    sales = world.sales(order_id)
    assert len(sales) == 1
    if write == "create":
        assert sales[0]["status"] == "CLOSED" and world.stock("TEE-M") == stock - 2
    elif write == "void":
        assert sales[0]["status"] == "VOIDED" and world.stock("TEE-M") == stock + 2
    else:
        total = Decimal(str(sales[0]["total_price"])) + Decimal(str(sales[0]["total_tax"]))
        assert sales[0]["status"] == "ONACCOUNT_CLOSED" and paid(sales[0]) == total.quantize(Decimal("0.01"))
    assert b.store.order_binding(order_id).pending_state is None  # B's binding: A did not write over it


@pytest.mark.parametrize("write", ["return", "return void"])
async def test_a_return_write_whose_lease_lapsed_while_it_waited_is_not_sent(db_world, write):
    """The same for a refund's return and, with its cancelled order, the return's void: each is
    written under the refund's lease."""
    world = db_world
    order_id = world.add_order([line("TEE-M", 3)], status_id=10)
    await world.cycle()
    tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    if write == "return void":
        await world.cycle()
        world.set_status(order_id, 5)  # cancelled: its return is voided before its sale
    a_report, _, writes, _ = await a_paced_write_outlived_by_its_lease(world, order_id, return_write_marked)
    assert world.xs_writes() == writes  # A sent nothing after B wrote
    assert any("not sent" in why for why in [*a_report.failed.values(), *a_report.refunds_failed.values()])
    returns = world.xs.sales_of_order(order_id, returns=True)
    assert len(returns) == 1
    assert returns[0]["status"] == ("CLOSED" if write == "return" else "VOIDED")
    assert world.stock("TEE-M") == (48 if write == "return" else 50)
