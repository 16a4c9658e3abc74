"""A copy of an order older than the one its binding was written from is never acted on (latest_copy):
a cycle's page (or an import's, or another process's) read before the merchant cancelled the order,
mirrored after the webhook's job mirrored the cancellation, made a second, CLOSED sale (a re-open).
Decided on the binding read under the order's lease; the copy is read again, not trusted."""

from __future__ import annotations

from connector.sync.cycle import CycleReport
from connector.sync.order_mirror import Outcome
from sync_world import line


def order_reads(world, order_id: int) -> int:
    """GET /v2/orders/{id} calls (the order itself, not its products or addresses)."""
    return len([r for r in world.bc.request_log.matching("GET", f"/orders/{order_id}")
                if r.path.rstrip("/").endswith(f"/orders/{order_id}")])


async def cancelled_by_webhook_after_page_read(world, *, advance: float = 1.0):
    """An Awaiting Fulfillment order read by a cycle's page; the merchant cancels it and the webhook's
    job mirrors the cancellation first. → (runtime, order id, the page's copy, the cycle)."""
    rt = await world.runtime()
    order_id = world.add_order([line("TEE-M", 1)], status_id=11)
    stale = await rt.bc.get_order(order_id)  # the cycle's page
    cycle = rt.cycle()
    cycle.pages.read([order_id])  # its bindings, read with the page: none yet
    world.set_status(order_id, 5, advance=advance)  # cancelled; store/order/updated
    report = await rt.mirror_event(order_id, "order")
    assert report.outcomes[Outcome.CREATED] == 1
    assert [s["status"] for s in world.sales(order_id)] == ["VOIDED"]
    return rt, order_id, stale, cycle


async def test_a_page_copy_older_than_the_webhooks_makes_no_second_sale(db_world):
    world = db_world
    rt, order_id, stale, cycle = await cancelled_by_webhook_after_page_read(world)
    stock = world.stock("TEE-M")
    writes, reads = world.xs_writes(), order_reads(world, order_id)

    report = CycleReport()
    assert await cycle.mirror_one(stale, report) == Outcome.UP_TO_DATE

    assert [s["status"] for s in world.sales(order_id)] == ["VOIDED"]  # no BC-<id>-2
    assert world.xs_writes() == writes and world.stock("TEE-M") == stock
    assert order_reads(world, order_id) == reads + 1  # read again once, under the lease
    binding = rt.store.order_binding(order_id)
    assert (binding.generation, binding.pos_state) == (1, "voided")
    assert binding.bc_date_modified > stale.date_modified  # the webhook's copy, still
    # The next cycle has nothing to do either.
    report = await world.cycle(advance=5)
    assert report.written == 0 and not report.failed
    assert [s["status"] for s in world.sales(order_id)] == ["VOIDED"]


async def test_a_copy_of_the_same_second_is_read_again(world):
    """Cancelled in the second the page's copy was modified: the dates are equal (whole seconds) and
    the binding's content hash only says the copies differ, not which is newer."""
    rt, order_id, stale, cycle = await cancelled_by_webhook_after_page_read(world, advance=0)
    assert stale.date_modified == rt.store.order_binding(order_id).bc_date_modified
    reads = order_reads(world, order_id)

    assert await cycle.mirror_one(stale, CycleReport()) == Outcome.UP_TO_DATE
    assert [s["status"] for s in world.sales(order_id)] == ["VOIDED"]
    assert order_reads(world, order_id) == reads + 1


async def test_the_copy_read_again_is_acted_on_when_the_order_moved_on(world):
    """Read again rather than skipped: the order as it is now is mirrored at once. Here it was
    re-opened after the cancellation (a new ID check passed): a new sale, as for any re-open."""
    rt, order_id, stale, cycle = await cancelled_by_webhook_after_page_read(world)
    world.set_status(order_id, 9)  # Awaiting Shipment: re-opened, no webhook's job yet

    assert await cycle.mirror_one(stale, CycleReport()) == Outcome.CREATED
    first, second = sorted(world.sales(order_id), key=lambda s: s["invoice_number"])
    assert (first["status"], second["status"]) == ("VOIDED", "CLOSED")
    binding = rt.store.order_binding(order_id)
    assert (binding.generation, binding.bc_status_id, binding.pos_state) == (2, 9, "closed")
    # The webhook's job for the re-open, arriving later, finds it done.
    assert (await rt.mirror_event(order_id, "order")).outcomes[Outcome.UP_TO_DATE] == 1
    assert len(world.sales(order_id)) == 2


async def test_a_newer_copy_costs_no_read(world):
    """The common path: the copy in hand is newer than the binding's; no call is added."""
    order_id = world.add_order([line("TEE-M", 1)], status_id=11)
    await world.cycle()
    world.set_status(order_id, 5)
    reads = order_reads(world, order_id)
    report = await world.cycle()
    assert report.outcomes[Outcome.VOIDED] == 1
    assert order_reads(world, order_id) == reads
