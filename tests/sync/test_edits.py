"""Issue 16, point 4: an order edited after its sale was written is an exception a person sees
(sync.on_edit: exception, the default), or is voided and written again (sync.on_edit: resync)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from connector.sync.order_mirror import Outcome
from sync_world import line


async def test_an_edit_after_the_write_is_an_exception_and_changes_nothing_in_x_series(db_world):
    world = db_world
    order_id = world.add_order([line("TEE-M", 2), line("MUG-01", 1, "10.00")])
    await world.cycle()
    sale = world.sale(order_id)
    writes = world.xs_writes()
    old_total = Decimal(world.order(order_id)["total_inc_tax"])

    world.edit_lines(order_id, [line("TEE-M", 3), line("MUG-01", 1, "10.00")])
    report = await world.cycle()

    assert report.outcomes[Outcome.RECORDED] == 1 and not report.failed
    assert world.xs_writes() == writes and world.sale(order_id)["version"] == sale["version"]
    assert world.stock("TEE-M") == 48  # the sale as written: the edit is for a person to judge
    [exc] = world.store.exceptions()
    assert (exc.bc_order_id, exc.kind) == (order_id, "edit")
    new_total = Decimal(world.order(order_id)["total_inc_tax"])
    assert new_total > old_total
    assert f"total {old_total:.2f} → {new_total:.2f}" in exc.summary and "lines changed" in exc.summary
    before, after = json.loads(exc.before), json.loads(exc.after)
    assert [row[:2] for row in before["lines"]] == [["TEE-M", "2"]]
    assert [row[:2] for row in after["lines"]] == [["TEE-M", "3"]]
    assert (Decimal(before["total"]), Decimal(after["total"])) == (old_total, new_total)
    opened = [e for e in world.store.audit_entries(order_id) if e.action == "open_exception"]
    assert len(opened) == 1 and opened[0].target_id == str(exc.id)

    # Read again: the same edit is not reported twice.
    world.bc.touch(order_id)
    await world.cycle()
    assert len(world.store.exceptions()) == 1
    assert world.store.count_open_exceptions() == 1
    resolved = world.store.resolve_exception(exc.id, by="ann")
    assert resolved.resolved_by == "ann" and world.store.count_open_exceptions() == 0
    assert world.store.resolve_exception(exc.id, by="ann") is None  # not twice
    assert world.store.audit_entries(order_id)[-1].action == "resolve_exception"


async def test_a_status_change_alone_is_not_an_edit(world):
    order_id = world.add_order([line("TEE-M", 2)])
    await world.cycle()
    world.set_status(order_id, 2)
    await world.cycle()
    assert world.store.exceptions() == []


async def test_with_resync_the_edit_voids_the_sale_and_writes_the_next_generation(db_world):
    world = db_world
    runtime = await world.new_runtime(on_edit="resync")
    order_id = world.add_order([line("TEE-M", 2)])
    await world.cycle(runtime=runtime)
    assert world.stock("TEE-M") == 48

    world.edit_lines(order_id, [line("TEE-M", 3)])
    report = await world.cycle(runtime=runtime)

    assert report.outcomes[Outcome.CREATED] == 1 and not report.failed
    first, second = sorted(world.sales(order_id), key=lambda s: s["invoice_number"])
    assert first["status"] == "VOIDED" and second["invoice_number"] == f"BC-{order_id}-2"
    assert [item["quantity"] for item in second["line_items"]] == [3]
    assert world.stock("TEE-M") == 47  # stock follows the edit
    binding = runtime.store.order_binding(order_id)
    assert (binding.generation, binding.sale_id, binding.pos_state) == (2, second["id"], "closed")
    assert runtime.store.exceptions() == []
    assert (await world.cycle(runtime=runtime)).written == 0


async def test_a_sale_written_before_edits_were_tracked_is_not_taken_for_an_edit(world):
    """A binding from an older version (no sale_hash) whose sale looks different from today's plan
    (e.g. written before a mapping changed): a status change is not an edit; tracking starts."""
    order_id = world.add_order([line("TEE-M", 2)])
    await world.cycle()
    binding = world.store.order_binding(order_id)
    binding.sale_hash = None
    binding.sale_body = binding.sale_body.replace('"quantity":2', '"quantity":5')  # not what today's plan says
    assert '"quantity":5' in binding.sale_body
    world.store.save_order_binding(binding)

    world.set_status(order_id, 2)
    await world.cycle()

    assert world.store.exceptions() == []
    assert world.store.order_binding(order_id).sale_hash is not None
    world.edit_lines(order_id, [line("TEE-M", 3)])  # a real edit from now on is seen
    await world.cycle()
    assert [e.kind for e in world.store.exceptions()] == ["edit"]


@pytest.mark.parametrize("on_edit", ["exception", "resync"])
async def test_an_edit_made_while_the_order_was_back_in_pending_is_seen_when_it_returns(world, on_edit):
    """Sale written (2 units); the merchant moves the order back to Pending and edits it to 3 units
    in the same window: nothing is compared while it is not imported, so the edit is still told when
    it returns to Awaiting Fulfillment — an exception, or the sale voided and written again."""
    runtime = await world.new_runtime(on_edit=on_edit)
    order_id = world.add_order([line("TEE-M", 2)])
    await world.cycle(runtime=runtime)
    world.edit_lines(order_id, [line("TEE-M", 3)])
    world.set_status(order_id, 1)
    await world.cycle(runtime=runtime)
    world.set_status(order_id, 11)

    await world.cycle(runtime=runtime)

    live = [s for s in world.sales(order_id) if s["status"] != "VOIDED"]
    if on_edit == "exception":
        assert [e.kind for e in runtime.store.exceptions()] == ["edit"]
        assert [item["quantity"] for item in live[0]["line_items"]] == [2] and world.stock("TEE-M") == 48
    else:
        assert runtime.store.exceptions() == []
        assert [item["quantity"] for item in live[0]["line_items"]] == [3] and world.stock("TEE-M") == 47
    assert (await world.cycle(runtime=runtime)).written == 0
    assert len(runtime.store.exceptions()) == (1 if on_edit == "exception" else 0)  # told once


async def test_an_edit_of_an_order_whose_custom_line_was_bound_under_its_sku_lists_only_the_change(world):
    """A custom line's product bound before custom lines had keys of their own (sku:<sku>, not
    custom:<sku>): an edit of another line lists that line only, not the custom one as removed and
    added."""
    from sqlalchemy import text

    order = world.add_order([line("TEE-M", 1, "20.00"), line("ENGRAVE-1", 1, "5.00", product_id=0, name="Engraving")])
    assert not (await world.cycle()).failed
    with world.store.db.begin() as conn:  # the row as the version before custom keys wrote it
        conn.execute(text("update product_binding set key='sku:engrave-1' where key='custom:engrave-1'"))
    runtime = await world.new_runtime()
    world.edit_lines(order, [line("TEE-M", 2, "20.00"), line("ENGRAVE-1", 1, "5.00", product_id=0, name="Engraving")])
    await world.cycle(runtime=runtime)
    [edit] = world.store.exceptions()
    assert "ENGRAVE-1" not in edit.after and "product " not in edit.before, (edit.before, edit.after)
