"""An order whose lines BigCommerce keeps failing to answer does not end the import: the import goes
on with the orders after it, and the failed queue retries that order (review: one order's /products
answering 500 stopped the listing, and every later order was never imported)."""

from __future__ import annotations

from connector.errors import TransientApiError
from connector.history.importer import HistoricalImport

CLOSED_OR_VOIDED = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}


async def test_an_order_whose_lines_cannot_be_read_is_retried_and_the_import_goes_on(import_world, monkeypatch):
    w = import_world
    wanted = sorted(i for i, o in w.bc.orders.items() if o["status_id"] in CLOSED_OR_VOIDED)
    broken = wanted[len(wanted) // 3]  # orders come after it
    rt = await w.runtime()
    original = rt.bc._parse_order
    down = True

    async def parse(data):  # its /products (not embedded) answers 500 past the transport's retries
        if down and data.get("id") == broken:
            raise TransientApiError("server error after 6 attempts: 500", api="bigcommerce", method="GET",
                                    path=f"/v2/orders/{broken}/products", status=500)
        return await original(data)

    monkeypatch.setattr(rt.bc, "_parse_order", parse)
    try:
        report = await HistoricalImport(rt, since=None, until=None).run()
        assert not report.interrupted and set(report.cycle.failed) == {broken}
        imported = {int(s["source_id"]) for s in w.xs.sales.values() if not s["return_for"]}
        assert imported == set(wanted) - {broken}
        [failure] = rt.store.failures()
        assert (failure.bc_order_id, failure.step, failure.parked) == (broken, "fetch", False)

        down = False  # BigCommerce answers again: the daemon's failed queue imports it
        w.clock.advance(60)
        await rt.cycle().run()
        assert {int(s["source_id"]) for s in w.xs.sales.values() if not s["return_for"]} == set(wanted)
        assert rt.store.failures() == []
    finally:
        await rt.aclose()
        rt.store.close()
