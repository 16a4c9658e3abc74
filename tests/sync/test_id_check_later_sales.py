"""An unpaid order's sale that order-sync's own ID check kept on account stays on account in every
later sale of the order: the one written when the order re-opens after a failed check's void, the one
an edit's resync writes again, the first one whose create answer was lost, and the first one written
after ID verification was switched off. Each has a `settle` exception naming the sale that is owed."""

from __future__ import annotations

import pytest

from connector.errors import TransientApiError
from connector.idv.service import IdvService
from connector.idv.stages import CheckEvent, Source, stage_of_event
from connector.runtime import Runtime
from connector.sandbox.faults import FaultConfig
from connector.store.repository import Store
from connector.sync.order_mirror import Outcome
from sync_world import line, lose_next_sale_answer


async def id_checks(world, runtime: Runtime):
    """order-sync's own ID check (the real engine) on the runtime's store and client."""
    settings = runtime.settings
    settings = settings.model_copy(update={"id_verification": settings.id_verification.model_copy(
        update={"enabled": True})})
    runtime.settings = settings
    service = await IdvService.start(settings, runtime.bc, runtime.store)

    async def check(order_id: int, event: str, check_id: str = "chk-1") -> None:
        world.clock.advance(1)
        decision = await service.engine.handle(CheckEvent(
            order_id=order_id, event=event, stage=stage_of_event(event), check_id=check_id,
            occurred_at=world.clock.now(), source=Source.WEBHOOK))
        assert decision.outcome.value == "written", decision.reason

    return check


async def kept_by_the_check(world):
    """A bank transfer mirrored on account whose ID check then passed (Awaiting Fulfillment, no payment):
    its sale kept on account. (runtime, check, order id)."""
    runtime = await world.runtime()
    check = await id_checks(world, runtime)
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await world.cycle()
    await check(order_id, "passed")
    await world.cycle()
    return runtime, check, order_id


def settle_summaries(world, order_id: int, store: Store | None = None) -> list[str]:
    """The order's open settle exceptions."""
    return [e.summary for e in (store or world.store).exceptions() if e.bc_order_id == order_id and e.kind == "settle"]


def assert_owed(world, order_id: int, sale: dict, store: Store | None = None) -> None:
    assert (sale["status"], sale["payments"]) == ("ONACCOUNT", [])
    assert world.xs.customers[sale["customer_id"]]["balance"] < 0
    summaries = settle_summaries(world, order_id, store)
    assert any(sale["invoice_number"] in s for s in summaries), summaries


async def test_the_sale_of_an_order_re_opened_by_a_retried_id_check_stays_on_account(world):
    """A bank transfer: the check fails (Declined, the sale voided), the retry passes (Awaiting
    Fulfillment): the order re-opens with no payment, so its new sale is on account."""
    check = await id_checks(world, await world.runtime())
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await world.cycle()
    assert world.sale(order_id)["status"] == "ONACCOUNT"
    await check(order_id, "started")
    await world.cycle()
    await check(order_id, "failed")
    assert world.order(order_id)["status_id"] == 6
    await world.cycle()
    assert world.sale(order_id)["status"] == "VOIDED"
    await check(order_id, "started", "chk-2")  # Declined → Manual Verification Required: re-opened

    report = await world.cycle()

    assert report.outcomes[Outcome.CREATED] == 1 and not report.failed
    first, second = world.sales(order_id)
    assert (first["status"], second["invoice_number"]) == ("VOIDED", f"BC-{order_id}-2")
    assert_owed(world, order_id, second)
    await check(order_id, "passed", "chk-2")  # → Awaiting Fulfillment: no payment either
    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 0
    assert_owed(world, order_id, world.sales(order_id)[-1])
    opened = settle_summaries(world, order_id)
    # One exception for the one sale owed (BC-N-2's, opened when it was written on account), not a
    # second one for the move to Awaiting Fulfillment: two would read as two payments to record.
    assert len([s for s in opened if f"BC-{order_id}-2" in s]) == 1, opened
    world.bc.touch(order_id)  # read again: nothing paid, nothing opened twice
    await world.cycle()
    assert settle_summaries(world, order_id) == opened
    assert_owed(world, order_id, world.sales(order_id)[-1])


