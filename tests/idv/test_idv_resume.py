"""Where the metafield poll starts when ID verification starts (connector/idv/resume.py): never from
sync.start_at on the first start, never over a time it was off; after a plain stop it catches up."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from connector.clients.transport import RetryPolicy
from connector.clock import FakeClock
from connector.commands import sync_once
from connector.config import Settings
from connector.idv.metafields import CURSOR
from connector.idv.resume import FIRST_CURSOR, OFF_CURSOR
from connector.idv.service import IdvService, poll_once
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.faults import FaultConfig
from connector.sandbox.xseries import XSeriesSimulator
from connector.store.repository import Store
from idv_world import CUSTOMER, START, cart_line, settings_for

DAY = 86400


def realid(world, order_id: int, status: str, check_id: str | None = None) -> None:
    world.clock.advance(2)
    if check_id is not None:
        world.bc.set_metafield(order_id, "realid", "check_id", check_id)
    world.bc.set_metafield(order_id, "realid", "verification_status", status)


async def cycle(world, service: IdvService | None) -> bool:
    """One cycle's ID-verification step, as sync, run and the workers take it (None: ID verification off)."""
    world.clock.advance(30)
    return await poll_once(service, world.store)


async def restart(world, *, enabled: bool = True) -> IdvService | None:
    world.service = await IdvService.start(world.settings(enabled=enabled), world.client, world.store)
    return world.service if enabled else None


async def test_first_start_months_after_start_at_leaves_old_verdicts_to_staff(world, caplog):
    """order-sync has mirrored since sync.start_at; ID verification is turned on two months later.
    Verdicts of back then, settled by staff since, are not applied; a new one is."""
    abandoned, declined_by_staff, checked_at_pickup = (world.add_order(status_id=11) for _ in range(3))
    world.clock.advance(3600)
    for order, verdict in ((abandoned, "pending"), (declined_by_staff, "verified"), (checked_at_pickup, "failed")):
        realid(world, order, verdict, f"rid-{order}")
    world.clock.advance(DAY)
    world.bc.orders[abandoned]["status_id"] = 9  # Awaiting Shipment
    world.bc.orders[declined_by_staff]["status_id"] = 6  # Declined: fraud, must not ship
    world.bc.orders[checked_at_pickup]["status_id"] = 8  # Awaiting Pickup
    world.clock.advance(60 * DAY)
    with caplog.at_level(logging.WARNING, logger="connector.idv"):
        service = await restart(world)
    started = world.clock.now()
    assert await cycle(world, service)
    assert {o: world.status(o) for o in (abandoned, declined_by_staff, checked_at_pickup)} == {
        abandoned: 9, declined_by_staff: 6, checked_at_pickup: 8}
    assert world.puts() == []
    [line] = [r.getMessage() for r in caplog.records if "not applied" in r.getMessage()]
    assert "first time" in line and (started - timedelta(seconds=300)).isoformat() in line and "id-check" in line

    fresh = world.add_order(status_id=11)
    realid(world, fresh, "failed", "rid-new")
    assert await cycle(world, service)
    assert world.status(fresh) == 6


async def test_turned_off_then_on_again_does_not_apply_the_verdicts_of_the_time_it_was_off(world, caplog):
    service = await restart(world)
    order = world.add_order(status_id=11)
    assert await cycle(world, service)  # on: the cursor is set
    # Turned off: the daemon runs on, mirroring, each cycle without ID verification.
    off = await restart(world, enabled=False)
    assert await cycle(world, off)
    realid(world, order, "failed", "rid-1")  # Real ID fails the check; staff verify in person
    for _ in range(3):
        world.clock.advance(7 * DAY)
        assert await cycle(world, off)
    last_off_cycle = world.clock.now()
    world.bc.orders[order]["status_id"] = 9  # Awaiting Shipment
    # Turned on again.
    world.clock.advance(120)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="connector.idv"):
        service = await restart(world)
    assert await cycle(world, service)
    assert world.status(order) == 9 and world.puts() == []
    assert world.store.cursor(OFF_CURSOR) == last_off_cycle
    [line] = [r.getMessage() for r in caplog.records if "not applied" in r.getMessage()]
    assert last_off_cycle.isoformat() in line and "was off" in line

    realid(world, order, "failed", "rid-2")  # a new check, after it is back on: applied
    assert await cycle(world, service)
    assert world.status(order) == 6


