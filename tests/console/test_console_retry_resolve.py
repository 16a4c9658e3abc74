"""Issue 18, point 3: the failed orders and the exceptions, listed with their reasons; "retry now"
(as `retry-failed --order`) makes a parked order due, mirrored on the next cycle, and "resolve" (as
`exceptions --resolve`) closes an exception — each audited with who pressed it and shown on the
order's timeline."""

from __future__ import annotations

from connector.sandbox.xseries_refusals import SimHttpError
from served_console import (USER, asgi_client, console_app, console_settings, log_in, logged_in, screenshot, serve,
                            timeline_actions)
from sync_world import line


def refuse_sales_of(xs, order_id: int):
    """X-Series answers 503 to every sale write of this order; returns the undo."""
    original = xs._post_register_sale

    def refusing(call):
        if isinstance(call.body, dict) and call.body.get("invoice_number") == f"BC-{order_id}":
            raise SimHttpError(503, {"error": "Service Unavailable", "message": "register_sales is down"})
        return original(call)

    xs._post_register_sale = refusing
    xs._routes = xs._build_routes()

    def restore() -> None:
        xs._post_register_sale = original
        xs._routes = xs._build_routes()

    return restore


async def test_retry_a_parked_order_and_see_it_mirrored_on_the_next_cycle(world_factory, database_url, page):
    world = world_factory(database_url, max_attempts=1)  # the first failure parks it
    world.overlap_seconds = 1  # later windows do not re-read the order: only the retry brings it back
    order = world.add_order([line("TEE-M")])
    restore = refuse_sales_of(world.xs, order)
    await world.cycle()
    restore()  # X-Series is back, but a parked order waits for a person
    await world.cycle(advance=3600)
    assert world.sales(order) == [] and world.store.failures()[0].parked

    async with await serve(world) as console:
        await log_in(page, console.url)
        await page.click("text=Failed orders")
        row = page.locator(f"#failed-default-{order}")
        assert "parked" in await row.inner_text() and "503" in await row.inner_text()
        await screenshot(page, "console-failed")
        await row.locator("button", has_text="Retry now").click()
        await page.wait_for_load_state()
        assert "will be retried at the next cycle" in await page.inner_text("[role=status]")
        assert await page.locator(f"#failed-default-{order}").inner_text() and \
            "next try" in await page.locator(f"#failed-default-{order}").inner_text()

        await page.goto(console.url + f"/pairs/default/orders/{order}")
        assert (await timeline_actions(page))[0] == "retry_requested"
        assert f"by {USER}" in await page.locator("table.timeline tr.entry").first.inner_text()

        await world.cycle()
        await page.reload()
        assert len(world.sales(order)) == 1
        assert "state closed" in await page.inner_text(".binding")
        assert (await timeline_actions(page))[0] == "create_sale"
        await page.goto(console.url + "/failed")
        assert "No failed orders" in await page.inner_text("table.failed")


async def test_resolve_an_exception_from_the_list(db_world, page):
    world = db_world
    order = world.add_order([line("TEE-L")], default_currency_code="EUR")
    await world.cycle()
    [exception] = world.store.exceptions()

    async with await serve(world) as console:
        await log_in(page, console.url)
        await page.click("text=Exceptions")
        row = page.locator(f"#exception-default-{exception.id}")
        assert "the order is in EUR" in await row.inner_text()
        await screenshot(page, "console-exceptions")
        await row.locator("button", has_text="Resolve").click()
        await page.wait_for_load_state()
        assert f"Exception {exception.id} (order {order}) resolved" in await page.inner_text("[role=status]")
        assert "No open exceptions" in await page.inner_text("table.exceptions")
        assert world.store.count_open_exceptions() == 0
        assert world.store.exceptions(open_only=False)[0].resolved_by == USER

        await page.goto(console.url + f"/pairs/default/orders/{order}")
        assert (await timeline_actions(page))[0] == "resolve_exception"
        assert f"resolved by {USER}" in await page.locator("table.timeline tr.entry").first.inner_text()
        assert f"resolved by {USER}" in await page.inner_text("table.order-exceptions")


