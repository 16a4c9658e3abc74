"""A storm of webhook events for one order (an app or the merchant touching it again and again): each
event's job reads the order, and, when it is bound and unchanged, spends nothing in X-Series. The
X-Series index (products and customers made since the last cycle) is read first only when the order
has something to write: 200 events cost 400 index reads, over a one-register store's 5-minute quota."""

from __future__ import annotations

from connector.sync.order_mirror import Outcome
from sync_world import line


async def test_events_of_a_mirrored_unchanged_order_cost_no_xseries_request(db_world):
    world = db_world
    order_id = world.add_order([line("TEE-M", 1)], status_id=11)
    await world.cycle()
    rt = await world.runtime()
    assert len(world.sales(order_id)) == 1
    bc_before, xs_before = len(world.bc.request_log), len(world.xs.request_log)

    for _ in range(20):
        report = await rt.mirror_event(order_id, "store/order/updated")
        assert report.outcomes[Outcome.UP_TO_DATE] == 1 and not report.failed

    assert len(world.xs.request_log) == xs_before
    assert len(world.bc.request_log) - bc_before == 20  # the order, read afresh: the event says only its id
    assert len(world.sales(order_id)) == 1


async def test_an_event_of_an_order_to_write_reads_the_index_first(world):
    """Why the read is there: a product made in X-Series since the last cycle is bound, not made
    again (X-Series refuses a second product of that SKU)."""
    await world.cycle()
    rt = await world.runtime()
    world.xs.add_product(sku="NEW-CAP", name="New cap", price_excluding_tax="15.00", inventory=5)
    order_id = world.add_order([line("NEW-CAP", 1, "15.00", product_id=999)], status_id=11)

    report = await rt.mirror_event(order_id, "store/order/created")

    assert report.outcomes[Outcome.CREATED] == 1 and not report.failed
    assert len(world.products_with_sku("NEW-CAP")) == 1
    assert world.xs.request_log.matching("GET", "/products")  # the index, read for this order
