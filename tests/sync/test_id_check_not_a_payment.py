"""An unpaid order that order-sync's own ID verification moves to Awaiting Fulfillment (the check
passed) was not paid by that move: its on-account sale stays on account and a `settle` exception
says so. The merchant's own move there (a bank transfer received) still settles it, and so does a
payment captured later. So for a new order the check moved before the mirror first saw it: its
first sale is written on account."""

from __future__ import annotations

import pytest

from connector.idv.service import IdvService
from connector.idv.stages import CheckEvent, Source, stage_of_event
from connector.store.tables import AuditEntry
from connector.store.repository import Store
from connector.sync.id_check_moves import moved_by_id_check, moved_unpaid_from
from connector.sync.order_mirror import Outcome
from sync_world import line


@pytest.fixture
async def idv(world):
    """The world with ID verification on: the real engine, on the mirror's store and client."""
    runtime = await world.runtime()
    settings = world.settings()
    settings = settings.model_copy(update={"id_verification": settings.id_verification.model_copy(
        update={"enabled": True})})
    runtime.settings = settings  # the mirror's too: it reads the ID check's audit only when enabled
    service = await IdvService.start(settings, runtime.bc, runtime.store)

    async def check(order_id: int, event: str) -> None:
        world.clock.advance(1)
        decision = await service.engine.handle(CheckEvent(
            order_id=order_id, event=event, stage=stage_of_event(event), check_id="chk-1",
            occurred_at=world.clock.now(), source=Source.WEBHOOK))
        assert decision.outcome.value == "written", decision.reason

    return check


async def unpaid_order(world) -> tuple[int, str]:
    """A bank transfer (Awaiting Payment, no payment status) mirrored as an on-account sale."""
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await world.cycle()
    sale = world.sale(order_id)
    assert sale["status"] == "ONACCOUNT" and sale["payments"] == []
    return order_id, sale["customer_id"]


def settle_exceptions(world, order_id: int) -> list:
    return [e for e in world.store.exceptions(open_only=False) if e.bc_order_id == order_id and e.kind == "settle"]


def assert_still_owed(world, order_id: int, customer: str) -> None:
    sale = world.sale(order_id)
    assert (sale["status"], sale["payments"]) == ("ONACCOUNT", [])
    assert world.xs.customers[customer]["balance"] < 0
    assert not [e for e in world.store.audit_entries(order_id) if e.action == "settle_sale"]


async def test_an_id_check_passed_straight_from_awaiting_payment_is_not_a_payment(world, idv):
    order_id, customer = await unpaid_order(world)
    await idv(order_id, "passed")  # Awaiting Payment → Awaiting Fulfillment, by order-sync itself
    assert world.order(order_id)["status_id"] == 11

    report = await world.cycle()

    assert report.outcomes[Outcome.SETTLED] == 0 and not report.failed
    assert_still_owed(world, order_id, customer)
    [opened] = settle_exceptions(world, order_id)
    assert f"#{order_id}" in opened.summary and "Awaiting Fulfillment" in opened.summary
    assert world.store.order_binding(order_id).bc_status_id == 11
    world.bc.touch(order_id)  # read again (a note, a webhook): nothing opened twice, nothing paid
    await world.cycle()
    assert len(settle_exceptions(world, order_id)) == 1 and len(world.store.exceptions()) == 1
    assert_still_owed(world, order_id, customer)


async def test_an_id_check_through_manual_verification_seen_by_a_poll_is_not_a_payment(world, idv):
    order_id, customer = await unpaid_order(world)
    await idv(order_id, "started")  # → Manual Verification Required
    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 0
    assert world.store.order_binding(order_id).bc_status_id == 12
    await idv(order_id, "passed")  # → Awaiting Fulfillment

    report = await world.cycle()

    assert report.outcomes[Outcome.SETTLED] == 0 and not report.failed
    assert_still_owed(world, order_id, customer)
    assert len(settle_exceptions(world, order_id)) == 1
    await world.cycle()
    assert len(settle_exceptions(world, order_id)) == 1


async def test_an_id_check_through_manual_verification_between_two_polls_is_not_a_payment(world, idv):
    order_id, customer = await unpaid_order(world)
    await idv(order_id, "started")
    await idv(order_id, "passed")  # the poll saw Awaiting Payment, then Awaiting Fulfillment

    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 0
    assert_still_owed(world, order_id, customer)
    assert len(settle_exceptions(world, order_id)) == 1


async def test_the_merchant_marking_the_transfer_received_settles(world, idv):
    order_id, customer = await unpaid_order(world)
    world.set_status(order_id, 11)  # by hand: no ID check wrote it

    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 1
    assert world.sale(order_id)["status"] == "ONACCOUNT_CLOSED" and world.xs.customers[customer]["balance"] == 0
    assert settle_exceptions(world, order_id) == []


async def test_the_merchant_moving_it_back_and_forth_after_the_id_check_settles(world, idv):
    """Once the mirror saw the order back in Awaiting Payment after the ID check's move, the next move
    to Awaiting Fulfillment is the merchant's (the transfer arrived)."""
    order_id, customer = await unpaid_order(world)
    await idv(order_id, "passed")
    await world.cycle()
    world.set_status(order_id, 7)
    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 0
    world.set_status(order_id, 11)

    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 1
    assert world.sale(order_id)["status"] == "ONACCOUNT_CLOSED" and world.xs.customers[customer]["balance"] == 0


async def test_a_payment_captured_after_the_id_check_settles(world, idv):
    order_id, customer = await unpaid_order(world)
    await idv(order_id, "passed")
    await world.cycle()
    assert_still_owed(world, order_id, customer)
    world.clock.advance(1)
    world.bc.orders[order_id]["payment_status"] = "captured"
    world.bc.touch(order_id)

    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 1
    assert world.sale(order_id)["status"] == "ONACCOUNT_CLOSED" and world.xs.customers[customer]["balance"] == 0


