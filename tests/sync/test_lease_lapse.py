"""A sale write held up by the pacer (or a 429's quota window) while its order's lease lapses (its
renewals cannot reach the database: a failover, a network cut): another worker takes the order over
and writes it. The first worker must then send nothing, or the order has two sales (two payments)."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone
from decimal import Decimal

import pytest

from connector.store.leases import TTL_SECONDS
from connector.sync.order_mirror import Outcome
from sync_world import line

LAPSE = TTL_SECONDS + 60  # seconds: past the lease's ttl


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


def lease_expiry(store, key: str):
    from sqlmodel import Session, select

    from connector.store.tables import Lease

    with Session(store.engine) as s:
        expires = s.exec(select(Lease.expires_at).where(Lease.key == key)).one()
    return expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("waited", [0, 89, 100, 300])
@pytest.mark.parametrize("write", ["create", "return"])
async def test_a_write_sent_keeps_its_lease_until_it_can_no_longer_land_unseen(db_world, write, waited):
    """A write in flight may land up to the transport's attempt deadline after it was sent, and the
    search shows it up to sync.lost_write_settle_seconds later: a worker taking the lease over before
    then would find nothing and write again. So when a write goes out, whatever the pacer waited
    (`waited` seconds, renewals failing meanwhile), its lease lasts at least deadline + settle more."""
    world = db_world
    order_id = world.add_order([line("TEE-M", 3)], status_id=10)
    runtime = await world.runtime()
    if write == "return":
        await world.cycle()
        tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
        world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    marked = sale_write_marked if write == "create" else return_write_marked
    transport = runtime.xs.transport
    pace, send = transport.pacer.before_request, transport.client.send
    sent: list[tuple] = []

    async def slow_slot() -> None:
        if marked(runtime.store, order_id) and not sent:
            world.clock.advance(waited)
        await pace()

    async def spy(request, **options):
        if request.method == "POST" and not sent:
            key = f"default/order:{order_id}" if write == "create" else f"default/refund:{refund_id()}"
            sent.append((world.clock.now(), lease_expiry(runtime.store, key)))
        return await send(request, **options)

    def refund_id() -> int:
        return next(b.refund_id for b in runtime.store.refund_bindings(order_id))

    transport.pacer.before_request, transport.client.send = slow_slot, spy
    report = await world.cycle()
    assert not report.failed and not report.refunds_failed
    (at, expires), = sent
    assert expires - at >= timedelta(seconds=transport.deadline + 30)  # settle: the default 30 s