async def test_an_order_re_opened_with_its_payment_captured_is_written_paid(world):
    check = await id_checks(world, await world.runtime())
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await world.cycle()
    await check(order_id, "failed")
    await world.cycle()
    world.bc.orders[order_id]["payment_status"] = "captured"
    await check(order_id, "passed", "chk-2")

    assert (await world.cycle()).outcomes[Outcome.CREATED] == 1
    sale = world.sales(order_id)[-1]
    assert sale["status"] == "CLOSED" and len(sale["payments"]) == 1


async def kept_on_account_then_edited(world):
    """A resyncing pair's bank transfer the ID check moved to Awaiting Fulfillment (its sale kept on
    account), then edited: (runtime, order id) before the cycle that resyncs it."""
    runtime = await world.new_runtime(on_edit="resync")
    check = await id_checks(world, runtime)
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await world.cycle(runtime=runtime)
    await check(order_id, "passed")
    await world.cycle(runtime=runtime)
    assert world.sale(order_id)["status"] == "ONACCOUNT"
    world.edit_lines(order_id, [line("TEE-M", 3)])
    return runtime, order_id


async def test_a_resynced_edit_of_a_sale_the_id_check_kept_on_account_stays_on_account(world):
    runtime, order_id = await kept_on_account_then_edited(world)

    report = await world.cycle(runtime=runtime)

    assert report.outcomes[Outcome.CREATED] == 1 and not report.failed
    first, second = world.sales(order_id)
    assert (first["status"], second["invoice_number"]) == ("VOIDED", f"BC-{order_id}-2")
    assert_owed(world, order_id, second, runtime.store)


async def test_a_resynced_edit_with_the_transfer_marked_received_is_written_paid(world):
    """The merchant's own move to Awaiting Fulfillment is the payment, edited in the same poll or not."""
    runtime = await world.new_runtime(on_edit="resync")
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await world.cycle(runtime=runtime)
    world.bc.orders[order_id]["status_id"] = 11
    world.edit_lines(order_id, [line("TEE-M", 3)])

    assert (await world.cycle(runtime=runtime)).outcomes[Outcome.CREATED] == 1
    sale = world.sales(order_id)[-1]
    assert sale["status"] == "CLOSED" and len(sale["payments"]) == 1
    assert runtime.store.exceptions() == []


@pytest.mark.parametrize("lag", [0, 60])
async def test_a_first_sale_on_account_whose_answer_was_lost_is_still_reported(world_factory, lag):
    world = world_factory(xs_options={"search_lag_seconds": lag})
    check = await id_checks(world, await world.runtime())
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await check(order_id, "started")
    await check(order_id, "passed")
    lose_next_sale_answer(world)
    await world.cycle()
    await world.cycle(advance=3600)

    sale = world.sale(order_id)
    assert_owed(world, order_id, sale)
    assert len(settle_summaries(world, order_id)) == 1


async def test_a_first_sale_after_id_verification_was_switched_off_is_on_account(world):
    runtime = await world.runtime()
    check = await id_checks(world, runtime)
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await check(order_id, "passed")  # 7 → 11 by order-sync's own ID check, before the mirror read it
    settings = runtime.settings
    runtime.settings = settings.model_copy(update={"id_verification": settings.id_verification.model_copy(
        update={"enabled": False})})

    assert (await world.cycle()).outcomes[Outcome.CREATED] == 1
    assert_owed(world, order_id, world.sale(order_id))


async def test_without_any_id_check_write_a_new_order_reads_no_audit_chain(world, monkeypatch):
    """ID verification off and never written for the pair: the first sale costs no audit read per order."""
    await world.runtime()
    reads = []
    monkeypatch.setattr(Store, "audit_chain", lambda *args: reads.append(args) or [])
    ids = [world.add_order([line("TEE-M", 1)], status_id=11, payment_status="") for _ in range(3)]

    assert (await world.cycle()).outcomes[Outcome.CREATED] == 3
    assert [world.sale(i)["status"] for i in ids] == ["CLOSED"] * 3 and reads == []


async def test_a_resync_whose_void_answer_was_lost_stays_on_account(world):
    """The void landed, its answer lost: the recovery binds it voided (recover_void, which keeps the
    status the sale had) and the next generation is still written on account."""
    runtime, order_id = await kept_on_account_then_edited(world)
    world.xs.faults.reconfigure(FaultConfig(share_lost_write_response=1.0, path_filter="register_sales"))
    assert (await world.cycle(runtime=runtime)).failed
    world.xs.faults.reconfigure(FaultConfig())
    for _ in range(3):
        await world.cycle(runtime=runtime, advance=3600)

    assert [e.action for e in runtime.store.audit_entries(order_id) if e.before == "ONACCOUNT"
            and e.action in ("void_sale", "recover_void")] == ["recover_void"]
    live = [s for s in world.sales(order_id) if s["status"] != "VOIDED"]
    assert [s["invoice_number"] for s in live] == [f"BC-{order_id}-2"], world.sales(order_id)
    assert_owed(world, order_id, live[0], runtime.store)


