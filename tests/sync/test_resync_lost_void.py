"""sync.on_edit: resync, the void's answer lost (or a crash right after the void lands) on a Completed
order: the next cycle still writes the next generation; the order is never left with only a void."""
from __future__ import annotations

from connector.sandbox.faults import FaultConfig
from sync_world import line


async def test_a_resync_whose_void_answer_was_lost_still_writes_the_next_generation(db_world):
    world = db_world
    runtime = await world.new_runtime(on_edit="resync")
    order_id = world.add_order([line("TEE-M", 2)], status_id=10)  # Completed
    await world.cycle(runtime=runtime)
    assert world.stock("TEE-M") == 48

    world.edit_lines(order_id, [line("TEE-M", 3)])
    world.xs.faults.reconfigure(FaultConfig(share_lost_write_response=1.0, path_filter="register_sales"))
    report = await world.cycle(runtime=runtime)
    assert report.failed  # the void landed, its answer never came back
    world.xs.faults.reconfigure(FaultConfig())
    for _ in range(3):
        await world.cycle(runtime=runtime, advance=3600)

    live = [s for s in world.sales(order_id) if s["status"] != "VOIDED"]
    assert [s["invoice_number"] for s in live] == [f"BC-{order_id}-2"], world.sales(order_id)
    assert world.stock("TEE-M") == 47  # the three tees of the edited order, once
