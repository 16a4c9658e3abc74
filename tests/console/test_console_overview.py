"""Issue 18, point 1: the overview shows each pair's cursor, lag, last cycle (ok, or failed and
why), sales per POS state, failed and parked orders, open exceptions, ID-verification totals and
the quota left per API — on SQLite and on PostgreSQL."""

from __future__ import annotations

import io

import pytest

from connector.commands import CYCLE_FAILED, failure_recorded
from connector.errors import ApiError
from connector.idv.commands import id_check
from connector.sandbox.faults import FaultConfig
from served_console import log_in, screenshot, serve
from sync_world import line


async def test_the_overview_tells_each_pairs_state(db_world, page):
    world = db_world
    runtime = await world.runtime()
    world.add_order([line("TEE-M", 2)])
    cancelled = world.add_order([line("MUG-01", 1, "10.00")])
    world.add_order([line("TEE-L", 1)], default_currency_code="EUR")  # parked, and an exception
    await world.cycle()
    world.set_status(cancelled, 5)
    await world.cycle()
    # An ID-verification decision not to write (ID verification is off here): counted as skipped.
    assert await id_check(runtime.settings, cancelled, "failed", None, out=io.StringIO(),
                          bc_transport=world.bc.transport(), clock=world.clock) == 0

    async with await serve(world) as console:
        await log_in(page, console.url)
        card = page.locator("#pair-default")
        assert runtime.store.cursor().strftime("%Y-%m-%d %H:%M:%S") in await card.inner_text()
        assert (await card.locator(".last-cycle").inner_text()).startswith("ok, started")
        assert await card.locator(".states").inner_text() == "closed 1, voided 1"
        assert await card.locator(".failed-count").inner_text() == "0 failed, 1 parked"
        assert await card.locator(".exception-count").inner_text() == "1 open"
        idv = await card.locator(".idv").inner_text()
        assert "ID verification: off" in idv and "skipped (disabled) 1" in idv
        quota = await card.locator(".quota").inner_text()
        assert "BigCommerce: " in quota and "X-Series: " in quota and "not known" not in quota
        assert "s" in await card.locator("dd").nth(1).inner_text()  # the lag, in seconds
        await screenshot(page, f"console-overview-{world.database_url.split(':')[0]}")

        # A cycle stopped by an API outage: failed, and why (as the daemon records it).
        world.bc.faults.reconfigure(FaultConfig(share_5xx=1.0))
        with pytest.raises(ApiError), failure_recorded(runtime.settings, "run", CYCLE_FAILED, (ApiError,),
                                                       store=runtime.store):
            await world.cycle()
        world.bc.faults.reconfigure(FaultConfig())
        await page.reload()
        assert (await card.locator(".last-cycle").inner_text()).startswith("failed")
        why = await card.locator(".last-failure").inner_text()
        assert "cycle of `run`" in why and "500" in why
