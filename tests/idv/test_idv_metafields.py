"""Real ID's realid metafields, polled through the batch endpoint, end to end on the simulator."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs

from connector.idv.decision import Outcome
from connector.idv.metafields import CURSOR
from connector.sandbox.faults import FaultConfig
from connector.values import parse_any_date


def realid(world, order_id: int, status: str, check_id: str | None = None) -> None:
    """Real ID records a verdict (and, for a new check, its id) on the order."""
    world.clock.advance(2)
    if check_id is not None:
        world.bc.set_metafield(order_id, "realid", "check_id", check_id)
    world.bc.set_metafield(order_id, "realid", "verification_status", status)


async def poll(world):
    world.clock.advance(30)
    world.bc.request_log.clear()
    return await world.service.poller.poll()


async def test_metafield_verdicts_drive_the_status_end_to_end(world):
    await world.start()
    order = world.add_order(status_id=11)

    report = await poll(world)  # nothing yet: one call
    assert [r.path for r in world.bc.request_log] == ["/stores/abc123/v3/orders/metafields"]
    query = parse_qs(world.bc.request_log[0].query)
    assert query["namespace"] == ["realid"] and query["key:in"] == ["verification_status,check_id"]
    assert "key" not in query and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", query["date_modified:min"][0])

    realid(world, order, "pending", "rid-1")
    report = await poll(world)
    assert report.outcomes == {Outcome.WRITTEN: 1}
    assert world.status(order) == 12
    # The new check's id came in the same batch call: the order is not looked up on its own.
    assert report.check_ids_read == 1 and report.looked_up == 0
    assert not world.bc.request_log.matching("GET", f"/v3/orders/{order}/metafields")

    # Steady state: the verdict is re-read through the overlap, and that costs one call only.
    for _ in range(3):
        report = await poll(world)
        assert len(world.bc.request_log) == 1 and report.already_handled == 1
    assert len(world.audit(order)) == 1

    realid(world, order, "in_review")
    assert (await poll(world)).outcomes == {Outcome.UNCHANGED: 1}
    realid(world, order, "verified")
    await poll(world)
    assert world.status(order) == 11

    # A new check that fails, then a staff approval of it.
    realid(world, order, "failed", "rid-2")
    await poll(world)
    assert world.status(order) == 6
    realid(world, order, "manually_approved")
    await poll(world)
    assert world.status(order) == 11

    # Shipped, then staff reject: Order Protection.
    world.bc.set_status(order, 2)
    realid(world, order, "manually_rejected")
    assert (await poll(world)).outcomes == {Outcome.SKIPPED_PROTECTED: 1}
    assert world.status(order) == 2

    entries = world.audit(order)
    assert [e.action for e in entries] == [
        "idv_written", "idv_unchanged", "idv_written", "idv_written", "idv_written", "idv_skipped_protected"]
    assert [e.target_id for e in entries] == ["rid-1", "rid-1", "rid-1", "rid-2", "rid-2", "rid-2"]
    assert world.store.cursor(CURSOR) is not None


async def test_one_batch_call_finds_verdicts_of_many_orders(world):
    await world.start()
    orders = [world.add_order(status_id=11) for _ in range(5)]
    for n, order in enumerate(orders):
        realid(world, order, "failed" if n % 2 else "verified", f"rid-{order}")
    report = await poll(world)
    assert report.read == 5
    assert len(world.bc.request_log.matching("GET", "/v3/orders/metafields")) == 1
    assert [world.status(o) for o in orders] == [11, 6, 11, 6, 11]


async def test_unknown_values_and_other_namespaces_are_not_acted_on(world):
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "exploded", "rid-1")
    world.bc.set_metafield(order, "otherapp", "verification_status", "failed")
    report = await poll(world)
    assert report.unknown_values == 1 and report.outcomes == {}
    assert world.puts() == [] and world.audit(order) == []


async def test_a_verdict_that_could_not_be_applied_is_read_again_even_past_the_overlap(world):
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "failed", "rid-1")
    world.bc.faults.reconfigure(FaultConfig(share_5xx=1.0, path_filter=f"/v2/orders/{order}"))
    report = await poll(world)
    assert report.failed and world.status(order) == 11 and world.audit(order) == []
    world.bc.faults.reconfigure(FaultConfig())
    world.clock.advance(3600)  # far beyond the 300 s overlap: only the held cursor finds it again
    report = await poll(world)
    assert report.outcomes == {Outcome.WRITTEN: 1} and world.status(order) == 6


async def test_several_changes_between_two_polls_apply_the_current_verdict_of_the_new_check(world):
    await world.start()
    order = world.add_order(status_id=11)
    realid(world, order, "failed", "rid-1")
    await poll(world)
    realid(world, order, "pending", "rid-2")
    realid(world, order, "verified")
    await poll(world)
    assert world.status(order) == 11
    assert [sent for _, _, sent in world.transport.status_at_put] == [6, 11]
    assert [e.target_id for e in world.audit(order)] == ["rid-1", "rid-2"]


async def test_a_metafield_row_that_does_not_parse_holds_no_other_verdict_back(world, caplog):
    """The spec requires only permission_set of a metafield: a row without date_created is read as
    usual, and a row that cannot be used (a null resource_type) is logged and passed over instead of
    failing every poll, every other order's verdict with it."""
    await world.start()
    usable, broken = world.add_order(status_id=11), world.add_order(status_id=11)
    realid(world, broken, "failed", "rid-b")
    realid(world, usable, "failed", "rid-u")
    for m in world.bc.metafields.values():
        if m["resource_id"] == usable:
            del m["date_created"]
        elif m["key"] == "verification_status":
            m["resource_type"] = None
    report = await poll(world)
    assert report.outcomes == {Outcome.WRITTEN: 1}
    assert world.status(usable) == 6 and world.status(broken) == 11
    assert "does not parse" in caplog.text and str(broken) in caplog.text


