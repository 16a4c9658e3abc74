"""An Incomplete order (status 0: a checkout abandoned at the payment page, never paid) is never
moved by ID verification: any other status would make it a live order, and the mirror a sale."""

from __future__ import annotations

import io
import json
from decimal import Decimal

from connector.clients.transport import RetryPolicy
from connector.clock import FakeClock
from connector.commands import sync_once
from connector.idv.commands import id_check
from connector.idv.decision import Outcome
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.xseries import XSeriesSimulator
from connector.store.repository import Store
from idv_world import CUSTOMER, START, cart_line, settings_for


async def test_an_incomplete_order_is_left_alone_and_audited_as_skipped(world):
    await world.start()
    order = world.add_order(status_id=0)
    for event in ("started", "passed", "failed"):
        decision = await world.event(order, event, "chk-1" if event != "failed" else "chk-2")
        assert decision.outcome is Outcome.SKIPPED_PROTECTED
        assert "Incomplete" in decision.reason and "abandoned checkout" in decision.reason
    assert world.status(order) == 0 and world.puts() == []
    entries = world.audit(order)
    assert [e.action for e in entries] == ["idv_skipped_protected"] * 3
    assert all(e.before == e.after == "0" and json.loads(e.detail)["before_name"] == "0 Incomplete"
               for e in entries)


async def test_incomplete_stays_untouched_even_when_the_table_protects_nothing(world, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "id_verification.yaml").write_text(
        "stages:\n  in_progress: 12\n  passed: 11\n  failed: 6\nprotected: []\n")
    await world.start(mappings_dir=mappings)
    order = world.add_order(status_id=0)
    world.bc.set_metafield(order, "realid", "check_id", "rid-1")
    world.bc.set_metafield(order, "realid", "verification_status", "verified")
    world.clock.advance(30)
    report = await world.service.poller.poll()
    assert report.outcomes == {Outcome.SKIPPED_PROTECTED: 1}
    assert world.status(order) == 0 and world.puts() == []


async def test_an_abandoned_checkout_never_becomes_a_sale_through_an_id_check(tmp_path):
    """Through `order-sync id-check` and `order-sync sync`: the check starts and passes, and the
    abandoned checkout stays Incomplete, with no sale in X-Series."""
    clock = FakeClock(START)
    bc = BigCommerceSimulator(clock=clock, quota=100_000)
    xs = XSeriesSimulator(clock=clock, rate_limit=100_000)
    xs.add_product(sku="WINE-01", name="Barolo 2019", price_excluding_tax=Decimal("30.00"), inventory=10)
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    settings = settings_for(bc, database_url, xs=xs)
    store = Store.open(database_url, clock=clock)
    order = bc.add_order(customer=CUSTOMER, lines=[cart_line(quantity=2)], status_id=0)["id"]
    bc.orders[order]["payment_status"] = ""  # nothing paid
    for event in ("started", "passed"):
        clock.advance(5)
        out = io.StringIO()
        assert await id_check(settings, order, event, "chk-1", out=out, bc_transport=bc.transport(), clock=clock) == 0
        assert "skipped (protected)" in out.getvalue() and "Incomplete" in out.getvalue()
        clock.advance(5)
        assert await sync_once(settings, bc_transport=bc.transport(), xs_transport=xs.transport(), clock=clock,
                               retry=RetryPolicy(seed=1, base_delay=0.01), store=store) == 0
    assert bc.order(order)["status_id"] == 0 and xs.sales == {}
    store.close()
