"""import-history before the daemon ever ran, with the default config (no sync.start_at): the import
ends at its own "now", and the daemon's first run goes on from there, not from its own now (the
orders placed in between were in neither)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from connector.commands import refuse_unsafe_first_run
from connector.errors import ConfigError
from connector.history.importer import HistoricalImport
from connector.store.import_runs import ImportRuns
from sync_world import line


async def import_then_wait(world, hours: float):
    """A past order, import-history (default until: its now), an order placed `hours` later."""
    world.start_at = None
    past = world.add_order([line("TEE-M")])
    world.clock.advance(3600)
    rt = await world.runtime()
    rt.settings.historical_import.enabled = True
    report = await HistoricalImport(rt, since=None, until=None).run()
    assert not report.interrupted and len(world.sales(past)) == 1
    world.clock.advance(60)
    between = world.add_order([line("MUG-01")])
    world.clock.advance(hours * 3600)
    return rt, report, between


async def test_the_daemons_first_run_goes_on_from_where_the_import_ended(db_world):
    rt, imported, between = await import_then_wait(db_world, 1)
    rt.settings.historical_import.enabled = False  # set back, as the import's message asks
    refuse_unsafe_first_run(rt.settings, rt.store)  # less than a day back: allowed

    report = await db_world.cycle()

    assert report.window_start <= imported.until
    assert len(db_world.sales(between)) == 1


async def test_a_first_run_more_than_a_day_after_the_import_is_refused_unless_enabled(world):
    rt, imported, between = await import_then_wait(world, 30)
    refuse_unsafe_first_run(rt.settings, rt.store)  # still enabled: it may reach back
    rt.settings.historical_import.enabled = False

    with pytest.raises(ConfigError) as refused:
        refuse_unsafe_first_run(rt.settings, rt.store)

    message = str(refused.value)
    assert f"--since {imported.until:%Y-%m-%dT%H:%M:%SZ}" in message and "sync.start_at" in message
    assert world.sales(between) == []
    # An explicit start_at is the operator's choice of where the daemon starts: not refused.
    rt.settings.sync.start_at = world.clock.now() - timedelta(hours=1)
    refuse_unsafe_first_run(rt.settings, rt.store)


async def interrupted_import(world):
    """An import-history stopped (Ctrl-C) after its first order: the three orders after it unread."""
    world.start_at = None
    first = world.add_order([line("TEE-M")])
    world.clock.advance(3600)
    later = [world.add_order([line("MUG-01")]) for _ in range(3)]
    world.clock.advance(3600)
    rt = await world.runtime()
    rt.settings.historical_import.enabled = True
    stop = asyncio.Event()
    cycle_factory = rt.cycle

    def cycle(**kw):
        c = cycle_factory(**kw)
        mirror_one = c.mirror_one

        async def one_then_stop(order, report):
            out = await mirror_one(order, report)
            stop.set()
            return out
        c.mirror_one = one_then_stop
        return c
    rt.cycle = cycle
    report = await HistoricalImport(rt, since=None, until=None, stop_event=stop, concurrency=1).run()
    rt.cycle = cycle_factory
    rt.settings.historical_import.enabled = False
    assert report.interrupted and len(world.sales(first)) == 1 and all(world.sales(o) == [] for o in later)
    return rt, later


async def test_an_interrupted_import_counts_only_up_to_its_checkpoint(world):
    rt, later = await interrupted_import(world)
    world.clock.advance(30 * 86400)
    with pytest.raises(ConfigError) as refused:
        refuse_unsafe_first_run(rt.settings, rt.store)
    # It says to resume the import (same --since, none here), not to import from its end on.
    message = str(refused.value)
    assert "--since" not in message and "Resume the unfinished import first (`order-sync import-history`" in message
    rt.settings.historical_import.enabled = True
    await HistoricalImport(rt, since=None, until=None).run()
    rt.settings.historical_import.enabled = False
    refuse_unsafe_first_run(rt.settings, rt.store)
    await world.cycle()
    assert [o for o in later if world.sales(o) == []] == []


async def test_within_a_day_the_first_run_goes_on_from_the_interrupted_imports_checkpoint(world):
    rt, later = await interrupted_import(world)
    world.clock.advance(3600)
    refuse_unsafe_first_run(rt.settings, rt.store)
    await world.cycle()
    assert [o for o in later if world.sales(o) == []] == []


async def test_a_finished_import_counts_no_further_than_an_unfinished_ones_checkpoint(world):
    """A finished import up to now, then one over an older range stopped a day into it: what lies
    after that day is not known read, whatever the finished one reached."""
    world.start_at = None
    rt = await world.runtime()
    runs, now = ImportRuns(rt.store), world.clock.now()
    runs.save(runs.open(now - timedelta(days=2), now, 10), checkpoint=None, done=10, failed=0, finished=True)
    since = now - timedelta(days=10)
    runs.save(runs.open(since, now - timedelta(days=5), 10), checkpoint=since + timedelta(days=1), done=1, failed=0)
    world.clock.advance(3600)

    assert runs.imported_until() == since + timedelta(days=1)
    with pytest.raises(ConfigError) as refused:
        refuse_unsafe_first_run(rt.settings, rt.store)
    resume = f"Resume the unfinished import first (`order-sync import-history --since {since:%Y-%m-%dT%H:%M:%SZ}`"
    assert resume in str(refused.value)


async def test_an_unfinished_run_a_finished_one_read_past_does_not_hold_the_first_run_back(world):
    """Chunk 1 (--until mid) finished; chunk 2 (--since mid-12h) stopped six hours in, inside what
    chunk 1 read; then an import --since mid finished up to now, as the refusal advised: everything
    is read, and the first run goes on from now, not refused again to resume chunk 2."""
    world.start_at = None
    rt = await world.runtime()
    runs, now = ImportRuns(rt.store), world.clock.now()
    mid = now - timedelta(days=40)
    runs.save(runs.open(None, mid, 10), checkpoint=None, done=10, failed=0, finished=True)
    runs.save(runs.open(mid - timedelta(hours=12), now, 10), checkpoint=mid - timedelta(hours=6), done=1, failed=0)
    runs.save(runs.open(mid, now, 10), checkpoint=None, done=10, failed=0, finished=True)
    world.clock.advance(3600)

    assert runs.stopped() is None and runs.imported_until() == now
    refuse_unsafe_first_run(rt.settings, rt.store)


async def failed_first_cycle(world, monkeypatch) -> None:
    """No start_at, no import: the first cycle fails (X-Series down, or a wrong token) before a cursor
    is saved."""
    from connector.sync.xseries_index import XSeriesIndex

    world.start_at = None
    await world.runtime()
    refresh = XSeriesIndex.refresh
    calls = []

    async def down_once(self):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("X-Series 503 at go-live")
        return await refresh(self)

    monkeypatch.setattr(XSeriesIndex, "refresh", down_once)
    with pytest.raises(RuntimeError):
        await world.cycle()


async def test_a_first_run_long_after_a_first_cycle_that_failed_is_refused(world, monkeypatch):
    """A trial `sync` 60 days ago failed before saving a cursor; run again today, it would go on from
    there and mirror 60 days of past orders (shipped long ago, stock taken again): refused, as a
    start_at that far back is, pointing at import-history."""
    await failed_first_cycle(world, monkeypatch)
    world.clock.advance(3600)  # an hour after it failed: going on from there is right
    refuse_unsafe_first_run(world.settings(), world.store)
    world.clock.advance(60 * 86400)
    with pytest.raises(ConfigError, match="import-history --since"):
        refuse_unsafe_first_run(world.settings(), world.store)


async def test_a_first_run_after_a_first_cycle_that_failed_starts_where_that_one_did(world, monkeypatch):
    """No start_at: the first cycle fails (X-Series down at go-live) before a cursor is saved. An order
    placed and paid ten minutes later, X-Series back an hour later: the next cycle starts where the
    failed one did (go-live), not at its own now, else that order would be read by no window."""
    await failed_first_cycle(world, monkeypatch)
    world.clock.advance(600)
    paid = world.add_order([line("TEE-M", 1)])
    world.clock.advance(3600)

    report = await world.cycle()

    assert world.sale(paid)["status"] == "CLOSED" and not report.failed


async def test_a_refund_in_the_first_window_is_returned_after_the_first_refund_pass_failed(world):
    """The first cycle wrote the sale and saved its orders cursor, then its refunds listing failed
    (BigCommerce 503): no refunds cursor. The next cycle's refund pass starts where the first cycle
    began, not at its own window, or a refund made in the first window would be read by no pass."""
    from connector.errors import TransientApiError

    runtime = await world.runtime()
    order_id = world.add_order([line("TEE-M", 2)])
    world.clock.advance(60)
    tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    world.clock.advance(3600)
    listing, calls = type(runtime.bc).iter_refunds, []

    def down_once(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise TransientApiError("503", api="bigcommerce", method="GET", path="/v3/orders/payment_actions/refunds")
        return listing(self, *args, **kwargs)

    type(runtime.bc).iter_refunds = down_once
    try:
        with pytest.raises(TransientApiError):
            await world.cycle()
        assert world.sale(order_id)["status"] == "CLOSED"
        await world.cycle(advance=3600)
    finally:
        type(runtime.bc).iter_refunds = listing

    assert world.xs.sales_of_order(order_id, returns=True) and world.stock("TEE-M") == 49


async def test_a_store_upgraded_from_a_version_without_refunds_reads_no_old_refund(db_world, monkeypatch):
    """A store that ran a version without refunds (no refunds cursor) upgrades: migration 26 puts its
    refunds cursor at its orders cursor, so its refund pass starts there, as before, not at go-live
    months ago, where a refund staff handled by hand long ago would be returned a second time."""
    from sqlmodel import delete

    from connector.store import migrations
    from connector.store.tables import SchemaVersion, SyncCursor
    from connector.sync.cycle import SyncCycle
    from connector.sync.refund_pass import REFUNDS_CURSOR

    world = db_world
    mirror_refunds = SyncCycle.mirror_refunds

    async def without_refunds(self, report, since):
        return report.window_end

    monkeypatch.setattr(SyncCycle, "mirror_refunds", without_refunds)
    order_id = world.add_order([line("TEE-M", 2)])
    await world.cycle()
    world.clock.advance(86400)
    tee = world.bc.order_products[order_id][0]
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    for _ in range(4):
        await world.cycle(advance=30 * 86400)
    with world.store.session() as s:  # as the version before refunds left it
        s.exec(delete(SyncCursor).where(SyncCursor.name == REFUNDS_CURSOR))
        s.exec(delete(SchemaVersion).where(SchemaVersion.version >= 26))
        s.commit()
    assert 26 in migrations.migrate(world.store.engine)  # the upgrade
    monkeypatch.setattr(SyncCycle, "mirror_refunds", mirror_refunds)
    stock = world.stock("TEE-M")

    await world.cycle(advance=60)

    assert world.xs.sales_of_order(order_id, returns=True) == [] and world.stock("TEE-M") == stock


async def test_a_daemon_whose_first_cycles_failed_for_more_than_a_day_is_refused_as_a_restart_is(
        world, monkeypatch):
    """The first cycles keep failing for 30 h in one process: when X-Series is back, going on from the
    first one's start is refused, as a restart would be (import-history, or start_at), whether or not
    the process restarted."""
    await failed_first_cycle(world, monkeypatch)
    world.clock.advance(30 * 3600)
    with pytest.raises(ConfigError, match="import-history --since"):
        await world.cycle()


@pytest.mark.parametrize("enabled_after", [True, False])
async def test_the_refusals_advice_followed_unblocks_the_pair(world, monkeypatch, enabled_after):
    """Refused after a first cycle that failed more than a day ago, the operator does as told:
    `import-history --since <its start>` with the historical import enabled. The next cycles go on
    from where the import read up to, with the import still enabled or off again."""
    from connector.history.importer import HistoricalImport

    await failed_first_cycle(world, monkeypatch)
    first = world.store.first_window_start("sync")
    world.clock.advance(30 * 3600)
    with pytest.raises(ConfigError):
        refuse_unsafe_first_run(world.settings(), world.store)
    order_id = world.add_order([line("TEE-M", 1)])
    runtime = await world.runtime()
    runtime.settings.historical_import.enabled = True
    assert not (await HistoricalImport(runtime, since=first, until=None).run()).interrupted
    runtime.settings.historical_import.enabled = enabled_after
    world.clock.advance(60)
    refuse_unsafe_first_run(runtime.settings, world.store)
    later = world.add_order([line("MUG-01", 1)])

    report = await world.cycle()

    assert not report.failed and world.sale(order_id) and world.sale(later)["status"] == "CLOSED"
