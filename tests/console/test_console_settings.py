"""Issue 18, point 4: the settings, read-only — the status table, the payment-type, tax and
special-line mappings, the ID-verification stages and protected statuses as the store names them,
and a warning when Shipped, Cancelled or Refunded is not protected."""

from __future__ import annotations

from connector.mapping.tables import DEFAULTS_DIR
from served_console import log_in, screenshot, serve

RULES = """\
stages:
  in_progress: Manual Verification Required
  passed: Awaiting Fulfillment
  failed: Declined
protected:
  - Completed
  - Cancelled
"""


async def test_the_settings_show_the_mappings_as_the_store_names_them(world_factory, tmp_path, page):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "id_verification.yaml").write_text(RULES)
    (mappings / "taxes.yaml").write_text("classes:\n  3: Reduced VAT\n")
    world = world_factory(mappings_dir=mappings)
    world.bc.rename_status(12, "Checking your ID")
    world.bc.rename_status(10, "Picked up")

    async with await serve(world) as console:
        await log_in(page, console.url)
        await page.click("text=Settings")
        pair = page.locator("#settings-default")
        stages = await pair.locator("table.idv-stages").inner_text()
        assert "in_progress\t12 Manual Verification Required ('Checking your ID')" in stages
        protected = await pair.locator("table.protected").inner_text()
        assert "10 Completed ('Picked up')" in protected and "5 Cancelled" in protected
        warnings = await pair.locator(".protect-warning").all_inner_texts()
        assert len(warnings) == 2
        assert warnings[0].startswith("2 Shipped is not protected")
        assert warnings[1].startswith("4 Refunded is not protected")
        statuses = await pair.locator("table.status-table").inner_text()
        assert "12\tManual Verification Required\tChecking your ID\tclosed" in statuses
        assert "5\tCancelled\tCancelled\tvoided" in statuses
        assert "Credit Card" in await pair.locator("table.payments").inner_text()
        assert "3\tReduced VAT" in await pair.locator("table.taxes").inner_text()
        assert "shipping\tShipping" in await pair.locator("table.specials").inner_text()
        assert await pair.locator("form").count() == 0  # read-only: nothing to press
        await screenshot(page, "console-settings")


async def test_the_seed_rules_need_no_warning(world_factory, page):
    world = world_factory(mappings_dir=DEFAULTS_DIR)
    async with await serve(world) as console:
        await log_in(page, console.url, then="/settings")
        assert await page.locator(".protect-warning").count() == 0
        assert "2 Shipped" in await page.locator("table.protected").inner_text()
