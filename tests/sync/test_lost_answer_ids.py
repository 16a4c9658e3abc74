"""A sale write whose answer was lost and whose sale was found by its invoice number: the binding
keeps the sale's line and payment ids, so a later re-post (a void) names the lines sold (§8.3: lines
left out of a re-post are deleted and replaced by what is posted)."""
from __future__ import annotations

import json

import pytest

from sync_world import line, lose_next_sale_answer


@pytest.mark.parametrize("search_lag_seconds", [0, 60], ids=["found-at-once", "found-next-cycle"])
async def test_a_void_after_a_lost_create_answer_names_the_sale_lines(world_factory, search_lag_seconds):
    world = world_factory(xs_options={"search_lag_seconds": search_lag_seconds})
    order_id = world.add_order([line("TEE-M", 2), line("MUG-01", 1, "10.00", product_id=112)], status_id=10)
    lost = lose_next_sale_answer(world)
    await world.cycle()
    await world.cycle(advance=3600)
    sale = world.sale(order_id)
    assert sale["status"] == "CLOSED" and lost
    sold = [(li["id"], li["product_id"]) for li in sale["line_items"]]
    paid = [p["id"] for p in sale["payments"]]

    kept = json.loads(world.store.order_binding(order_id).sale_body)
    assert [(li.get("id"), li["product_id"]) for li in kept["register_sale_products"]] == sold
    assert [p.get("id") for p in kept["register_sale_payments"]] == paid

    world.set_status(order_id, 5)  # Cancelled
    await world.cycle()
    void = [r for r in world.xs.request_log.writes() if "register_sales" in r.path][-1]
    assert void.body["status"] == "VOIDED"
    assert [(li.get("id"), li["product_id"]) for li in void.body["register_sale_products"]] == sold