async def test_resolving_a_currency_exception_takes_the_order_out_of_the_failed_queue(db_world):
    """The exception says "mirror it by hand": the operator does, and resolves it. The order is no
    longer parked (no "1 parked", no lag growing from its first failure, no retry opening it again);
    an exception whose order failed for another reason leaves that failure alone."""
    from connector.server.metrics import lag_seconds

    world = db_world
    runtime = await world.runtime()
    order = world.add_order([line("TEE-L")], default_currency_code="EUR")
    other = world.add_order([line("TEE-M")])
    restore = refuse_sales_of(world.xs, other)
    await world.cycle()
    restore()
    [exception] = world.store.exceptions()
    drift = world.store.open_exception(other, "drift", "amount: the sale totals 1.00")
    app = console_app(console_settings(runtime.settings), {runtime.settings.pair: runtime})
    async with asgi_client(app) as client:
        token = await logged_in(client)
        for resolved in (exception, drift):
            answer = await client.post(f"/pairs/default/exceptions/{resolved.id}/resolve",
                                       data={"csrf_token": token, "back": "/exceptions"})
            assert answer.status_code == 303
    assert [f.bc_order_id for f in world.store.failures()] == [other]  # its 503: still retried
    forgot = [e for e in world.store.audit_entries(order) if e.action == "forget_failure"]
    assert len(forgot) == 1 and f"resolved by {USER}" in forgot[0].reason
    await world.cycle(advance=86400)
    assert world.store.failure_summary()[1] == 0 and world.sales(order) == []
    assert lag_seconds(world.store) < 3600
    assert world.store.exceptions() == []


async def test_resolving_a_mapping_exception_once_the_table_is_fixed_retries_the_order(world_factory, tmp_path):
    """A payment method the table does not map parks the order; the operator adds it to the table,
    restarts and resolves the exception: the order is tried again and mirrored (not dropped from the
    failed queue as one mirrored by hand, which nothing would ever write)."""
    import shutil

    from connector.mapping.tables import DEFAULTS_DIR

    broken, fixed = tmp_path / "broken", tmp_path / "fixed"
    for folder in (broken, fixed):
        shutil.copytree(DEFAULTS_DIR, folder)
    text = (DEFAULTS_DIR / "payment_methods.yaml").read_text()
    assert "default: Other" in text and "  Cash: Cash" in text
    (broken / "payment_methods.yaml").write_text(text.replace("default: Other", "default: null"))
    (fixed / "payment_methods.yaml").write_text(text.replace("  Cash: Cash", "  Cash: Cash\n  Bitcoin: Other"))
    world = world_factory(mappings_dir=broken)
    order = world.bc.add_order(customer=None, lines=[line("TEE-M")], status_id=11, payment_method="Bitcoin")["id"]
    await world.cycle()
    [exception] = world.store.exceptions()
    assert exception.kind == "mapping"
    for _ in range(3):
        await world.cycle(advance=3600)  # the daemon goes on: the cursor moves past the order
    world.mappings_dir = fixed
    world._main = await world.new_runtime()
    world.store.resolve_exception(exception.id, by=USER)
    await world.cycle(advance=60)
    assert world.sale(order) is not None and world.sale(order)["status"] == "CLOSED"
    assert world.store.failures() == []


async def test_resolving_an_inconsistent_orders_exception_takes_it_out_of_the_failed_queue(world):
    """Gift certificates paid more than the order's total: no table fixes it ("check it in
    BigCommerce"); mirrored by hand and resolved, the order is not tried again (which parked it once
    more and opened a new exception) but taken out of the failed queue, as a currency refusal is."""
    order = world.add_order([line("TEE-M", 1, "20.00")])
    world.bc.orders[order]["gift_certificate_amount"] = "500.00"
    await world.cycle()
    [exception] = world.store.exceptions()
    assert exception.kind == "totals"
    await world.cycle(advance=3600)
    world.store.resolve_exception(exception.id, by=USER)
    await world.cycle(advance=60)
    assert world.store.exceptions() == [] and world.store.failures() == []
