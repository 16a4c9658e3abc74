"""A failure recorded for a change the merchant then reverts leaves the failed queue once the order is
found as it should be: before, it stayed due for ever (a read each cycle, sync exiting 1, lag growing)."""
from __future__ import annotations

from connector.sandbox.faults import FaultConfig
from sync_world import line


async def test_the_failure_of_a_reverted_change_is_cleared(world):
    order_id = world.add_order([line("TEE-M", 1)], status_id=1)  # Pending: recorded, no sale
    await world.cycle()
    assert world.sale(order_id) is None

    world.set_status(order_id, 11)  # paid → create; X-Series keeps answering 429
    world.xs.faults.reconfigure(FaultConfig(share_429=1.0, path_filter="register_sales"))
    report = await world.cycle()
    assert order_id in report.failed
    world.xs.faults.reconfigure(FaultConfig())

    world.set_status(order_id, 1)  # the merchant puts it back to Pending: nothing to write any more
    for _ in range(6):
        await world.cycle(advance=3600)
    assert world.sale(order_id) is None
    failures = [(f.bc_order_id, f.step, f.reason[:60], f.parked) for f in world.store.failures()]
    assert failures == [], f"the order is consistent but stays in the failed queue forever: {failures}"