async def test_a_new_order_the_id_check_passed_through_manual_verification_is_written_on_account(world, idv):
    """7 → 12 → 11 by the ID check before the mirror ever read the order: no payment came."""
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await idv(order_id, "started")
    await idv(order_id, "passed")
    await first_sale_on_account(world, order_id)


async def test_a_new_order_the_id_check_passed_straight_is_written_on_account(world, idv):
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await idv(order_id, "passed")
    await first_sale_on_account(world, order_id)


async def first_sale_on_account(world, order_id: int) -> None:
    assert world.order(order_id)["status_id"] == 11

    report = await world.cycle()

    assert report.outcomes[Outcome.CREATED] == 1 and not report.failed
    sale = world.sale(order_id)
    assert (sale["status"], sale["payments"]) == ("ONACCOUNT", [])
    assert world.xs.customers[sale["customer_id"]]["balance"] < 0
    [opened] = settle_exceptions(world, order_id)
    for words in (f"#{order_id}", "from Awaiting Payment to Awaiting Fulfillment", sale["invoice_number"]):
        assert words in opened.summary
    world.bc.touch(order_id)  # read again: nothing opened twice, nothing paid
    await world.cycle()
    assert len(world.store.exceptions()) == 1
    assert_still_owed(world, order_id, sale["customer_id"])


async def test_a_new_order_the_merchant_moved_by_hand_is_written_paid(world, idv):
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    world.set_status(order_id, 11)  # the transfer marked received before the first poll: no ID check

    assert (await world.cycle()).outcomes[Outcome.CREATED] == 1
    sale = world.sale(order_id)
    assert sale["status"] == "CLOSED" and len(sale["payments"]) == 1
    assert world.store.exceptions() == []


async def test_a_paid_new_order_reads_no_id_check_audit(world, idv, monkeypatch):
    reads = []
    monkeypatch.setattr(Store, "audit_chain", lambda *args: reads.append(args) or [])
    order_id = world.add_order([line("TEE-M", 2)], status_id=11, payment_status="captured")

    assert (await world.cycle()).outcomes[Outcome.CREATED] == 1
    assert world.sale(order_id)["status"] == "CLOSED" and reads == []


async def test_a_new_order_still_pending_payment_is_on_account_without_the_audit(world, idv, monkeypatch):
    """payment_status pending says unpaid itself: written on account as any such order, nothing asked."""
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="pending")
    await idv(order_id, "passed")
    reads = []
    monkeypatch.setattr(Store, "audit_chain", lambda *args: reads.append(args) or [])

    assert (await world.cycle()).outcomes[Outcome.CREATED] == 1
    assert (world.sale(order_id)["status"], reads, world.store.exceptions()) == ("ONACCOUNT", [], [])


async def test_without_id_verification_no_audit_is_read(world, monkeypatch):
    reads = []
    monkeypatch.setattr(Store, "audit_chain", lambda *args: reads.append(args) or [])
    order_id = world.add_order([line("TEE-M", 2)], status_id=11, payment_status="")

    assert (await world.cycle()).outcomes[Outcome.CREATED] == 1
    assert world.sale(order_id)["status"] == "CLOSED" and reads == []


async def test_a_payment_captured_after_the_first_sale_on_account_settles(world, idv):
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await idv(order_id, "started")
    await idv(order_id, "passed")
    await world.cycle()
    customer = world.sale(order_id)["customer_id"]
    world.clock.advance(1)
    world.bc.orders[order_id]["payment_status"] = "captured"
    world.bc.touch(order_id)

    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 1
    assert world.sale(order_id)["status"] == "ONACCOUNT_CLOSED" and world.xs.customers[customer]["balance"] == 0


@pytest.mark.parametrize("writes, moved_from", [
    ([(7, 12), (12, 11)], 7),  # through Manual Verification Required
    ([(7, 11)], 7),  # straight
    ([(1, 11)], 1),  # from Pending
    ([(7, 12), (9, 11)], None),  # someone moved it on from Manual Verification Required first
    ([(7, 12)], None),  # the ID check's last write is not the status the order has
    ([(9, 11)], None),  # from a status that says paid
    ([], None),  # no ID check wrote it
])
def test_whose_first_move_it_was(writes, moved_from):
    chain = [entry(i, *write) for i, write in enumerate(writes, start=1)]
    assert moved_unpaid_from(11, chain, frozenset({7})) == moved_from


def entry(entry_id: int, before: int, after: int) -> AuditEntry:
    return AuditEntry(id=entry_id, at=None, platform="", action="", before=str(before), after=str(after))


@pytest.mark.parametrize("last_seen, written, recorded, theirs", [
    (7, (7, 11), None, True),  # straight from Awaiting Payment
    (7, (12, 11), None, True),  # through Manual Verification Required, unseen
    (12, (12, 11), (9, 7, 12), True),  # through it, seen by a poll before the write
    (7, (9, 11), None, False),  # someone moved it to Awaiting Shipment (paid) first
    (7, (7, 12), None, False),  # the ID check's last write is not the status the order has
    (7, (7, 11), (13, 11, 7), False),  # the mirror saw it back in Awaiting Payment since
])
def test_whose_move_it_was(last_seen, written, recorded, theirs):
    # recorded: (audit id, before, after) of the mirror's last record; the write is audit entry 10.
    assert moved_by_id_check(11, last_seen, entry(10, *written),
                             None if recorded is None else entry(recorded[0], *recorded[1:])) is theirs
