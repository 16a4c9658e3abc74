"""A void whose answer is lost is sent again (a void is safe to repeat). Whether X-Series answers a
second void of a voided sale with the sale or refuses it (§8.1: "a voided sale must not change
again") is unverified: on both servers the void is done, and a resync writes the order again."""
from __future__ import annotations

import pytest

from sync_world import line, lose_next_sale_answer


@pytest.mark.parametrize("refuses_second_void", [False, True])
async def test_a_cancelled_order_whose_void_answer_was_lost_is_voided(world_factory, refuses_second_void):
    world = world_factory(xs_options={"refuses_second_void": refuses_second_void})
    order_id = world.add_order([line("TEE-M", 2)], status_id=10)  # Completed
    await world.cycle()
    assert world.stock("TEE-M") == 48

    world.set_status(order_id, 5)  # Cancelled
    lose_next_sale_answer(world)
    report = await world.cycle()

    assert not report.failed, report.failed
    assert world.store.failure(order_id) is None
    assert [s["status"] for s in world.sales(order_id)] == ["VOIDED"]
    binding = world.store.order_binding(order_id)
    assert (binding.pos_state, binding.pending_state) == ("voided", None)
    assert world.stock("TEE-M") == 50


@pytest.mark.parametrize("refuses_second_void", [False, True])
async def test_a_resync_whose_void_answer_was_lost_writes_the_next_generation(world_factory, refuses_second_void):
    world = world_factory(xs_options={"refuses_second_void": refuses_second_void})
    runtime = await world.new_runtime(on_edit="resync")
    world._main = runtime
    order_id = world.add_order([line("TEE-M", 2)], status_id=10)  # Completed
    await world.cycle()

    world.edit_lines(order_id, [line("TEE-M", 3)])
    lose_next_sale_answer(world)
    report = await world.cycle()

    assert not report.failed, report.failed
    live = [s["invoice_number"] for s in world.sales(order_id) if s["status"] != "VOIDED"]
    assert live == [f"BC-{order_id}-2"], world.sales(order_id)
    assert world.stock("TEE-M") == 47  # the three tees of the edited order, once