async def test_a_transfer_cancelled_then_restored_by_the_merchant_when_it_arrived_is_written_paid(world):
    """No ID check at all: Awaiting Payment (on account) → Cancelled (voided) → the transfer arrives and
    the merchant restores the order to Awaiting Fulfillment. That move is the payment, as it is without
    the cancel (paid_since): the new sale is written paid, and nobody is asked to record a payment."""
    await world.runtime()
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await world.cycle()
    world.set_status(order_id, 5)
    await world.cycle()
    world.set_status(order_id, 11)
    await world.cycle()

    voided, sale = world.sales(order_id)
    assert voided["status"] == "VOIDED" and sale["invoice_number"].endswith("-2")
    assert sale["status"] == "CLOSED" and sale["payments"]
    assert settle_summaries(world, order_id) == []


async def test_a_first_sale_whose_write_failed_then_was_paid_leaves_no_settle_exception(world):
    """The ID check moved a new bank transfer to Awaiting Fulfillment: its first sale is to be written
    on account. The write fails (X-Series 503); before the retry the payment is captured: the sale is
    written paid, and no exception asks for a payment to be recorded (a second payment)."""
    runtime = await world.runtime()
    check = await id_checks(world, runtime)
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await check(order_id, "passed")
    written = runtime.xs.create_sale_document

    async def down(*args, **kwargs):  # refused before it landed: nothing to look up
        raise TransientApiError("503 Service Unavailable", api="xseries", method="POST", path="/api/register_sales")

    runtime.xs.create_sale_document = down
    report = await world.cycle()
    assert report.failed and world.sales(order_id) == []
    runtime.xs.create_sale_document = written
    world.bc.orders[order_id]["payment_status"] = "captured"
    world.bc.touch(order_id)
    world.clock.advance(3600)
    await world.cycle()

    sale = world.sale(order_id)
    assert sale["status"] == "CLOSED" and sale["payments"]
    assert settle_summaries(world, order_id) == []


async def kept_then_cancelled(world) -> int:
    """A bank transfer the ID check moved to Awaiting Fulfillment (kept on account, asked for), then
    cancelled by the merchant (voided): the order id."""
    _, check, order_id = await kept_by_the_check(world)
    assert_owed(world, order_id, world.sale(order_id))
    world.set_status(order_id, 5)
    await world.cycle()
    assert world.sale(order_id)["status"] == "VOIDED"
    return order_id


async def test_a_transfer_kept_on_account_cancelled_restored_then_marked_received_settles(world):
    """After the cancel the merchant restores the order to Awaiting Payment (BC-N-2 on account, rightly),
    then marks the transfer received: that move is the merchant's, not the old ID-check write's."""
    order_id = await kept_then_cancelled(world)
    world.set_status(order_id, 7)
    await world.cycle()
    assert world.sales(order_id)[-1]["status"] == "ONACCOUNT"
    world.set_status(order_id, 11)

    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 1
    sale = world.sales(order_id)[-1]
    assert (sale["invoice_number"], sale["status"]) == (f"BC-{order_id}-2", "ONACCOUNT_CLOSED")
    assert world.xs.customers[sale["customer_id"]]["balance"] == 0
    assert settle_summaries(world, order_id) == []


async def test_a_transfer_kept_on_account_cancelled_then_restored_straight_to_paid_is_written_paid(world):
    order_id = await kept_then_cancelled(world)
    world.set_status(order_id, 11)  # the transfer arrived: restored by the merchant

    assert (await world.cycle()).outcomes[Outcome.CREATED] == 1
    sale = world.sales(order_id)[-1]
    assert sale["invoice_number"] == f"BC-{order_id}-2" and sale["status"] == "CLOSED" and sale["payments"]
    assert settle_summaries(world, order_id) == []


