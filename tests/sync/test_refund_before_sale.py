"""A refund read while its order has no sale yet is returned once the order gets one (review, bug 2):
"nothing to return" was recorded for good, and the units the sale written later sold stayed sold.

A refund changes no quantity or total of the BigCommerce order (bigcommerce-api.md §15), so the late
sale sells every unit and the return gives back the refunded ones: never the same unit twice."""

from __future__ import annotations

from datetime import timedelta

from connector.history.importer import HistoricalImport
from connector.values import to_iso8601
from sync_world import START, line


def returns(world, order_id: int) -> list[dict]:
    return world.xs.sales_of_order(order_id, returns=True)


def refund_tees(world, order_id: int, units: int) -> dict:
    tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
    return world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": units}])


def unmapped_bitcoin(tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "payment_methods.yaml").write_text("methods:\n  Credit Card: Credit Card\n")
    return mappings


async def map_bitcoin(world, mappings) -> None:
    """The merchant maps the payment method; the daemon restarts and reads the mapping."""
    (mappings / "payment_methods.yaml").write_text("methods:\n  Credit Card: Credit Card\n  Bitcoin: Credit Card\n")
    world._main = None
    await world.runtime()


async def test_a_refund_of_a_parked_order_is_returned_once_a_person_gets_its_sale_written(
        world_factory, database_url, tmp_path):
    mappings = unmapped_bitcoin(tmp_path)
    world = world_factory(database_url, mappings_dir=mappings)
    order_id = world.add_order([line("TEE-M", 2)], payment_method="Bitcoin")
    report = await world.cycle()
    assert order_id in report.failed and world.store.failure(order_id).parked  # a person must map Bitcoin
    world.clock.advance(5)
    refund = refund_tees(world, order_id, 1)
    report = await world.cycle()
    [binding] = world.store.refund_bindings(order_id)
    assert report.refunds["recorded"] == 1 and binding.outcome == "recorded" and returns(world, order_id) == []

    await map_bitcoin(world, mappings)
    assert world.store.request_retry(order_id, by="merchant", via="test") == 1
    report = await world.cycle(advance=3600)  # the refund is long out of the refund window by now

    assert world.sale(order_id)["status"] == "CLOSED"
    assert report.refunds["returned"] == 1 and not report.refunds_failed
    [ret] = returns(world, order_id)
    assert ret["invoice_number"].endswith(f"BC-{order_id}-R{refund['id']}")
    assert [i["quantity"] for i in ret["line_items"]] == [-1]
    assert world.stock("TEE-M") == 49  # 2 sold, 1 back
    [binding] = world.store.refund_bindings(order_id)
    assert binding.outcome == "returned" and binding.return_sale_id == ret["id"]

    for _ in range(2):  # and never again
        report = await world.cycle(advance=3600)
        assert not report.refunds and not report.refunds_failed
    assert len(returns(world, order_id)) == 1 and world.stock("TEE-M") == 49


async def test_a_full_refund_before_the_sale_returns_each_unit_once(world_factory, tmp_path):
    # Refunded whole while parked: the order is Refunded (status 4, closed), its lines keep their
    # quantity; the late sale sells both tees, the return gives both back — stock as it started.
    mappings = unmapped_bitcoin(tmp_path)
    world = world_factory(mappings_dir=mappings)
    order_id = world.add_order([line("TEE-M", 2)], payment_method="Bitcoin")
    await world.cycle()
    world.clock.advance(5)
    refund_tees(world, order_id, 2)
    await world.cycle()
    assert world.order(order_id)["status_id"] == 4 and returns(world, order_id) == []

    await map_bitcoin(world, mappings)
    world.store.request_retry(order_id, by="merchant", via="test")
    await world.cycle(advance=3600)
    await world.cycle(advance=3600)

    assert [i["quantity"] for i in world.sale(order_id)["line_items"]] == [2]
    [ret] = returns(world, order_id)
    assert [i["quantity"] for i in ret["line_items"]] == [-2]
    assert world.stock("TEE-M") == 50


