"""An on-account sale is settled when its order is paid, not when it merely leaves Awaiting Payment:
back to Pending (not imported) nothing was paid, and the customer's balance stays owed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector.sync.order_mirror import Outcome
from sync_world import line


async def test_back_to_pending_does_not_settle_and_paid_later_does(world):
    # A bank transfer (an offline method: BigCommerce leaves payment_status empty), Awaiting Payment.
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await world.cycle()
    assert world.sale(order_id)["status"] == "ONACCOUNT"
    world.set_status(order_id, 1)  # the merchant moves it back to Pending: still nothing paid
    report = await world.cycle()
    assert world.bc.orders[order_id]["payment_status"] not in ("captured", "paid")
    assert report.outcomes[Outcome.SETTLED] == 0 and world.sale(order_id)["status"] == "ONACCOUNT"
    world.set_status(order_id, 11)  # then the transfer arrives: Awaiting Fulfillment
    report = await world.cycle()
    assert report.outcomes[Outcome.SETTLED] == 1 and world.sale(order_id)["status"] == "ONACCOUNT_CLOSED"


@pytest.mark.parametrize("moved_to", [12, 13], ids=["manual-verification", "disputed"])
async def test_a_move_to_a_status_that_does_not_say_paid_settles_nothing(world, moved_to):
    """An order whose payment is still pending, moved out of Awaiting Payment to a status that says
    nothing of a payment (an ID check puts it in Manual Verification Required, whether paid or not)
    is not paid: its sale stays ONACCOUNT and the customer still owes; the capture settles it."""
    order_id = world.add_order([line("TEE-M", 2)], status_id=7)  # payment_status pending
    await world.cycle()
    customer = world.sale(order_id)["customer_id"]
    owed = world.xs.customers[customer]["balance"]
    world.set_status(order_id, moved_to)
    report = await world.cycle()
    assert world.bc.orders[order_id]["payment_status"] == "pending"
    assert report.outcomes[Outcome.SETTLED] == 0 and world.sale(order_id)["status"] == "ONACCOUNT"
    assert world.sale(order_id)["payments"] == [] and world.xs.customers[customer]["balance"] == owed < 0
    assert not [e for e in world.store.audit_entries(order_id) if e.action == "settle_sale"]
    fresh = world.add_order([line("TEE-L", 2)], status_id=moved_to, payment_status="pending")
    await world.cycle()
    assert world.sale(fresh)["status"] == "ONACCOUNT"  # the same order, new: the two rules agree
    world.clock.advance(1)
    world.bc.orders[order_id]["payment_status"] = "captured"
    world.bc.touch(order_id)
    report = await world.cycle()
    assert report.outcomes[Outcome.SETTLED] == 1 and world.sale(order_id)["status"] == "ONACCOUNT_CLOSED"
    assert world.xs.customers[customer]["balance"] == owed  # the fresh order's, the same customer's


async def test_the_settle_audit_says_the_payment_status_bigcommerce_gave(world):
    """A bank transfer marked received (Awaiting Payment → Awaiting Fulfillment, payment_status left
    empty) settles; its audit entry says what BigCommerce said, not "captured"."""
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await world.cycle()
    world.set_status(order_id, 11)
    report = await world.cycle()
    assert report.outcomes[Outcome.SETTLED] == 1
    [settle] = [e for e in world.store.audit_entries(order_id) if e.action == "settle_sale"]
    assert "payment_status ''" in settle.reason and "captured" not in settle.reason


def kept(world, order_id: int) -> Decimal:
    """What X-Series shows received for the order: the payments of its sales and returns not voided."""
    sales = world.xs.sales_of_order(order_id) + world.xs.sales_of_order(order_id, returns=True)
    return sum((Decimal(str(p["amount"])) for s in sales if s["status"] != "VOIDED" for p in s["payments"]),
               Decimal(0))


def settle_exceptions(world, order_id: int) -> list:
    return [e for e in world.store.exceptions() if e.bc_order_id == order_id and e.kind == "settle"]


async def test_an_unpaid_order_marked_refunded_is_not_recorded_as_paid(world):
    order_id = world.add_order([line("TEE-M", 2)], status_id=7)  # Awaiting Payment: 44 owed
    await world.cycle()
    world.set_status(order_id, 4)  # marked Refunded by hand, no refund object, payment still pending
    report = await world.cycle()
    # Was it paid before the refund? BigCommerce does not say: the sale stays owed, a person looks.
    assert report.outcomes[Outcome.SETTLED] == 0 and world.sale(order_id)["status"] == "ONACCOUNT"
    assert kept(world, order_id) == 0 and len(settle_exceptions(world, order_id)) == 1


async def test_a_refund_of_the_store_credit_part_of_an_unpaid_order_settles_nothing(world):
    order_id = world.add_order([line("MUG-01", 1, "100.00")], tax_rate=Decimal(0), status_id=7,
                               store_credit_amount=Decimal("30.00"))  # 30 paid by store credit, 70 owed
    await world.cycle()
    world.clock.advance(5)
    world.bc.refund(order_id, [{"item_type": "ORDER", "requested_amount": "30.00"}],
                    payments=[{"provider_id": "storecredit", "amount": "30.00"}])  # → Partially Refunded
    report = await world.cycle()
    # BigCommerce kept 30 - 30 and the 70 is still owed; the return is written as for any sale.
    assert report.outcomes[Outcome.SETTLED] == 0 and world.sale(order_id)["status"] == "ONACCOUNT"
    assert kept(world, order_id) == 0 and len(world.xs.sales_of_order(order_id, returns=True)) == 1
    assert len(settle_exceptions(world, order_id)) == 1


@pytest.mark.parametrize("payment_status", ["pending", "declined", ""])
async def test_a_move_to_awaiting_fulfillment_settles_whatever_payment_status_was_left(world, payment_status):
    """Awaiting Fulfillment means "payment has been confirmed": staff move a bank-transfer order there
    once the money arrived, leaving payment_status as it was (pending; declined, the card that failed
    first). The on-account sale is settled: nothing else would ever settle it."""
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status=payment_status)
    await world.cycle()
    customer = world.sale(order_id)["customer_id"]
    assert world.sale(order_id)["status"] == "ONACCOUNT" and world.xs.customers[customer]["balance"] < 0
    world.set_status(order_id, 11)
    report = await world.cycle()
    assert report.outcomes[Outcome.SETTLED] == 1 and world.sale(order_id)["status"] == "ONACCOUNT_CLOSED"
    assert world.xs.customers[customer]["balance"] == 0


async def test_a_move_to_awaiting_fulfillment_after_manual_verification_settles(world):
    """Awaiting Payment, then an ID check's Manual Verification Required (seen by a poll: no payment),
    then Awaiting Fulfillment once the transfer arrived: settled then, not left owing for ever."""
    order_id = world.add_order([line("TEE-M", 2)], status_id=7)  # payment_status pending
    await world.cycle()
    world.set_status(order_id, 12)
    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 0
    world.set_status(order_id, 11)
    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 1
    assert world.sale(order_id)["status"] == "ONACCOUNT_CLOSED"