async def test_the_settle_exception_of_a_sale_voided_by_a_cancel_is_resolved(world):
    order_id = await kept_then_cancelled(world)

    assert settle_summaries(world, order_id) == []
    resolved = [e for e in world.store.exceptions(open_only=False) if e.bc_order_id == order_id]
    assert [(e.kind, e.resolved_by) for e in resolved] == [("settle", f"order-sync: sale BC-{order_id} voided")]


async def test_the_settle_exception_of_a_sale_paid_later_is_resolved(world):
    _, check, order_id = await kept_by_the_check(world)
    world.bc.orders[order_id]["payment_status"] = "captured"
    world.bc.touch(order_id)

    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 1
    assert settle_summaries(world, order_id) == []
    resolved = world.store.exceptions(open_only=False)
    assert [e.resolved_by for e in resolved] == [f"order-sync: sale BC-{order_id} settled"]


async def test_only_the_replaced_sale_s_exception_is_resolved_by_a_resync(world):
    """The resync voids BC-N (its ask is over) and writes BC-N-2 on account (asked for): one ask, for
    the sale owed now."""
    runtime, order_id = await kept_on_account_then_edited(world)

    await world.cycle(runtime=runtime)

    summaries = settle_summaries(world, order_id, runtime.store)
    assert len(summaries) == 1 and f"BC-{order_id}-2" in summaries[0], summaries


async def test_a_sale_paid_in_x_series_by_hand_then_captured_in_bigcommerce_is_not_paid_twice(world):
    """Staff took the transfer on the sale in X-Series (ONACCOUNT_CLOSED), then also marked the order's
    payment captured in BigCommerce: the sale is bound as paid, no second payment is posted."""
    _, check, order_id = await kept_by_the_check(world)
    sale = world.sale(order_id)
    sale["status"], sale["state"] = "ONACCOUNT_CLOSED", "closed"  # by hand in the POS
    by_hand = list(sale["payments"])
    world.bc.orders[order_id]["payment_status"] = "captured"
    world.bc.touch(order_id)

    report = await world.cycle()

    assert report.outcomes[Outcome.SETTLED] == 1 and not report.failed
    assert world.store.failure(order_id) is None
    assert world.sale(order_id)["payments"] == by_hand
    assert world.store.count_audit("xseries", "settle_sale") == 0
    assert world.store.count_audit("connector", "settled_in_xseries") == 1
    assert settle_summaries(world, order_id) == []
    world.bc.touch(order_id)
    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 0


async def test_an_id_check_passed_while_the_first_sale_was_written_is_no_payment(world):
    """The ID check's own lock is not the order's: it moved the bank transfer 7 → 11 while the mirror
    was writing its first sale from the copy it read before (status 7). That sale, audited after the
    check's write with status 7, is no move of the merchant's: the next read keeps the sale on account."""
    runtime = await world.runtime()
    check = await id_checks(world, runtime)
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    create_sale, fired = runtime.xs.create_sale_document, []

    async def id_check_meanwhile(body, **options):
        if not fired:
            fired.append(1)
            await check(order_id, "passed")
        return await create_sale(body, **options)

    runtime.xs.create_sale_document = id_check_meanwhile
    await world.cycle()
    assert fired and world.order(order_id)["status_id"] == 11 and world.sale(order_id)["status"] == "ONACCOUNT"

    report = await world.cycle()

    assert report.outcomes[Outcome.SETTLED] == 0
    assert_owed(world, order_id, world.sale(order_id))


async def test_a_settle_recovered_after_a_crash_ends_its_settle_exception(world):
    """The ID check kept the sale on account (a settle exception asks for the payment); the transfer
    arrives, the payment write lands and the process dies before its answer. The recovery binds the
    sale closed: the exception asking for the payment is over too."""
    from sync_world import Crash

    runtime, check, order_id = await kept_by_the_check(world)
    assert len(settle_summaries(world, order_id)) == 1
    world.bc.orders[order_id]["payment_status"] = "captured"
    world.bc.touch(order_id)
    update = runtime.xs.update_sale

    async def applied_then_crashed(body, **options):
        await update(body, **options)
        raise Crash()

    runtime.xs.update_sale = applied_then_crashed
    with pytest.raises(Crash):
        await world.cycle()
    runtime.xs.update_sale = update
    world.clock.advance(600)
    world.bc.touch(order_id)
    await world.cycle()

    assert world.sale(order_id)["status"] == "ONACCOUNT_CLOSED" and settle_summaries(world, order_id) == []
