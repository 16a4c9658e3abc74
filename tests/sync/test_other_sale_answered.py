"""A re-post of the order's sale — its void, its payment — names the sale's id (§8.3: "include
existing sale id to update"). A server that ignores it and makes a new sale answers with another id:
the order is not bound to that sale as if ours had changed; it is parked with the write pending and
audited, and nothing is posted again behind a person's back (each re-post would make one more)."""

from __future__ import annotations

import pytest

from connector.sync.order_mirror import Outcome
from sync_world import line

CANCELLED, DECLINED, SHIPPED, AWAITING_FULFILLMENT = 5, 6, 2, 11


@pytest.mark.parametrize("write", ["void", "payment"])
async def test_a_re_post_answered_with_another_sale_parks_the_order(world, write):
    if write == "void":
        order_id = world.add_order([line("TEE-M", 1)])
    else:  # an on-account sale (Awaiting Payment) paid later
        order_id = world.add_order([line("TEE-M", 1)], status_id=7, payment_status="")
    await world.cycle()
    [ours] = world.sales(order_id)
    world.xs.ignores_sale_ids = True
    world.set_status(order_id, CANCELLED if write == "void" else AWAITING_FULFILLMENT)

    report = await world.cycle()

    assert order_id in report.failed and "another sale" in report.failed[order_id]
    assert world.store.failure(order_id).parked
    binding = world.store.order_binding(order_id)
    assert binding.sale_id == ours["id"] and binding.pending_state is not None  # not rebound, still unsettled
    [made] = [s for s in world.sales(order_id) if s["id"] != ours["id"]]
    [audit] = [e for e in world.store.audit_entries(order_id) if e.action == "other_sale_answered"]
    assert audit.target_id == made["id"] and audit.before == ours["id"]
    [told] = world.store.exceptions()  # the other sale took stock and money: a person is told
    assert told.kind == "other_sale" and made["id"] in told.summary and ours["id"] in told.summary

    report = await world.cycle(advance=3600)  # parked: not posted again
    assert report.outcomes[Outcome.VOIDED] == 0 and len(world.sales(order_id)) == 2

    # Nor when the merchant changes the order meanwhile (a change lets other parked orders through:
    # "the merchant fixed it"), by the poll or by a webhook's event: only retry-failed releases it.
    world.set_status(order_id, DECLINED if write == "void" else SHIPPED)
    report = await world.cycle(advance=60)
    await (await world.runtime()).mirror_event(order_id, "store/order/updated")
    assert len(world.sales(order_id)) == 2 and order_id in report.failed
    assert world.store.failure(order_id).parked and world.store.order_binding(order_id).sale_id == ours["id"]


async def test_released_by_a_person_the_payment_closes_our_sale_not_the_other(world):
    """retry-failed after a person looked: the pending payment is settled by our sale's own state. The
    other sale, closed under our invoice number, must not be taken for ours (ours is still on account)."""
    order_id = world.add_order([line("TEE-M", 1)], status_id=7, payment_status="")
    await world.cycle()
    [ours] = world.sales(order_id)
    world.xs.ignores_sale_ids = True
    world.set_status(order_id, AWAITING_FULFILLMENT)
    await world.cycle()
    world.xs.ignores_sale_ids = False  # the server is fixed
    world.store.unpark(order_id)
    runtime = await world.runtime()
    search = runtime.xs.find_sales_by_invoice_number

    async def other_first(number: str):  # a search listing the newer sale first
        return list(reversed(await search(number)))

    runtime.xs.find_sales_by_invoice_number = other_first

    report = await world.cycle(advance=60)

    assert report.outcomes[Outcome.SETTLED] == 1 and not report.failed
    assert world.xs.sales[ours["id"]]["status"] == "ONACCOUNT_CLOSED"
    assert world.store.order_binding(order_id).sale_id == ours["id"]
