"""The rules against the BigCommerce simulator: stages, Order Protection, the latest check, disabled."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from connector.idv.decision import Outcome
from idv_world import PROTECTED


async def test_each_stage_sets_its_target_status(world):
    await world.start()
    order = world.add_order(status_id=11)
    assert (await world.event(order, "started", "chk-1")).outcome is Outcome.WRITTEN
    assert world.status(order) == 12
    # Submitting photos is still "in progress": the order is there already, nothing is sent.
    assert (await world.event(order, "submitted", "chk-1")).outcome is Outcome.UNCHANGED
    assert (await world.event(order, "passed", "chk-1")).outcome is Outcome.WRITTEN
    assert world.status(order) == 11
    other = world.add_order(status_id=11)
    await world.event(other, "started", "chk-9")
    assert (await world.event(other, "failed", "chk-9")).outcome is Outcome.WRITTEN
    assert world.status(other) == 6
    assert world.puts() == [(order, 12), (order, 11), (other, 12), (other, 6)]
    # Only status_id is ever sent (reference §6).
    assert all(set(r.body) == {"status_id"} for r in world.bc.request_log.matching("PUT"))


@pytest.mark.parametrize("event", ["approved", "rejected"])
async def test_staff_approval_and_rejection_are_passed_and_failed(world, event):
    await world.start()
    order = world.add_order(status_id=12)
    await world.event(order, event, "chk-1")
    assert world.status(order) == (11 if event == "approved" else 6)


@pytest.mark.parametrize("protected", PROTECTED)
@pytest.mark.parametrize("event", ["started", "passed", "failed"])
async def test_no_write_reaches_an_order_in_a_default_protected_status(world, protected, event):
    await world.start()
    order = world.add_order(status_id=protected)
    decision = await world.event(order, event, "chk-1")
    assert decision.outcome is Outcome.SKIPPED_PROTECTED
    assert world.bc.request_log.matching("PUT") == []
    assert world.status(order) == protected
    [entry] = world.audit(order)
    assert entry.action == "idv_skipped_protected" and entry.before == entry.after == str(protected)
    assert "is protected" in entry.reason


async def test_retry_after_a_failed_check_declined_in_progress_awaiting_fulfillment(world):
    await world.start()
    order = world.add_order(status_id=11)
    await world.event(order, "started", "chk-1")
    await world.event(order, "failed", "chk-1")
    assert world.status(order) == 6
    # Real ID retries with a new check for the same order.
    await world.event(order, "started", "chk-2")
    assert world.status(order) == 12
    await world.event(order, "submitted", "chk-2")
    await world.event(order, "passed", "chk-2")
    assert world.status(order) == 11
    assert [s for _, s in world.puts()] == [12, 6, 12, 11]


async def test_a_late_event_of_a_replaced_check_is_ignored_and_recorded(world):
    await world.start()
    order = world.add_order(status_id=11)
    t0 = world.clock.now()
    await world.event(order, "started", "chk-1", at=t0)
    await world.event(order, "started", "chk-2", at=t0 + timedelta(minutes=5))
    await world.event(order, "passed", "chk-2", at=t0 + timedelta(minutes=9))
    puts_before = world.puts()
    # chk-1's verdict arrives late (it happened before chk-2 passed): ignored.
    decision = await world.event(order, "failed", "chk-1", at=t0 + timedelta(minutes=2))
    assert decision.outcome is Outcome.SKIPPED_STALE
    assert "replaced by check 'chk-2'" in decision.reason
    # A check never seen before, older than the latest check's last event: also stale.
    decision = await world.event(order, "failed", "chk-0", at=t0 - timedelta(minutes=30))
    assert decision.outcome is Outcome.SKIPPED_STALE
    # An event of the latest check older than its last applied one: stale.
    decision = await world.event(order, "started", "chk-2", at=t0 + timedelta(minutes=6))
    assert decision.outcome is Outcome.SKIPPED_STALE
    assert world.puts() == puts_before and world.status(order) == 11
    stale = [e for e in world.audit(order) if e.action == "idv_skipped_stale"]
    assert [e.target_id for e in stale] == ["chk-1", "chk-0", "chk-2"]
    assert all(e.before == e.after == "11" for e in stale)


async def test_a_command_line_event_without_check_id_belongs_to_the_latest_check(world):
    await world.start()
    order = world.add_order(status_id=11)
    await world.event(order, "started", "chk-7")
    decision = await world.event(order, "failed", None)
    assert decision.check_id == "chk-7" and world.status(order) == 6


async def test_disabled_means_zero_writes_and_every_event_audited(world):
    await world.start(enabled=False)
    order = world.add_order(status_id=11)
    for name in ("started", "submitted", "failed", "passed"):
        decision = await world.event(order, name, "chk-1")
        assert decision.outcome is Outcome.SKIPPED_DISABLED
    # Not a write, and not even a read: the feature is off.
    assert world.bc.request_log == []
    assert world.status(order) == 11
    assert [e.action for e in world.audit(order)] == ["idv_skipped_disabled"] * 4


async def test_status_changed_between_decision_and_write_is_decided_again(world):
    await world.start()
    order = world.add_order(status_id=11)
    gets = []

    def merchant_ships_after_the_first_read(request):
        if request.method == "GET" and request.url.path.endswith(f"/v2/orders/{order}"):
            gets.append(request)
            if len(gets) == 1:
                world.bc.set_status(order, 2)  # shipped while the connector was deciding

    world.transport.after = merchant_ships_after_the_first_read
    decision = await world.event(order, "failed", "chk-1")
    assert len(gets) == 2  # the order was read again before the write
    assert decision.outcome is Outcome.SKIPPED_PROTECTED
    assert "since the decision" in decision.reason
    assert world.bc.request_log.matching("PUT") == [] and world.status(order) == 2


async def test_status_changed_to_another_unprotected_one_is_written_on_the_new_decision(world):
    await world.start()
    order = world.add_order(status_id=11)
    fired = []

    def merchant_moves_it(request):
        if request.method == "GET" and not fired and request.url.path.endswith(f"/v2/orders/{order}"):
            fired.append(1)
            world.bc.set_status(order, 9)

    world.transport.after = merchant_moves_it
    decision = await world.event(order, "failed", "chk-1")
    assert decision.outcome is Outcome.WRITTEN and decision.before == 9
    assert world.transport.status_at_put == [(order, 9, 6)]


async def test_audit_entry_carries_order_event_check_statuses_and_time(world):
    await world.start()
    order = world.add_order(status_id=11)
    world.clock.advance(10)
    decision = await world.event(order, "failed", "chk-3")
    [entry] = world.audit(order)
    assert entry.platform == "bigcommerce" and entry.action == "idv_written"
    assert entry.bc_order_id == order and entry.target_id == "chk-3"
    assert (entry.before, entry.after) == ("11", "6")
    assert entry.at == world.clock.now()
    detail = json.loads(entry.detail)
    assert detail["event"] == "failed" and detail["stage"] == "failed" and detail["source"] == "webhook"
    assert detail["occurred_at"] == decision.occurred_at.isoformat()
    assert detail["before_name"] == "11 Awaiting Fulfillment" and detail["after_name"] == "6 Declined"


async def test_merchant_changes_interleaved_with_checks_on_the_simulator(world):
    """Several orders, checks and the merchant acting between them; every PUT is checked against
    the status the order had at that very moment."""
    await world.start()
    a, b, c, d = (world.add_order(status_id=11) for _ in range(4))
    script = [
        ("event", a, "started", "a1"), ("event", b, "started", "b1"), ("event", c, "started", "c1"),
        ("merchant", b, 2),                       # b ships before its check ends
        ("event", a, "passed", "a1"), ("event", b, "failed", "b1"),      # b protected: skipped
        ("merchant", a, 10),                      # a completed
        ("event", a, "rejected", "a1"),           # staff reject after completion: skipped
        ("event", c, "failed", "c1"), ("event", c, "started", "c2"),
        ("merchant", c, 7),                       # merchant overrides while c2 runs
        ("event", c, "submitted", "c2"),          # c2 in progress already: the override stands
        ("event", d, "failed", "d1"), ("merchant", d, 5),                # d cancelled
        ("event", d, "started", "d2"), ("event", d, "passed", "d2"),     # never touched again
        ("event", c, "passed", "c2"),
    ]
    for step in script:
        if step[0] == "merchant":
            world.clock.advance(1)
            world.bc.set_status(step[1], step[2])
        else:
            await world.event(step[1], step[2], step[3])
    assert {o: world.status(o) for o in (a, b, c, d)} == {a: 10, b: 2, c: 11, d: 5}
    assert all(before not in PROTECTED for _, before, _ in world.transport.status_at_put)
    outcomes = [e.action for e in world.audit(d)]
    assert outcomes == ["idv_written", "idv_skipped_protected", "idv_skipped_protected"]
    assert [s for o, s in world.puts() if o == c] == [12, 6, 12, 11]