async def test_a_stop_with_it_on_catches_up_the_verdicts_that_came_meanwhile(world, caplog):
    service = await restart(world)
    order = world.add_order(status_id=11)
    assert await cycle(world, service)
    # The daemon is stopped (or down) for two days, ID verification still on in its configuration.
    world.clock.advance(DAY)
    realid(world, order, "failed", "rid-1")
    world.clock.advance(DAY)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="connector.idv"):
        service = await restart(world)
    assert await cycle(world, service)
    assert world.status(order) == 6
    assert not [r for r in caplog.records if "not applied" in r.getMessage()]
    # …and again after it was off once, long ago, then on.
    assert await cycle(world, await restart(world, enabled=False))
    service = await restart(world)
    assert await cycle(world, service)
    world.bc.orders[order]["status_id"] = 11
    world.clock.advance(DAY)
    realid(world, order, "failed", "rid-2")
    service = await restart(world)
    assert await cycle(world, service)
    assert world.status(order) == 6


async def test_a_restart_before_the_first_poll_succeeded_starts_from_the_first_start(world, caplog):
    """The first polls fail (BigCommerce 500s, or a token without metafield scope); Real ID passes a
    customer meanwhile, its webhook lost; the daemon restarts (or the next cron `order-sync sync`):
    the poll starts from the first start, not the restart's now, and the verdict applies."""
    order = world.add_order(status_id=7)
    world.bc.faults.reconfigure(FaultConfig(share_5xx=1.0, path_filter="metafields"))
    first = world.clock.now()
    service = await restart(world)
    assert not await cycle(world, service)
    assert world.store.cursor(CURSOR) is None and world.store.cursor(FIRST_CURSOR) == first
    world.clock.advance(600)
    realid(world, order, "verified", "rid-1")
    world.clock.advance(3600)
    world.bc.faults.reconfigure(FaultConfig())
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="connector.idv"):
        service = await restart(world)
    assert await cycle(world, service)
    assert world.status(order) == 11
    [line] = [r.getMessage() for r in caplog.records if "not applied" in r.getMessage()]
    assert "never succeeded" in line and (first - timedelta(seconds=300)).isoformat() in line
    assert world.store.cursor(FIRST_CURSOR) == first  # set once


async def test_turned_off_before_the_first_poll_succeeded_then_on_starts_from_the_time_it_was_off(world):
    order = world.add_order(status_id=11)
    world.bc.faults.reconfigure(FaultConfig(share_5xx=1.0, path_filter="metafields"))
    assert not await cycle(world, await restart(world))
    world.bc.faults.reconfigure(FaultConfig())
    off = await restart(world, enabled=False)
    realid(world, order, "failed", "rid-1")  # while it is off: staff verify in person
    world.clock.advance(DAY)
    assert await cycle(world, off)
    world.bc.orders[order]["status_id"] = 9
    assert await cycle(world, await restart(world))
    assert world.status(order) == 9 and world.puts() == []


async def test_off_before_it_was_ever_on_records_nothing(world):
    """Every merchant without ID verification: its cycles leave no cursor (status: "not started")."""
    assert await cycle(world, await restart(world, enabled=False))
    assert world.store.cursor(CURSOR) is None and world.store.cursor(OFF_CURSOR) is None
    assert world.store.cursor(FIRST_CURSOR) is None


async def test_the_one_shot_sync_turned_off_then_on_leaves_the_order_as_staff_set_it(tmp_path):
    """The same through `order-sync sync` (commands.sync_once), mirror and all: the failed check of a
    time ID verification was off neither declines the order nor voids its sale."""
    clock = FakeClock(START)
    bc = BigCommerceSimulator(clock=clock, quota=100_000)
    xs = XSeriesSimulator(clock=clock, rate_limit=100_000)
    xs.add_product(sku="WINE-01", name="Barolo 2019", price_excluding_tax=Decimal("30.00"), inventory=10)
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    store = Store.open(database_url, clock=clock)

    def settings(enabled: bool) -> Settings:
        return settings_for(bc, database_url, enabled=enabled, xs=xs)

    async def sync(enabled: bool) -> int:
        clock.advance(5)
        return await sync_once(settings(enabled), bc_transport=bc.transport(), xs_transport=xs.transport(),
                               clock=clock, retry=RetryPolicy(seed=1, base_delay=0.01), store=store)

    order = bc.add_order(customer=CUSTOMER, lines=[cart_line(quantity=2)], status_id=11)["id"]
    assert await sync(True) == 0
    assert await sync(False) == 0
    clock.advance(3600)
    bc.set_metafield(order, "realid", "check_id", "rid-1")
    bc.set_metafield(order, "realid", "verification_status", "failed")
    clock.advance(DAY)
    assert await sync(False) == 0
    bc.orders[order]["status_id"] = 9  # staff verified the customer: Awaiting Shipment
    clock.advance(20 * DAY)
    assert await sync(False) == 0
    assert await sync(True) == 0
    assert bc.order(order)["status_id"] == 9
    assert [s["status"] for s in xs.sales_for_source_id(str(order))] == ["CLOSED"]
    store.close()
