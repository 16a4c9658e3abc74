"""Failure handling: a failing order is recorded with a readable reason, the rest of the batch is
mirrored, the cursor moves; permanent failures are parked at once, transient ones retried."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.errors import CredentialsError, TransientApiError
from connector.sandbox.faults import FaultConfig
from connector.sandbox.xseries_sales import write_register_sale
from connector.sync.order_mirror import Outcome
from sync_world import line


async def test_unknown_status_fails_that_order_only(world):
    ids = [world.add_order([line("TEE-M")]) for _ in range(3)]
    odd = ids[1]
    world.bc.orders[odd].update(status_id=15, status="Layaway")  # a status the table does not know

    report = await world.cycle()

    assert set(report.failed) == {odd}
    assert f"order {odd}" in report.failed[odd] and "unknown BigCommerce status id 15" in report.failed[odd]
    assert report.outcomes[Outcome.CREATED] == 2 and world.sale(odd) is None
    [failure] = world.store.failures()
    assert (failure.bc_order_id, failure.step, failure.parked, failure.attempts) == (odd, "map", True, 1)
    assert report.completed and world.store.cursor() == report.window_end  # the cursor still moves


async def test_unreadable_order_is_recorded_and_the_rest_mirrored(world):
    good = world.add_order([line("TEE-M")])
    bad = world.add_order([line("MUG-01")], total_inc_tax="1,234.00")
    report = await world.cycle()
    assert set(report.failed) == {bad} and world.sale(good) is not None
    [failure] = world.store.failures()
    assert (failure.bc_order_id, failure.step, failure.parked) == (bad, "parse", True)
    assert "total_inc_tax" in failure.reason
    assert world.store.cursor() == report.window_end


async def test_retry_failed_reads_an_unreadable_order_again(world):
    """After a fix (here: the order's data; in life, often the parser's), retry-failed must read the
    order again, though it has not changed since: its date_modified does not bring it back."""
    bad = world.add_order([line("MUG-01")], total_inc_tax="1,234.00")
    await world.cycle()
    assert [(f.bc_order_id, f.step, f.parked) for f in world.store.failures()] == [(bad, "parse", True)]
    world.bc.orders[bad].pop("total_inc_tax_override", None)
    world.bc.orders[bad]["total_inc_tax"] = world.bc.order(bad)["subtotal_inc_tax"]  # readable now, same date
    await world.cycle(advance=3600)  # past the poll's overlap: only the failed queue reads it now
    assert world.sale(bad) is None  # parked: not read again by itself
    assert world.store.unpark(bad) == 1
    report = await world.cycle(advance=3600)
    assert not report.failed and world.sale(bad) is not None and world.store.failures() == []


async def test_unmapped_payment_method_without_default_is_parked_at_once(world_factory, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "payment_methods.yaml").write_text("methods:\n  Credit Card: Credit Card\n")
    world = world_factory(mappings_dir=mappings)
    paid = world.add_order([line("TEE-M")], payment_method="Bitcoin")
    on_account = world.add_order([line("TEE-M")], payment_method="Bitcoin", status_id=7)  # no payment needed
    card = world.add_order([line("TEE-M")])

    report = await world.cycle()

    assert set(report.failed) == {paid}
    assert "'Bitcoin' has no mapping" in report.failed[paid] and f"order {paid}" in report.failed[paid]
    [failure] = world.store.failures()
    assert failure.parked and failure.attempts == 1 and failure.permanent
    assert world.sale(paid) is None and world.sale(on_account)["status"] == "ONACCOUNT"
    assert world.sale(card)["status"] == "CLOSED"
    # A tender without a mapping needs a person: it is an exception too (issue 16, point 5).
    [exc] = world.store.exceptions()
    assert (exc.bc_order_id, exc.kind) == (paid, "mapping") and "'Bitcoin' has no mapping" in exc.summary

    # Parked means not retried, even when it is due.
    world.clock.advance(3600)
    writes = world.xs_writes()
    report = await world.cycle()
    assert not report.failed and world.xs_writes() == writes
    assert world.store.failures()[0].attempts == 1


async def test_a_422_from_x_series_is_permanent(world_factory):
    world = world_factory(xs_options={"reject_duplicate_source_id": True})
    order_id = world.add_order([line("TEE-M")])
    other = world.add_order([line("MUG-01")])
    # Another integration already posted a sale with this order's number as its source id.
    write_register_sale(world.xs, {
        "register_id": world.xs.main_register_id, "user_id": world.xs.user_id, "status": "SAVED",
        "source_id": str(order_id), "register_sale_products": [],
    })

    report = await world.cycle()

    assert set(report.failed) == {order_id}
    assert "422" in report.failed[order_id] and "source_id" in report.failed[order_id]
    [failure] = world.store.failures()
    assert failure.parked and failure.permanent and failure.step == "write"
    binding = world.store.order_binding(order_id)
    assert binding.pending_state is None and binding.sale_id is None  # refused: nothing to look up
    assert world.sale(other) is not None

    # Parked: the next cycles re-read it (overlap) but do not post it again...
    posts = len(world.xs.request_log.matching("POST", "/api/register_sales"))
    for _ in range(2):
        report = await world.cycle(advance=60)
        assert not report.failed
    assert len(world.xs.request_log.matching("POST", "/api/register_sales")) == posts
    # ...until the merchant changes the order: then it is tried again.
    world.clock.advance(1)
    world.bc.touch(order_id)
    report = await world.cycle()
    assert set(report.failed) == {order_id} and world.store.failures()[0].attempts == 2


async def test_an_order_placed_while_the_register_is_closed_is_mirrored_not_parked(world_factory):
    # Whether API sales need an open register is unverified (§7, §13; domain D: design for both). A
    # server that refuses them on a closed register (the till closed for the night) parked every
    # order placed meanwhile as a permanent 422; the register is opened and the sale posted again.
    world = world_factory(xs_options={"sales_need_open_register": True})
    world.xs.close_register(world.xs.main_register_id)
    order_id = world.add_order([line("TEE-M")])

    report = await world.cycle()

    assert not report.failed and report.outcomes[Outcome.CREATED] == 1
    assert world.sale(order_id) is not None and world.xs.registers[world.xs.main_register_id]["is_open"]
    assert len(world.xs.request_log.matching("POST", "/api/register_sales")) == 2  # refused, then taken
    assert world.store.failures() == []

async def test_transient_failures_back_off_then_park_then_retry_failed(world):
    world.overlap_seconds = 1
    order_id = world.add_order([line("TEE-M")])
    world.xs.faults.reconfigure(FaultConfig(share_5xx=1.0, path_filter="register_sales"))

    attempts = []
    for _ in range(7):
        report = await world.cycle(advance=timedelta(minutes=20).total_seconds())
        failures = world.store.failures()
        attempts.append((failures[0].attempts, failures[0].parked) if failures else None)
    # Retried once per cycle while due (1, 2, 4, 8 minutes apart), parked at the 5th attempt.
    assert attempts == [(1, False), (2, False), (3, False), (4, False), (5, True), (5, True), (5, True)]
    assert world.sales(order_id) == []
    assert world.store.order_binding(order_id).pending_state is not None  # the write's fate is unknown

    world.xs.faults.reconfigure(FaultConfig())
    assert world.store.unpark(order_id) == 1  # what `order-sync retry-failed` does
    report = await world.cycle()
    assert report.outcomes[Outcome.CREATED] == 1 and len(world.sales(order_id)) == 1
    assert world.store.failures() == []


async def test_rejected_credentials_stop_the_cycle_before_the_cursor_moves(world):
    world.add_order([line("TEE-M")])
    await world.runtime()
    world.xs.token = "revoked"
    with pytest.raises(CredentialsError):
        await world.cycle()
    assert world.store.cursor() is None and world.xs.sales == {}
    assert world.store.last_cycle().outcome == "error"


def lines_unreadable(monkeypatch, rt, order_id: int) -> dict:
    """Reading order `order_id`'s lines (its /products, not embedded) fails while state["down"]:
    a server error that outlasted the transport's retries."""
    state = {"down": True}
    original = rt.bc._parse_order

    async def parse(data):
        if state["down"] and data.get("id") == order_id:
            raise TransientApiError("server error after 6 attempts: 500", api="bigcommerce", method="GET",
                                    path=f"/v2/orders/{order_id}/products", status=500)
        return await original(data)

    monkeypatch.setattr(rt.bc, "_parse_order", parse)
    return state


