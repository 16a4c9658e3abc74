import asyncio
import random
from collections import Counter
from contextlib import contextmanager

import pytest
from sqlmodel import select

from connector.history.command import import_history
from connector.history.importer import HistoricalImport
from connector.mapping.statuses import SYSTEM_NAMES
from connector.store.tables import CustomerBinding

CLOSED_OR_VOIDED = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}


def sales_per_order(xs) -> Counter:
    return Counter(int(s["source_id"]) for s in xs.sales.values() if not s["return_for"])


def expected_orders(bc) -> set[int]:
    return {i for i, o in bc.orders.items() if o["status_id"] in CLOSED_OR_VOIDED}


@contextmanager
def stopping(runtime, stop: asyncio.Event, when):
    """Within: the runtime's cycles set `stop` (Ctrl-C) as they start mirroring an order `when` holds for."""
    original = runtime.cycle

    def cycle_that_stops(stop_event=None):
        cycle = original(stop_event=stop_event)
        inner = cycle.mirror_one

        async def mirror_one(order, report):
            if when(order):
                stop.set()
            return await inner(order, report)

        cycle.mirror_one = mirror_one
        return cycle

    runtime.cycle = cycle_that_stops
    try:
        yield
    finally:
        runtime.cycle = original


async def resumed_to_the_end(rt, w) -> None:
    """The next import resumes from the checkpoint and leaves every order with exactly one sale."""
    second = await HistoricalImport(rt, since=None, until=None).run()
    assert not second.interrupted and second.resumed_from is not None
    counts = sales_per_order(w.xs)
    assert set(counts) == expected_orders(w.bc) and max(counts.values()) == 1


async def test_import_mirrors_every_closed_or_voided_order_once(import_world):
    w = import_world
    rt = await w.runtime()
    try:
        report = await HistoricalImport(rt, since=None, until=None).run()
        assert report.total == len(w.bc.orders) and not report.interrupted and not report.cycle.failed
        counts = sales_per_order(w.xs)
        assert set(counts) == expected_orders(w.bc)
        assert max(counts.values()) == 1
        writes = len(w.xs.request_log.writes())
        again = await HistoricalImport(rt, since=None, until=None).run()
        assert len(w.xs.request_log.writes()) == writes  # a second import writes nothing
        assert again.cycle.written == 0
    finally:
        await rt.aclose()
        rt.store.close()


