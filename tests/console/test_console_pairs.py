"""Issue 18 with store pairs: the overview has every pair, a search for an order id two pairs
share offers both, and each order page and list shows its own pair's records."""

from __future__ import annotations

from served_console import ServedConsole, console_settings, find_order, log_in, two_pairs
from sync_world import line


async def test_two_pairs_side_by_side(world_factory, tmp_path, page):
    url = f"sqlite:///{tmp_path / 'pairs.db'}"
    north, south = world_factory(url), world_factory(url)
    async with two_pairs(url, north, south) as (settings, runtimes):
        shared = north.add_order([line("TEE-M")])
        # Both stores number their orders from 100: south's is awaiting payment, north's is not.
        assert south.add_order([line("MUG-01", 1, "10.00")], status_id=7) == shared
        south.add_order([line("TEE-L")], default_currency_code="EUR")  # south's only: parked
        north.clock.advance(1)
        south.clock.advance(1)
        for runtime in runtimes.values():
            await runtime.cycle().run()

        async with ServedConsole(console_settings(settings), runtimes) as console:
            await log_in(page, console.url)
            assert await page.locator("#pair-north .failed-count").inner_text() == "0 failed, 0 parked"
            assert await page.locator("#pair-south .failed-count").inner_text() == "0 failed, 1 parked"
            await find_order(page, str(shared))
            links = await page.locator("main li a").all_inner_texts()
            assert links == [f"pair north: order {shared}", f"pair south: order {shared}"]
            await page.click(f"text=pair south: order {shared}")
            await page.wait_for_load_state()
            assert page.url.endswith(f"/pairs/south/orders/{shared}")
            assert await page.inner_text(".bc-status") == "7 Awaiting Payment"
            timeline = await page.inner_text("table.timeline")
            assert "status 7 (Awaiting Payment)" in timeline and "status 11" not in timeline
            await page.goto(console.url + f"/pairs/north/orders/{shared}")
            assert await page.inner_text(".bc-status") == "11 Awaiting Fulfillment"
            await page.goto(console.url + "/failed")
            assert [r.split("\t")[0] for r in await page.locator("table.failed tr[id]").all_inner_texts()] == ["south"]
            await page.goto(console.url + "/settings")
            assert await page.locator("#settings-north table.status-table").count() == 1
            assert await page.locator("#settings-south table.status-table").count() == 1
            assert (await page.goto(console.url + f"/pairs/west/orders/{shared}")).status == 404
