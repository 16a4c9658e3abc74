"""import-history --dry-run's "stock leaving the outlet" is what the import then moves: units a
refund gives back (restocked by the import's return) do not leave."""

from __future__ import annotations

from connector.history.importer import HistoricalImport
from sync_world import line


async def test_dry_run_stock_leaves_out_the_units_refunds_bring_back(world):
    refunded = world.add_order([line("TEE-M", 2)], status_id=10)
    part = world.add_order([line("MUG-01", 3, "10.00")], status_id=10)
    for order_id, sku, units in ((refunded, "TEE-M", 2), (part, "MUG-01", 1)):
        item = next(p for p in world.bc.products(order_id) if p["sku"] == sku)
        world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": item["id"], "quantity": units}])
    world.clock.advance(60)
    rt = await world.runtime()
    before = {sku: world.stock(sku) for sku in ("TEE-M", "MUG-01")}

    dry = (await HistoricalImport(rt, since=None, until=world.clock.now(), dry_run=True).run()).dry_run
    real = await HistoricalImport(rt, since=None, until=world.clock.now()).run()

    assert not real.cycle.failed
    moved = {sku: before[sku] - world.stock(sku) for sku in before}
    assert moved == {"TEE-M": 0, "MUG-01": 2}
    assert {sku: dry.stock.get(sku, 0) for sku in moved} == moved
