"""A search that lags behind the writes (knob search_lag_seconds: how soon X-Series' search sees a new
object is undocumented): a write whose answer never came, and that the search does not show yet, is
not written again before sync.lost_write_settle_seconds (30) have passed since it was sent. (A lost
answer retried at once, by the failed queue: tests/sync/test_exactly_once.py.)"""

from __future__ import annotations


from connector import interrupts
from connector.sandbox.faults import FaultConfig
from connector.sync.order_mirror import Outcome
from sync_world import line, sale_sent_then_crashed


async def sent_then_crashed(world) -> int:
    """An order whose sale reached X-Series, the process dying before the answer came: no failure
    is recorded, the binding stays pending (its updated_at: the send). The order's id."""
    order_id = await sale_sent_then_crashed(world, [line("TEE-M", 1)])
    assert len(world.sales(order_id)) == 1 and world.store.failures() == []
    return order_id


async def test_a_restart_seconds_after_a_crash_mid_write_makes_no_second_sale(world_factory):
    """Restarted 5 s later, the search does not show the sale yet: the rest of the settle time is
    waited out and the sale looked up once more, found and bound — no second sale, no failure."""
    world = world_factory(xs_options={"search_lag_seconds": 30})
    order_id = await sent_then_crashed(world)

    report = await world.cycle(runtime=await world.new_runtime(), advance=5)

    assert len(world.sales(order_id)) == 1
    assert report.outcomes[Outcome.RECOVERED] == 1 and not report.failed
    assert world.store.order_binding(order_id).sale_id == world.sale(order_id)["id"]
    assert 24 <= max(world.clock.slept) <= 25  # the rest of the 30 s, not more


async def test_a_stop_during_that_wait_leaves_the_write_pending_for_the_next_run(world_factory):
    """Ctrl-C or SIGTERM cuts the wait short (Stopping): nothing is written and the order is not
    failed; the next run finds the sale."""
    world = world_factory(xs_options={"search_lag_seconds": 30})
    order_id = await sent_then_crashed(world)
    runtime = await world.new_runtime()
    sleep = world.clock.sleep

    async def stopped(seconds: float) -> None:
        if seconds >= 20:  # the settle wait; the transport's own waits are shorter
            raise interrupts.Stopping()
        await sleep(seconds)

    world.clock.sleep = stopped
    report = await world.cycle(runtime=runtime, advance=5)
    world.clock.sleep = sleep

    assert not report.completed and not report.failed and len(world.sales(order_id)) == 1
    assert world.store.order_binding(order_id).pending_state == "closed"
    report = await world.cycle(runtime=runtime, advance=30)
    assert report.outcomes[Outcome.RECOVERED] == 1 and len(world.sales(order_id)) == 1


async def test_a_lost_return_answer_retried_seconds_later_makes_no_second_return(world_factory):
    """A return's answer lost, its look-up right after not finding it, and the refund tried again at
    the next cycle 5 s later: the rest of the settle time is waited out (from the return's pending
    binding), then it is found — one return, one unit back in stock."""
    world = world_factory(xs_options={"search_lag_seconds": 30})
    order_id = world.add_order([line("TEE-M", 2)])
    await world.cycle()
    tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    world.xs.faults.reconfigure(FaultConfig(share_lost_write_response=1.0, path_filter="register_sales"))
    report = await world.cycle()
    assert report.refunds_failed and world.store.refund_bindings(order_id)[0].pending
    world.xs.faults.reconfigure(FaultConfig())

    report = await world.cycle(advance=5)

    assert len(world.xs.sales_of_order(order_id, returns=True)) == 1 and world.stock("TEE-M") == 49
    assert report.refunds["recovered"] == 1 and not report.refunds_failed
