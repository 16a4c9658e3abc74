"""Issue 18, point 2: the search box finds an order by id or invoice number; its page shows the
BigCommerce status, the binding (sale, invoice, state, generation) and the audit timeline of every
write and every decision not to write, ID-verification skips included, newest first."""

from __future__ import annotations

import io

from connector.idv.commands import id_check
from connector.sandbox.faults import FaultConfig
from served_console import find_order, log_in, screenshot, serve, timeline_actions
from sync_world import line


async def test_find_an_order_and_read_its_timeline(db_world, page):
    world = db_world
    runtime = await world.runtime()
    order = world.add_order([line("TEE-M", 2)])
    other = world.add_order([line("MUG-01", 1, "10.00")])
    await world.cycle()
    world.set_status(order, 5)  # cancelled: the sale is voided
    await world.cycle()
    world.clock.advance(1)
    assert await id_check(runtime.settings, order, "failed", None, out=io.StringIO(),
                          bc_transport=world.bc.transport(), clock=world.clock) == 0
    binding = runtime.store.order_binding(order)

    async with await serve(world) as console:
        await log_in(page, console.url)
        await find_order(page, str(order))
        assert page.url == console.url + f"/pairs/default/orders/{order}"
        assert await page.inner_text("h1") == f"Order {order} · pair default"
        assert await page.inner_text(".bc-status") == "5 Cancelled"
        assert await page.inner_text(".binding") == (f"{binding.sale_id} · invoice BC-{order} · state voided"
                                                     " · generation 1")
        # Newest first: the ID-verification skip, the void, then the sale and what it needed.
        actions = await timeline_actions(page)
        assert actions[:2] == ["idv_skipped_disabled", "void_sale"] and "create_sale" in actions[2:]
        expected = [e.action for e in reversed(runtime.store.audit_entries(order))]
        assert actions == expected
        rows = await page.locator("table.timeline tr.entry").all_inner_texts()
        assert "ID check latest: failed" in rows[0] and "skipped (disabled)" in rows[0]
        assert str(other) not in " ".join(rows)  # only this order's entries
        await screenshot(page, f"console-order-{world.database_url.split(':')[0]}")

        # By invoice number, from any page.
        await page.goto(console.url + "/failed")
        await find_order(page, f"bc-{other}")
        assert page.url == console.url + f"/pairs/default/orders/{other}"
        assert await page.inner_text(".binding") != "not mirrored"
        # An order nobody has heard of.
        await find_order(page, "BC-99999")
        assert "No order BC-99999" in await page.inner_text(".not-found")

        # BigCommerce down: the page still answers, and says so.
        world.bc.faults.reconfigure(FaultConfig(share_5xx=1.0))
        answer = await page.goto(console.url + f"/pairs/default/orders/{order}")
        assert answer.status == 200
        assert "BigCommerce could not be reached" in await page.inner_text(".bc-status")
        assert (await timeline_actions(page))[0] == "idv_skipped_disabled"


async def test_find_an_order_by_the_invoice_number_x_series_shows(world_factory, page):
    """A register with an invoice prefix: the server may put it before the number order-sync gives
    (§8.2), so the POS shows OS-BC-<order>. Support staff type what they see there."""
    world = world_factory(xs_options={"prefixes_invoice_numbers": True})
    order = world.add_order([line("TEE-M")])
    await world.cycle()
    [sale] = world.sales(order)
    assert sale["invoice_number"] == f"OS-BC-{order}"

    async with await serve(world) as console:
        await log_in(page, console.url)
        for typed in (sale["invoice_number"], sale["invoice_number"].lower()):
            await find_order(page, typed)
            assert page.url == console.url + f"/pairs/default/orders/{order}", typed
