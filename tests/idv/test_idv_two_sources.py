"""Real ID reports each step twice: by webhook (occurred_at, Real ID's clock: when it happened) and in
the order's metafields (date_modified, BigCommerce's clock: when Real ID's copy was stored, seconds
later). Times are compared on one clock at a time, and the second copy of a step writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.idv.decision import Outcome


def realid(world, order_id: int, status: str, check_id: str | None = None) -> None:
    """Real ID stores a step in the order's metafields now (BigCommerce stamps date_modified now)."""
    if check_id is not None:
        world.bc.set_metafield(order_id, "realid", "check_id", check_id)
    world.bc.set_metafield(order_id, "realid", "verification_status", status)


async def poll(world):
    world.clock.advance(30)
    return await world.service.poller.poll()


async def test_a_retry_started_before_the_failed_checks_metafield_was_stamped_is_the_new_check(world):
    await world.start()
    order = world.add_order(status_id=11)
    await world.event(order, "started", "chk-A")
    failed_at = world.clock.now() + timedelta(seconds=10)
    world.clock.advance(13)
    realid(world, order, "failed", "chk-A")  # stored 3 s after the failure (its webhook never came)
    assert (await poll(world)).outcomes == {Outcome.WRITTEN: 1} and world.status(order) == 6

    # Real ID's automatic retry started a second after the failure: earlier than the metafield's
    # stamp, yet later than anything chk-A's webhooks said.
    decision = await world.event(order, "started", "chk-B", at=failed_at + timedelta(seconds=1), advance=0)
    assert decision.outcome is Outcome.WRITTEN and world.status(order) == 12
    assert (await world.event(order, "passed", "chk-B", advance=60)).outcome is Outcome.WRITTEN
    realid(world, order, "verified", "chk-B")
    assert (await poll(world)).outcomes == {Outcome.UNCHANGED: 1}
    assert world.status(order) == 11
    assert [s for _, s in world.puts()] == [12, 6, 12, 11]


async def test_a_new_check_that_first_seemed_older_is_taken_once_an_event_of_it_is_newer(world):
    """The failed check was seen in its metafield only: its stamp is the one time to judge a webhook
    by. The retry's start, seemingly older, is ignored, but not for good: its verdict is newer."""
    await world.start()
    order = world.add_order(status_id=11)
    world.clock.advance(60)
    realid(world, order, "failed", "chk-A")
    stamped = world.clock.now()
    await poll(world)
    assert world.status(order) == 6
    decision = await world.event(order, "started", "chk-B", at=stamped - timedelta(seconds=2), advance=0)
    assert decision.outcome is Outcome.SKIPPED_STALE and world.status(order) == 6
    decision = await world.event(order, "passed", "chk-B", advance=60)
    assert decision.outcome is Outcome.WRITTEN and world.status(order) == 11
    # chk-A is replaced now: its late events are stale.
    decision = await world.event(order, "failed", "chk-A", at=stamped - timedelta(seconds=1))
    assert decision.outcome is Outcome.SKIPPED_STALE and "replaced by check 'chk-B'" in decision.reason
    assert world.status(order) == 11


async def test_a_late_old_check_stays_stale_whatever_clock_the_latest_check_was_last_seen_on(world):
    await world.start()
    order = world.add_order(status_id=11)
    t0 = world.clock.now()
    await world.event(order, "started", "chk-2", at=t0 + timedelta(minutes=5))
    world.clock.advance(600)
    realid(world, order, "verified", "chk-2")
    await poll(world)
    assert world.status(order) == 11
    # chk-1 ran before chk-2 started; its webhooks arrive late, the second one newer than the first.
    for name, minutes in (("started", 1), ("failed", 3)):
        decision = await world.event(order, name, "chk-1", at=t0 + timedelta(minutes=minutes))
        assert decision.outcome is Outcome.SKIPPED_STALE
    assert world.status(order) == 11 and [s for _, s in world.puts()] == [12, 11]


async def test_the_metafield_copy_of_a_verdict_applied_does_not_undo_a_change_by_hand(world):
    await world.start()
    order = world.add_order(status_id=11)
    world.bc.set_metafield(order, "realid", "check_id", "chk-A")
    await world.event(order, "started", "chk-A")
    assert (await world.event(order, "failed", "chk-A")).outcome is Outcome.WRITTEN
    world.clock.advance(1)
    realid(world, order, "failed")  # Real ID's copy of the same verdict, stamped a second later
    world.clock.advance(30)
    world.bc.set_status(order, 11)  # staff accept the order all the same
    report = await poll(world)
    assert report.outcomes == {Outcome.UNCHANGED: 1}
    assert world.status(order) == 11 and [s for _, s in world.puts()] == [12, 6]
    [entry] = [e for e in world.audit(order) if e.action == "idv_unchanged"]
    assert entry.before == entry.after == "11" and "failed already" in entry.reason
    # The check goes on: a new stage of it is written again.
    decision = await world.event(order, "approved", "chk-A")
    assert decision.outcome is Outcome.UNCHANGED  # 11 is the passed target: nothing to send
    decision = await world.event(order, "rejected", "chk-A")
    assert decision.outcome is Outcome.WRITTEN and world.status(order) == 6