async def test_an_order_whose_lines_cannot_be_read_waits_in_the_failed_queue_not_the_cycle(world, monkeypatch):
    first, broken, last = (world.add_order([line("TEE-M")]) for _ in range(3))
    state = lines_unreadable(monkeypatch, await world.runtime(), broken)
    report = await world.cycle()
    # The orders after it are mirrored and the cursor moves: the failed queue owns the broken one.
    assert set(report.failed) == {broken} and "500" in report.failed[broken]
    assert world.sale(first) is not None and world.sale(last) is not None and world.sale(broken) is None
    assert report.completed and world.store.cursor() == report.window_end
    [failure] = world.store.failures()
    assert (failure.bc_order_id, failure.step, failure.parked) == (broken, "fetch", False)
    state["down"] = False
    report = await world.cycle(advance=3600)  # past the overlap: only the failed queue reads it now
    assert not report.failed and world.sale(broken) is not None and world.store.failures() == []


async def test_retry_now_while_the_daemon_settles_the_same_order_retries_nothing(db_world):
    """A person presses "Retry now" (or runs retry-failed --order) just as the daemon mirrors the
    order and deletes its failed row: nothing to retry, no error (it was a 500 / a traceback), and
    no retry audited for an order no longer failed."""
    from sqlalchemy import event

    world = db_world
    order_id = world.add_order([line("TEE-M")])
    world.bc.orders[order_id].update(status_id=15, status="Layaway")  # parked: a status not mapped
    await world.cycle()
    store = world.store
    [failed] = store.failures()
    world.clock.advance(60)
    assert store.unpark(order_id) == 1  # due at once: never later than the daemon's last failure
    unparked = store.failure(order_id)
    assert (unparked.parked, unparked.attempts, unparked.next_attempt_at) == (False, 0, failed.last_failed_at)
    settled = []

    def daemon_settles_first(conn, cursor, statement, *args):
        if not settled and statement.lstrip().upper().startswith("UPDATE") and "failed_order" in statement:
            settled.append(1)
            store.forget_failure(order_id)  # the daemon's own connection, in between

    event.listen(store.engine, "before_cursor_execute", daemon_settles_first)
    try:
        assert store.request_retry(order_id, by="ann", via="console") == 0
    finally:
        event.remove(store.engine, "before_cursor_execute", daemon_settles_first)
    assert settled and store.failures() == []
    assert not [e for e in store.audit_entries(order_id) if e.action == "retry_requested"]
