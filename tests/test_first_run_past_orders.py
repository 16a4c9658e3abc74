"""An order whose goods left before go-live is the historical import's, whichever door it comes
through (issue 14): placed long before go-live and shipped then, touched after go-live (a status
change, a bulk "mark Completed", a webhook), it is not mirrored — the POS counts already show its goods
gone — unless historical_import.enabled. An order still open at go-live (paid or shipped after), one
placed within a day of go-live, one the historical import failed on, and one import-history mirrored
(it has a binding) are the daemon's.

Go-live: the daemon's first window's start (sync.start_at, less the overlap, in the sync world).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE / "sync", HERE / "bad_input"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from cli_world import run_cli_async, write_config  # noqa: E402
from connector.errors import TransientApiError  # noqa: E402
from connector.history.importer import HistoricalImport  # noqa: E402
from connector.runtime import Runtime  # noqa: E402
from connector.store.repository import Store  # noqa: E402
from connector.sync.transitions import Outcome  # noqa: E402
from connector.clients.transport import RetryPolicy  # noqa: E402
from sync_world import START, line  # noqa: E402

SKIPPED_BEFORE_GO_LIVE = "skip_before_go_live"  # the audit action (connector.sync.go_live)
SKIPPED = "skipped"  # Outcome.SKIPPED
SHIPPED, COMPLETED, AWAITING_PAYMENT, AWAITING_FULFILLMENT, CANCELLED = 2, 10, 7, 11, 5


def past_order(world, placed, status_id: int = SHIPPED, lines=None) -> int:
    """An order placed (and last changed) at `placed`: the daemon's first window does not read it."""
    return world.add_order(lines or [line("TEE-M", 2)], status_id=status_id, date_created=placed)


def skips(store: Store, order_id: int) -> list:
    return [e for e in store.audit_entries(order_id) if e.action == SKIPPED_BEFORE_GO_LIVE]


async def test_an_old_order_touched_after_go_live_is_not_mirrored_and_the_sync_exits_0(
        world, tmp_path, monkeypatch, capsys):
    old = past_order(world, START - timedelta(days=3))
    config = write_config(world, tmp_path / "config.yaml")
    assert await run_cli_async(world, monkeypatch, config, "sync") == 0  # go-live
    world.set_status(old, COMPLETED, advance=60)  # the merchant archives old orders in bulk

    capsys.readouterr()
    assert await run_cli_async(world, monkeypatch, config, "sync") == 0
    logged = capsys.readouterr().err
    world.clock.advance(60)
    assert await run_cli_async(world, monkeypatch, config, "sync") == 0  # the overlap reads it again

    assert world.sales(old) == [] and world.xs_writes() == 0 and world.stock("TEE-M") == 50
    store = Store.open(world.database_url)
    try:
        [skip] = skips(store, old)  # once per change of the order, not once per read
        assert "before go-live" in skip.reason and "historical_import.enabled" in skip.reason
        assert store.order_binding(old) is None and store.failures() == []
    finally:
        store.close()
    assert f"INFO    connector.sync: order {old}: not mirrored: placed" in logged

    world.set_status(old, SHIPPED, advance=60)  # changed again: recorded again, still no sale
    assert await run_cli_async(world, monkeypatch, config, "sync") == 0
    store = Store.open(world.database_url)
    try:
        assert len(skips(store, old)) == 2 and world.sales(old) == []
    finally:
        store.close()


async def test_the_cycle_report_counts_it_skipped(world):
    old = past_order(world, START - timedelta(days=3))
    await world.cycle()
    world.set_status(old, COMPLETED)
    report = await world.cycle(advance=60)
    assert report.outcomes[SKIPPED] == 1 and report.written == 0 and not report.failed
    assert world.sale(old) is None


async def test_an_order_placed_two_hours_before_go_live_and_paid_after_is_mirrored(world):
    go_live = world.start_at - timedelta(seconds=world.overlap_seconds)
    transfer = past_order(world, go_live - timedelta(hours=2), status_id=AWAITING_PAYMENT)
    await world.cycle()
    world.set_status(transfer, AWAITING_FULFILLMENT)  # the bank transfer arrived

    report = await world.cycle(advance=60)

    assert world.sale(transfer) is not None and report.outcomes[Outcome.CREATED] == 1


async def test_with_the_historical_import_enabled_an_old_order_is_mirrored(world):
    old = past_order(world, START - timedelta(days=3))
    settings = world.settings()
    settings = settings.model_copy(update={"historical_import": settings.historical_import.model_copy(
        update={"enabled": True})})
    runtime = await Runtime.start(settings, bc_transport=world.bc.transport(), xs_transport=world.xs.transport(),
                                  clock=world.clock, retry=RetryPolicy(seed=3, base_delay=0.01),
                                  store=Store.open(world.database_url, clock=world.clock))
    world.runtimes.append(runtime)
    await world.cycle(runtime=runtime)
    world.set_status(old, COMPLETED)

    await world.cycle(advance=60, runtime=runtime)

    assert world.sale(old)["status"] == "CLOSED"