async def test_the_webhook_copy_of_a_verdict_read_in_the_metafields_first_writes_nothing(world):
    await world.start()
    order = world.add_order(status_id=11)
    world.clock.advance(5)
    realid(world, order, "failed", "chk-A")
    stamped = world.clock.now()
    await poll(world)
    assert world.status(order) == 6
    world.bc.set_status(order, 11)
    # The webhook, delayed by the sender's retries, on a Real ID clock a second ahead of BigCommerce's.
    decision = await world.event(order, "failed", "chk-A", at=stamped + timedelta(seconds=1), advance=0)
    assert decision.outcome is Outcome.UNCHANGED and "failed already" in decision.reason
    assert world.status(order) == 11 and [s for _, s in world.puts()] == [6]


async def test_a_metafield_stored_before_the_webhooks_verdict_happened_reports_an_earlier_step(world):
    """The poll read the metafield between Real ID's copies of two steps: the one it shows was stored
    before the verdict the webhook brought happened, so it is older, though newer than the
    metafield read before it."""
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "pending", "chk-A")
    await poll(world)
    assert world.status(order) == 12
    world.clock.advance(60)
    realid(world, order, "in_review")  # photos submitted; stored now
    world.clock.advance(5)
    assert (await world.event(order, "rejected", "chk-A", advance=0)).outcome is Outcome.WRITTEN
    decision = (await poll(world)).outcomes
    assert decision == {Outcome.SKIPPED_STALE: 1}
    assert world.status(order) == 6


async def test_a_submitted_webhook_retried_after_the_verdict_seen_in_the_metafield_does_not_undo_it(world):
    """The "submitted" webhook got a 503; the verdict's webhook was lost, its metafield was read. Real
    ID's retry of "submitted" (later than "started", earlier than the verdict's stamp) reopens nothing."""
    await world.start()
    order = world.add_order(status_id=1)
    started_at = world.clock.now()
    await world.event(order, "started", "chk-1", at=started_at, advance=0)
    world.clock.advance(62)
    realid(world, order, "verified", "chk-1")
    await poll(world)
    assert world.status(order) == 11
    decision = await world.event(order, "submitted", "chk-1", at=started_at + timedelta(seconds=60), advance=60)
    assert decision.outcome is Outcome.SKIPPED_STALE and "verdict already" in decision.reason
    await poll(world)
    assert world.status(order) == 11
    assert world.puts() == [(order, 12), (order, 11)]


async def test_a_step_stamped_in_the_same_second_as_its_checks_verdict_and_delivered_after_it_is_stale(world):
    await world.start()
    order = world.add_order(status_id=1)
    await world.event(order, "started", "chk-1")
    same_second = world.clock.now().replace(microsecond=0) + timedelta(seconds=20)
    assert (await world.event(order, "passed", "chk-1", at=same_second, advance=30)).outcome is Outcome.WRITTEN
    decision = await world.event(order, "submitted", "chk-1", at=same_second)
    assert decision.outcome is Outcome.SKIPPED_STALE and world.status(order) == 11
    # A retry by the customer is a new check: it starts over.
    assert (await world.event(order, "started", "chk-2")).outcome is Outcome.WRITTEN
    assert world.status(order) == 12


async def a_check_that_failed_then_a_retry_started(world) -> tuple[int, object]:
    """Check A fails (webhook); Real ID's automatic retry, check B, starts a second later (webhook)."""
    await world.start()
    order = world.add_order(status_id=11)
    await world.event(order, "started", "chk-A", advance=0)
    world.clock.advance(60)
    failed_at = world.clock.now()
    await world.event(order, "failed", "chk-A", at=failed_at, advance=0)
    await world.event(order, "started", "chk-B", at=failed_at + timedelta(seconds=1), advance=1)
    assert world.status(order) == 12
    return order, failed_at


async def test_the_previous_checks_verdict_stored_after_the_retry_started_is_not_the_retrys(world):
    """A's `failed` copy is stored a second after B started, when check_id says B already: it is not
    B's verdict (B's own comes after its start), so the customer verifying stays at 12, and B's
    later steps and verdict count."""
    order, _ = await a_check_that_failed_then_a_retry_started(world)
    world.clock.advance(1)
    realid(world, order, "failed", "chk-B")  # check_id: B's start; the status: A's copy, stored late
    assert (await poll(world)).outcomes == {Outcome.SKIPPED_STALE: 1}
    assert world.status(order) == 12 and "previous check" in world.audit(order)[-1].reason
    assert (await poll(world)).already_handled == 1  # the overlap's re-read decides nothing again
    assert (await world.event(order, "submitted", "chk-B", advance=30)).outcome is Outcome.UNCHANGED
    assert (await world.event(order, "passed", "chk-B", advance=30)).outcome is Outcome.WRITTEN
    assert world.status(order) == 11 and [s for _, s in world.puts()] == [12, 6, 12, 11]