async def test_import_history_before_the_daemon_leaves_the_refund_of_a_later_order_to_be_returned(world_factory):
    # import-history's refund pass reads every refund up to now, the refund of an order placed after
    # sync.start_at (the daemon's) too, before the daemon wrote that order's sale.
    world = world_factory(start_at=START + timedelta(minutes=30))
    old = world.add_order([line("MUG-01", 1, "10.00")])  # placed before sync.start_at: history
    world.clock.advance(3600)
    new = world.add_order([line("TEE-M", 2)])  # placed after it: the daemon's
    world.clock.advance(5)
    refund_tees(world, new, 1)
    runtime = await world.runtime()

    imported = await HistoricalImport(runtime, since=None, until=None).run()
    assert world.sale(old) is not None and world.sale(new) is None
    assert imported.cycle.refunds["recorded"] == 1

    report = await world.cycle(advance=60)

    assert world.sale(new)["status"] == "CLOSED" and report.refunds["returned"] == 1
    assert len(returns(world, new)) == 1 and world.stock("TEE-M") == 49


async def test_a_refund_webhook_of_a_parked_order_is_returned_once_its_sale_is_written(world_factory, tmp_path):
    # The webhook path (Runtime.mirror_event) records it as the cycle did; the order's sale, written
    # later by the failed queue, brings its return along.
    mappings = unmapped_bitcoin(tmp_path)
    world = world_factory(mappings_dir=mappings)
    order_id = world.add_order([line("TEE-M", 2)], payment_method="Bitcoin")
    await world.cycle()
    world.clock.advance(5)
    refund_tees(world, order_id, 1)
    runtime = await world.runtime()
    await runtime.mirror_event(order_id, "store/order/refund/created")
    [binding] = world.store.refund_bindings(order_id)
    assert binding.outcome == "recorded" and returns(world, order_id) == []

    await map_bitcoin(world, mappings)
    world.store.request_retry(order_id, by="merchant", via="test")
    await world.cycle(advance=3600)

    assert len(returns(world, order_id)) == 1 and world.stock("TEE-M") == 49


async def test_a_refund_of_an_order_that_never_gets_a_sale_is_recorded_once(world):
    # Another currency: parked for good. Its refund is recorded, once, and costs no call later.
    order_id = world.add_order([line("TEE-M", 1)], default_currency_code="EUR")
    await world.cycle()
    world.clock.advance(5)
    refund_tees(world, order_id, 1)
    await world.cycle()
    reads = len(world.bc.request_log)

    for _ in range(3):
        report = await world.cycle(advance=3600)
        assert set(report.refunds) <= {"up_to_date"} and not report.refunds_failed  # the overlap's re-read
    actions = [e.action for e in world.store.audit_entries(order_id)]
    assert actions.count("record_refund") == 1 and returns(world, order_id) == []
    assert world.store.refunds_due_again() == []
    # Each cycle's one refund listing, by date; none by order (the due refunds' read).
    assert not [r for r in world.bc.request_log[reads:] if "order_id" in r.query]


async def test_a_refund_made_before_go_live_is_returned_when_its_order_gets_its_sale_later(world):
    # The refunds window starts at sync.start_at: no refund pass reads a refund made before it. The
    # order's sale, written once it ships after go-live, sells all 3 tees; the refund's tee comes back.
    # Placed within the day before go-live: an order placed earlier is the historical import's
    # (tests/test_first_run_past_orders.py), its sale never written by the daemon.
    past = START - timedelta(hours=20)
    order_id = world.add_order([line("TEE-M", 3)], status_id=11, date_created=past)
    plain = world.add_order([line("MUG-01", 1, "10.00")], status_id=11, date_created=past)
    refund = refund_tees(world, order_id, 1)
    world.bc.refunds[refund["id"]]["created"] = to_iso8601(past + timedelta(hours=2))
    for placed in (order_id, plain):  # last changed before go-live too: not mirrored yet
        world.bc._dates[placed].modified = past + timedelta(hours=2)
        world.bc.orders[placed]["date_modified"] = world.bc.orders[placed]["date_created"]
    await world.cycle()
    assert world.sale(order_id) is None and world.sale(plain) is None
    world.set_status(order_id, 2)
    world.set_status(plain, 2)

    report = await world.cycle(advance=60)

    assert world.sale(order_id)["status"] == "CLOSED" and report.refunds["returned"] == 1
    assert len(returns(world, order_id)) == 1 and world.stock("TEE-M") == 48
    assert (await world.cycle(advance=60)).refunds.get("returned", 0) == 0  # once
    # Only the order that shows a refund costs a read of its refunds.
    by_order = [r.query for r in world.bc.request_log if "order_id" in r.query]
    assert by_order and not [q for q in by_order if str(plain) in q]
