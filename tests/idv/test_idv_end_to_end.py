"""ID verification and mirroring together, on both simulators and the real sync.

A paid order is mirrored (sale CLOSED, stock out); its ID check fails (here through
`order-sync id-check`) → Declined on BigCommerce → the next `order-sync sync` voids the sale and the
stock comes back. Another order's verdict arrives as Real ID metafields and is applied by the poll at
the start of that same sync, so its sale is voided in that very cycle; a third order passes and its
sale stays closed.
"""

from __future__ import annotations

import io
from decimal import Decimal

from connector.clients.transport import RetryPolicy
from connector.clock import FakeClock
from connector.commands import sync_once
from connector.idv.commands import id_check, show_audit
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.xseries import XSeriesSimulator
from connector.store.repository import Store
from idv_world import CUSTOMER, START, cart_line, settings_for


async def test_failed_check_declines_the_order_and_the_next_sync_voids_the_sale(tmp_path):
    clock = FakeClock(START)
    bc = BigCommerceSimulator(clock=clock, quota=100_000)
    xs = XSeriesSimulator(clock=clock, rate_limit=100_000)
    wine = xs.add_product(sku="WINE-01", name="Barolo 2019", price_excluding_tax=Decimal("30.00"), inventory=10)
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    settings = settings_for(bc, database_url, xs=xs)
    store = Store.open(database_url, clock=clock)

    async def sync() -> int:
        clock.advance(5)
        return await sync_once(settings, bc_transport=bc.transport(), xs_transport=xs.transport(), clock=clock,
                               retry=RetryPolicy(seed=1, base_delay=0.01), store=store)

    declined_by_cli = bc.add_order(customer=CUSTOMER, lines=[cart_line(quantity=2)], status_id=11)["id"]
    declined_by_realid = bc.add_order(customer=CUSTOMER, lines=[cart_line(quantity=3)], status_id=11)["id"]
    passed = bc.add_order(customer=CUSTOMER, lines=[cart_line(quantity=1)], status_id=11)["id"]

    assert await sync() == 0
    sale = {o: xs.sales_for_source_id(str(o))[0] for o in (declined_by_cli, declined_by_realid, passed)}
    assert {o: s["status"] for o, s in sale.items()} == dict.fromkeys(sale, "CLOSED")
    assert xs.stock(wine) == 10 - 6

    # The operator records the failed check; BigCommerce moves to Declined, nothing else changes yet.
    clock.advance(5)
    out = io.StringIO()
    assert await id_check(settings, declined_by_cli, "failed", "chk-1", out=out,
                          bc_transport=bc.transport(), clock=clock) == 0
    assert "written" in out.getvalue() and bc.order(declined_by_cli)["status_id"] == 6
    assert xs.sales[sale[declined_by_cli]["id"]]["status"] == "CLOSED"

    # Real ID records its verdicts on the two other orders.
    clock.advance(5)
    bc.set_metafield(declined_by_realid, "realid", "check_id", "rid-8")
    bc.set_metafield(declined_by_realid, "realid", "verification_status", "failed")
    bc.set_metafield(passed, "realid", "check_id", "rid-9")
    bc.set_metafield(passed, "realid", "verification_status", "verified")

    assert await sync() == 0
    assert bc.order(declined_by_realid)["status_id"] == 6 and bc.order(passed)["status_id"] == 11
    assert xs.sales[sale[declined_by_cli]["id"]]["status"] == "VOIDED"
    assert xs.sales[sale[declined_by_realid]["id"]]["status"] == "VOIDED"
    assert xs.sales[sale[passed]["id"]]["status"] == "CLOSED"
    assert xs.stock(wine) == 10 - 1  # the declined orders' bottles are back on the shelf

    # The audit tells the whole story of the declined order, both platforms.
    out = io.StringIO()
    show_audit(settings, declined_by_cli, None, out=out)
    text = out.getvalue()
    assert "ID check chk-1: failed (cli" in text and "11 Awaiting Fulfillment → 6 Declined" in text
    assert "xseries void_sale" in text
    store.close()