async def test_a_webhook_for_an_old_order_writes_no_sale(world):
    old = past_order(world, START - timedelta(days=3))
    await world.cycle()  # go-live
    world.set_status(old, COMPLETED)
    runtime = await world.runtime()
    calls = len(world.xs.request_log)

    report = await runtime.mirror_event(old, "store/order/statusUpdated")

    assert report.outcomes[SKIPPED] == 1 and not report.failed
    assert len(world.xs.request_log) == calls  # not even the index's refresh: nothing is written
    assert world.sale(old) is None and len(skips(world.store, old)) == 1


async def test_a_webhook_before_the_first_cycle_already_knows_go_live(world):
    # No cycle row yet: go-live is where the first cycle's window will start (sync.start_at).
    old = past_order(world, START - timedelta(days=3))
    world.set_status(old, COMPLETED)
    runtime = await world.runtime()

    await runtime.mirror_event(old, "store/order/statusUpdated")

    assert world.sale(old) is None and len(skips(world.store, old)) == 1


async def test_an_old_order_import_history_mirrored_still_gets_its_cancel(world):
    old = past_order(world, START - timedelta(days=3), status_id=AWAITING_FULFILLMENT)
    runtime = await world.runtime()
    await HistoricalImport(runtime, since=None, until=None).run()
    assert world.sale(old)["status"] == "CLOSED" and world.stock("TEE-M") == 48
    await world.cycle()  # go-live
    world.set_status(old, CANCELLED)

    await world.cycle(advance=60)

    assert world.sale(old)["status"] == "VOIDED" and world.stock("TEE-M") == 50
    assert skips(world.store, old) == []


async def test_a_refund_of_an_old_order_never_mirrored_writes_neither_sale_nor_return(world):
    old = past_order(world, START - timedelta(days=3))
    await world.cycle()  # go-live
    world.clock.advance(60)
    tee = next(p for p in world.bc.products(old) if p["sku"] == "TEE-M")
    refund = world.bc.refund(old, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])

    report = await world.cycle(advance=60)

    assert world.sales(old) == [] and world.xs.sales_of_order(old, returns=True) == []
    assert world.stock("TEE-M") == 50 and not report.refunds_failed and not report.failed
    binding = world.store.refund_binding(refund["id"])
    assert binding.outcome == "recorded" and "before go-live" in binding.reason


async def test_an_order_open_at_go_live_and_paid_then_shipped_after_is_mirrored(world):
    """A bank transfer placed three days before go-live, paid and shipped after it: its goods were
    still on the shelf at go-live, so its sale is the daemon's (not the import's)."""
    transfer = past_order(world, START - timedelta(days=3), status_id=AWAITING_PAYMENT)
    await world.cycle()  # go-live
    world.set_status(transfer, AWAITING_FULFILLMENT)  # the transfer arrived
    await world.cycle(advance=60)
    world.set_status(transfer, SHIPPED)
    await world.cycle(advance=60)

    assert world.sale(transfer) is not None and world.stock("TEE-M") == 48  # its goods left after go-live
    assert skips(world.store, transfer) == []


def go_live_exceptions(store: Store, order_id: int) -> list:
    return [e for e in store.exceptions() if e.bc_order_id == order_id and e.kind == "go_live"]


async def test_an_old_order_the_historical_import_failed_on_is_parked_for_a_person_not_dropped(world):
    """The import failed on an old order before writing its sale (X-Series down while it created the
    customer): its failure is the import's one trace of it. The daemon neither mirrors it (its goods
    left before go-live) nor skips it and forgets the failure (the order lost, nobody told): it is
    parked with an exception of kind go_live, and import-history run again mirrors it."""
    old = past_order(world, START - timedelta(days=3))
    runtime = await world.runtime()
    customers = runtime.xs.create_customer

    async def down(*args, **kwargs):
        raise TransientApiError("503 Service Unavailable", api="xseries", method="POST", path="/api/2.0/customers")

    runtime.xs.create_customer = down
    report = await HistoricalImport(runtime, since=None, until=None).run()
    assert report.cycle.failed and world.store.failure(old) is not None
    runtime.xs.create_customer = customers
    await world.cycle(advance=60)  # go-live; the failed queue retries it

    assert world.sales(old) == [] and world.stock("TEE-M") == 50
    assert world.store.failure(old).parked and "run it again" in go_live_exceptions(world.store, old)[0].summary
    world.set_status(old, COMPLETED)  # touched again while parked: the same exception, not a second one
    await world.cycle(advance=60)
    assert len(go_live_exceptions(world.store, old)) == 1
    runtime.settings.historical_import.enabled = True
    await HistoricalImport(runtime, since=None, until=None).run()
    assert world.sale(old)["status"] == "CLOSED" and world.store.failure(old) is None
    assert go_live_exceptions(world.store, old) == []  # over once import-history mirrored it


async def test_a_failure_of_the_daemons_own_lets_no_old_shipped_order_through(world):
    """An old order shipped before go-live, touched after it, whose first look failed (its lease busy):
    the failed queue's retry writes no sale (its goods left before go-live); with a failure on record,
    a person is asked rather than the order skipped silently."""
    old = past_order(world, START - timedelta(days=3))
    await world.cycle()  # go-live
    world.clock.advance(60)
    world.store.record_failure(old, step="lock", reason="the order's lease is busy", permanent=False,
                               max_attempts=10)
    world.set_status(old, COMPLETED)
    await world.cycle(advance=60)

    assert world.sales(old) == [] and world.stock("TEE-M") == 50 and go_live_exceptions(world.store, old)