class _BehindClock:
    """BigCommerce's clock, `seconds` behind the connector's (the same FakeClock, read earlier)."""

    def __init__(self, clock, seconds: float) -> None:
        self.clock, self.behind = clock, seconds

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def now(self):
        from datetime import timedelta
        return self.clock.now() - timedelta(seconds=self.behind)

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep(seconds)


async def test_a_verdict_recorded_after_a_poll_by_a_store_clock_behind_ours_is_read(world):
    """Our clock 10 minutes ahead of the store's (overlap 5): the poll's cursor follows the answer's
    Date, so a verdict stamped after the read by the store's clock is read by the next poll."""
    await world.start()
    world.bc.clock = _BehindClock(world.clock, 600)
    order = world.add_order(status_id=11)
    await poll(world)
    assert world.store.cursor(CURSOR) <= world.bc.clock.now()

    realid(world, order, "pending", "rid-1")  # after that read, by the store's clock
    report = await poll(world)
    assert report.outcomes == {Outcome.WRITTEN: 1} and world.status(order) == 12


async def test_a_date_header_behind_the_verdicts_it_lists_does_not_pin_the_cursor(world):
    """A Date on another clock than the store's data (here a month behind): the verdicts the answer
    listed vouch for themselves, so the cursor moves past them and the next poll does not read the
    month again (it used to stay at that Date, each poll re-reading a window that kept growing)."""
    await world.start()
    stamped = world.bc._rate_headers
    world.bc._rate_headers = lambda: {**stamped(), "Date": format_datetime(world.clock.now() - timedelta(days=30),
                                                                            usegmt=True)}
    order = world.add_order(status_id=11)
    realid(world, order, "pending", "rid-1")
    report = await poll(world)
    assert report.outcomes == {Outcome.WRITTEN: 1}
    [verdict] = [m for m in world.bc.metafields.values() if m["key"] == "verification_status"]
    assert world.store.cursor(CURSOR) >= parse_any_date(verdict["date_modified"])