async def test_the_previous_checks_verdict_read_before_the_retrys_start_arrived_does_not_hold_it(world):
    """The other order of arrival: the poll reads A's late copy under check_id B before B's `started`
    webhook arrives, and takes it for B's. B's start, in the same seconds, reopens B."""
    await world.start()
    order = world.add_order(status_id=11)
    await world.event(order, "started", "chk-A", advance=0)
    world.clock.advance(60)
    failed_at = world.clock.now()
    await world.event(order, "failed", "chk-A", at=failed_at, advance=0)
    world.clock.advance(2)
    realid(world, order, "failed", "chk-B")
    await poll(world)
    assert world.status(order) == 6
    decision = await world.event(order, "started", "chk-B", at=failed_at + timedelta(seconds=1), advance=0)
    assert decision.outcome is Outcome.WRITTEN and world.status(order) == 12
    assert (await poll(world)).already_handled == 1 and world.status(order) == 12
    assert (await world.event(order, "failed", "chk-B", advance=60)).outcome is Outcome.WRITTEN
    assert world.status(order) == 6


async def test_the_retrys_own_verdict_read_only_in_the_metafield_applies(world):
    """B started by webhook; its verdict's webhook was lost. Its metafield, stored well after B
    started, is B's verdict."""
    order, _ = await a_check_that_failed_then_a_retry_started(world)
    world.clock.advance(1)
    world.bc.set_metafield(order, "realid", "check_id", "chk-B")
    world.clock.advance(90)
    realid(world, order, "verified")
    assert (await poll(world)).outcomes == {Outcome.WRITTEN: 1}
    assert world.status(order) == 11


async def test_without_webhooks_a_retrys_start_and_verdict_in_one_poll_apply(world):
    """Lower plans have no webhooks: the poll alone sees check B, started and failed again (or
    passed) between two polls."""
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "failed", "chk-A")
    await poll(world)
    assert world.status(order) == 6
    world.clock.advance(1)
    realid(world, order, "failed", "chk-B")  # B's id and its verdict in the same second
    assert (await poll(world)).outcomes == {Outcome.UNCHANGED: 1}
    assert [e.target_id for e in world.audit(order)] == ["chk-A", "chk-B"]
    realid(world, order, "pending", "chk-C")
    world.clock.advance(1)
    realid(world, order, "verified")
    assert (await poll(world)).outcomes == {Outcome.WRITTEN: 1}
    assert world.status(order) == 11


@pytest.mark.parametrize(("verdict", "status"), [("verified", 11), ("failed", 6)])
async def test_the_retrys_verdict_stored_a_second_after_its_submit_applies(world, verdict, status):
    """B's `submitted` webhook, then Real ID's automatic verdict stored a second later, its webhook
    lost: the window runs from B's start, not its last step. A pass is no copy of A's fail; a fail, a
    minute after B started, is B's own too, not A's copy."""
    order, _ = await a_check_that_failed_then_a_retry_started(world)
    world.clock.advance(1)
    world.bc.set_metafield(order, "realid", "check_id", "chk-B")
    assert (await world.event(order, "submitted", "chk-B", advance=60)).outcome is Outcome.UNCHANGED
    world.clock.advance(1)
    realid(world, order, verdict)
    assert (await poll(world)).outcomes == {Outcome.WRITTEN: 1}
    assert world.status(order) == status


async def test_the_retrys_pass_applies_with_real_ids_clock_ahead(world):
    """Real ID's clock 5 s ahead of BigCommerce's: B's pass is stored 5 s after B's submit by
    BigCommerce's clock, in the same second by Real ID's. It is B's, not A's copy."""
    await world.start()
    order = world.add_order(status_id=11)
    await world.event(order, "started", "chk-A", advance=0)
    world.clock.advance(60)
    ahead = world.clock.now() + timedelta(seconds=5)
    await world.event(order, "failed", "chk-A", at=ahead, advance=0)
    await world.event(order, "started", "chk-B", at=ahead + timedelta(seconds=1), advance=1)
    world.clock.advance(1)
    world.bc.set_metafield(order, "realid", "check_id", "chk-B")
    world.clock.advance(60)
    await world.event(order, "submitted", "chk-B", at=world.clock.now() + timedelta(seconds=5), advance=0)
    world.clock.advance(5)
    realid(world, order, "verified")
    assert (await poll(world)).outcomes == {Outcome.WRITTEN: 1}
    assert world.status(order) == 11


async def test_a_verdict_skipped_as_the_previous_checks_copy_applies_when_the_metafield_changes_again(world):
    """Without a webhook for B's verdict: A's copy stored a second after B started is skipped, and
    B's own verdict, stored later in the same metafield, applies."""
    order, _ = await a_check_that_failed_then_a_retry_started(world)
    world.clock.advance(1)
    realid(world, order, "failed", "chk-B")
    assert (await poll(world)).outcomes == {Outcome.SKIPPED_STALE: 1} and world.status(order) == 12
    world.clock.advance(120)
    realid(world, order, "failed")
    assert (await poll(world)).outcomes == {Outcome.WRITTEN: 1} and world.status(order) == 6