async def test_dry_run_writes_nothing_and_predicts_the_import(import_world):
    w = import_world
    rt = await w.runtime()
    try:
        bc_writes = len(w.bc.request_log.writes())
        stock_before = {sku: w.xs.stock(pid) for sku, pid in w.seeded.pos_product_ids.items()}
        report = await HistoricalImport(rt, since=None, until=None, dry_run=True).run()
        assert len(w.xs.request_log.writes()) == 0 and len(w.bc.request_log.writes()) == bc_writes
        dry = report.dry_run
        assert sum(dry.sales.values()) == len(expected_orders(w.bc))
        assert report.estimated_seconds is not None and report.estimated_seconds > 0
        real = await HistoricalImport(rt, since=None, until=None).run()
        assert not real.cycle.failed
        created_products = [p for p in rt.store.product_bindings() if p.created]
        assert {p.sku for p in created_products} == dry.new_products
        assert len(w.xs.sales) == sum(dry.sales.values())
        written = Counter({"CLOSED": "closed", "ONACCOUNT": "on account", "VOIDED": "voided"}[sale["status"]]
                          for sale in w.xs.sales.values())
        assert written == +dry.sales and dry.sales["on account"]  # unpaid orders: a balance owed, said so
        # The customers and the stock movement it predicted are the ones the import made.
        with rt.store.session() as s:
            created_customers = {c.email_key for c in s.exec(select(CustomerBinding)) if c.created}
        assert created_customers == dry.new_customers and dry.new_customers
        moved = {sku: units - w.xs.stock(w.seeded.pos_product_ids[sku])
                 for sku, units in stock_before.items() if units != w.xs.stock(w.seeded.pos_product_ids[sku])}
        assert moved == {sku: units for sku, units in dry.stock.items() if sku in stock_before} and moved
    finally:
        await rt.aclose()
        rt.store.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_interrupted_import_resumes_without_duplicates(import_world, seed):
    w = import_world
    stop_after = random.Random(seed).randint(3, len(w.bc.orders) // 2)
    rt = await w.runtime()
    try:
        stop = asyncio.Event()
        importer = HistoricalImport(rt, since=None, until=None, stop_event=stop, checkpoint_every=5,
                                    concurrency=4)
        seen = []
        with stopping(rt, stop, lambda order: seen.append(order) or len(seen) == stop_after):
            first = await importer.run()  # Ctrl-C in the middle of the import
        assert first.interrupted
        partial = len(w.xs.sales)
        assert 0 < partial < len(expected_orders(w.bc))
        await resumed_to_the_end(rt, w)
    finally:
        await rt.aclose()
        rt.store.close()


def test_refused_unless_enabled(import_world):
    """A ConfigError: the command line prints it (a JSON line under --log-format json) and exits 2."""
    from connector.errors import ConfigError

    settings = import_world.settings(enabled=False)
    with pytest.raises(ConfigError) as refused:
        import_history(settings, since=None, until=None, dry_run=False)
    err = str(refused.value)
    assert "off by default" in err and "stock" in err and "historical_import" in err
    assert len(import_world.xs.request_log) == 0 and len(import_world.bc.request_log) == 0


async def test_range_limits_the_import(import_world):
    w = import_world
    created = sorted((o["date_created"], i) for i, o in w.bc.orders.items())
    rt = await w.runtime()
    try:
        from connector.values import parse_rfc2822

        mid = parse_rfc2822(created[len(created) // 2][0])
        await HistoricalImport(rt, since=mid, until=None).run()
        imported = set(sales_per_order(w.xs))
        assert imported and all(parse_rfc2822(w.bc.orders[i]["date_created"]) >= mid for i in imported)
    finally:
        await rt.aclose()
        rt.store.close()


async def test_by_default_the_import_ends_where_the_daemons_cursor_started(import_world):
    """Deliver 1: the default range ends at the daemon's start cursor, not at now nor at the cursor
    as it is today; what the daemon mirrors after its start is its own."""
    w = import_world
    rt = await w.runtime()
    try:
        w.clock.advance(3600)
        first_cycle = w.clock.now().replace(microsecond=0)
        await rt.cycle().run()  # the daemon's first cycle: its cursor starts here
        w.clock.advance(3600)
        sku = next(iter(w.seeded.pos_product_ids))
        w.bc.add_order(customer=None, status_id=11,
                               lines=[{"name": "Later", "sku": sku, "product_id": 1, "variant_id": 2,
                                       "unit_price": "5.00", "quantity": 1}])
        await rt.cycle().run()  # the cursor moves on; where it started stays
        report = await HistoricalImport(rt, since=None, until=None, dry_run=True).run()
        assert report.until == first_cycle
        assert report.total == len(w.bc.orders) - 1  # every order but the one placed later
    finally:
        await rt.aclose()
        rt.store.close()


def test_status_names_cover_the_closed_set():
    assert {SYSTEM_NAMES[i] for i in CLOSED_OR_VOIDED} >= {"Cancelled", "Declined", "Shipped"}


async def test_refunded_past_orders_get_their_returns_once(import_world):
    """Issue 16: the import mirrors the refunds of the orders it imports, so the outlet's stock ends
    where it should; a second import writes nothing."""
    w = import_world
    refundable = [i for i, o in sorted(w.bc.orders.items()) if o["status_id"] in (2, 10, 11)
                  and any(p["product_id"] for p in w.bc.products(i))][:3]
    refunds = {}
    for order_id in refundable:
        line = next(p for p in w.bc.products(order_id) if p["product_id"])
        refunds[order_id] = w.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": line["id"], "quantity": 1}])
    rt = await w.runtime()
    try:
        report = await HistoricalImport(rt, since=None, until=None).run()
        assert report.cycle.refunds["returned"] == len(refunds) and not report.cycle.refunds_failed
        for order_id, refund in refunds.items():
            [sale] = w.xs.sales_of_order(order_id)
            [ret] = w.xs.sales_of_order(order_id, returns=True)
            assert ret["return_for"] == sale["id"] and ret["invoice_number"] == f"BC-{order_id}-R{refund['id']}"
            assert [li["quantity"] for li in ret["line_items"]] == [-1]
        writes = len(w.xs.request_log.writes())
        await HistoricalImport(rt, since=None, until=None).run()
        assert len(w.xs.request_log.writes()) == writes
    finally:
        await rt.aclose()
        rt.store.close()


def _unmapped_status(order: dict) -> None:
    order["status_id"], order["status"] = 99, "Custom"


def _unparsable(order: dict) -> None:
    order["total_inc_tax"] = None


@pytest.mark.parametrize("break_order", [_unmapped_status, _unparsable], ids=["fails-at-its-status", "does-not-parse"])
async def test_an_import_keeps_no_page_bindings_of_orders_that_fail_before_their_lease(
        import_world, monkeypatch, break_order):
    """Each page's bindings are read before its orders start (PageBindings), and before its rows are
    parsed, and the importer never forgets a page: an order that fails before it reached its binding
    (a status the table does not map, a row that does not parse) must not leave its page's entry
    behind, or a 100,000-order import keeps one per failure."""
    w = import_world
    broken = sorted(w.bc.orders)[::2]
    for order_id in broken:
        break_order(w.bc.orders[order_id])
    rt = await w.runtime()
    cycles = []
    make_cycle = rt.cycle
    monkeypatch.setattr(rt, "cycle", lambda *a, **k: cycles.append(make_cycle(*a, **k)) or cycles[-1])
    try:
        report = await HistoricalImport(rt, since=None, until=None).run()
        assert set(broken) <= set(report.cycle.failed) and not report.interrupted
        [cycle] = cycles
        assert [i for i in w.bc.orders if cycle.pages.take(i)[0]] == []
    finally:
        await rt.aclose()
        rt.store.close()


def placed_at(w, sku: str, times: list, *, status_id: int) -> list[int]:
    """One order of one `sku` at 10.00 placed at each of `times` (Ann Lee's, a guest); their ids."""
    from decimal import Decimal

    customer = {"id": 0, "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}
    return [w.bc.add_order(customer=customer, status_id=status_id, date_created=placed,
                           lines=[{"product_id": 1, "variant_id": 0, "sku": sku, "name": sku,
                                   "unit_price": Decimal("10.00"), "quantity": 1}])["id"] for placed in times]


@pytest.mark.parametrize("exclusive", [False, True])
async def test_a_resumed_import_reads_again_the_second_it_stopped_in(import_world, exclusive):
    """Two orders placed in the same second, the import stopped after the first: whether
    BigCommerce's min_date_created is inclusive is unverified, so the resumed import must not ask
    from that very second, or a store with exclusive bounds never imports the second order."""
    from datetime import timedelta

    w = import_world
    w.bc.date_bounds_exclusive = exclusive
    sku = w.seeded.skus[0]
    when = w.clock.now() - timedelta(minutes=30)
    pair = placed_at(w, sku, [when] * 2, status_id=11)
    rt = await w.runtime()
    try:
        stop = asyncio.Event()
        importer = HistoricalImport(rt, since=None, until=None, stop_event=stop, concurrency=1)
        with stopping(rt, stop, lambda order: order.id in pair):  # Ctrl-C while the first is mirrored
            assert (await importer.run()).interrupted
        assert len([o for o in pair if sales_per_order(w.xs)[o]]) == 1
        await resumed_to_the_end(rt, w)
    finally:
        await rt.aclose()
        rt.store.close()


@pytest.mark.parametrize("exclusive", [False, True])
async def test_more_than_a_page_of_orders_placed_in_one_second_are_all_imported_when_ties_come_back_unordered(
        import_world, monkeypatch, exclusive):
    """Twelve orders placed in one second (two a second before), pages of four, and a store returning
    orders sharing a date_created in a new order on each request: stepping page numbers missed some."""
    from datetime import timedelta

    import connector.clients.bigcommerce_order_listing as listing

    monkeypatch.setattr(listing, "PAGE_LIMIT", 4)
    w = import_world
    w.bc.ties_unordered = True
    w.bc.date_bounds_exclusive = exclusive
    sku = w.seeded.skus[0]
    when = w.clock.now() - timedelta(days=3)
    # Two orders a second before: the first page ends in the busy second without lying within it.
    ids = placed_at(w, sku, [when - timedelta(seconds=1)] * 2 + [when] * 12, status_id=10)
    rt = await w.runtime()
    try:
        report = await HistoricalImport(rt, since=None, until=w.clock.now() - timedelta(days=1)).run()
        assert not report.interrupted
        sales = sales_per_order(w.xs)
        assert [o for o in ids if sales[o] != 1] == []
    finally:
        await rt.aclose()
        rt.store.close()
