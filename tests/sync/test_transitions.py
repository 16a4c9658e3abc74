"""Every transition of the status table: what is written to X-Series, and what is only recorded."""

from __future__ import annotations

import pytest

from connector.sync.cycle_report import CycleReport
from connector.sync.order_mirror import Outcome
from sync_world import assert_sale_adds_up, line


async def test_pending_order_is_mirrored_once_paid(world):
    order_id = world.add_order([line("TEE-M", 3)], status_id=1)
    report = await world.cycle()
    assert report.outcomes[Outcome.RECORDED] == 1
    assert world.sale(order_id) is None and world.stock("TEE-M") == 50

    world.set_status(order_id, 11)
    report = await world.cycle()

    assert report.outcomes[Outcome.CREATED] == 1
    sale = world.sale(order_id)
    assert sale["status"] == "CLOSED"
    assert_sale_adds_up(sale, world.order(order_id))
    assert world.stock("TEE-M") == 47
    binding = world.store.order_binding(order_id)
    assert (binding.pos_state, binding.bc_status_id, binding.sale_id) == ("closed", 11, sale["id"])


@pytest.mark.parametrize("void_status", [5, 6], ids=["cancelled", "declined"])
@pytest.mark.parametrize("closed_status", [11, 7], ids=["paid", "on-account"])
async def test_closed_order_cancelled_or_declined_voids_its_sale(world, closed_status, void_status):
    order_id = world.add_order([line("TEE-M", 2), line("MUG-01", 1, "10.00")], status_id=closed_status)
    await world.cycle()
    sale_id = world.sale(order_id)["id"]
    line_ids = [item["id"] for item in world.sale(order_id)["line_items"]]
    assert (world.stock("TEE-M"), world.stock("MUG-01")) == (48, 29)

    world.set_status(order_id, void_status)
    report = await world.cycle()

    assert report.outcomes[Outcome.VOIDED] == 1
    sale = world.sale(order_id)
    assert sale["id"] == sale_id  # the same sale, re-posted voided: not a second one
    assert sale["status"] == "VOIDED" and sale["payments"] == []
    # The sold lines voided, named by their ids: a re-post replaces lines it leaves out (§8.3).
    void = world.xs.request_log.matching("POST", "/api/register_sales")[-1].body
    assert void["status"] == "VOIDED" and [item["id"] for item in void["register_sale_products"]] == line_ids
    assert [item["id"] for item in sale["line_items"]] == line_ids
    assert (world.stock("TEE-M"), world.stock("MUG-01")) == (50, 30)  # stock restored
    binding = world.store.order_binding(order_id)
    assert binding.pos_state == "voided" and binding.bc_status_id == void_status
    voids = [e for e in world.store.audit_entries(order_id) if e.action == "void_sale"]
    assert len(voids) == 1 and voids[0].after == "VOIDED" and voids[0].target_id == sale_id
    if closed_status == 7:
        customer = world.xs.customers[sale["customer_id"]]
        assert customer["balance"] == 0  # the on-account balance went with the sale


@pytest.mark.parametrize("created_as", [5, "voided-later"])
async def test_a_voided_sale_never_changes_again(world, created_as):
    if created_as == "voided-later":
        order_id = world.add_order([line("TEE-M", 2)], status_id=11)
        await world.cycle()
        world.set_status(order_id, 5)
    else:
        order_id = world.add_order([line("TEE-M", 2)], status_id=5)
    await world.cycle()
    [voided] = world.sales(order_id)
    assert voided["status"] == "VOIDED" and world.stock("TEE-M") == 50
    voided_version = voided["version"]
    writes = world.xs_writes()

    for status_id in (1, 6, 5):  # not-imported and voided statuses: nothing to write
        world.set_status(order_id, status_id)
        report = await world.cycle()
        assert report.outcomes[Outcome.RECORDED] == 1, status_id
    assert world.xs_writes() == writes
    records = [e for e in world.store.audit_entries(order_id) if e.action == "record"]
    assert all("never changed again" in e.reason for e in records[-3:])

    # Re-opened (e.g. Declined, then a new ID check passed): the goods will ship, so stock must
    # leave again. The voided sale stays untouched; a new sale BC-<id>-2 is created.
    world.set_status(order_id, 11)
    report = await world.cycle()
    assert report.outcomes[Outcome.CREATED] == 1
    first, second = sorted(world.sales(order_id), key=lambda sale: sale["invoice_number"])
    assert first["id"] == voided["id"] and first["status"] == "VOIDED" and first["version"] == voided_version
    assert second["invoice_number"] == f"BC-{order_id}-2" and second["status"] in ("CLOSED", "ONACCOUNT")
    assert world.stock("TEE-M") == 48
    binding = world.store.order_binding(order_id)
    assert (binding.generation, binding.sale_id, binding.pos_state) == (2, second["id"], "closed")
    created = [e for e in world.store.audit_entries(order_id) if e.action == "create_sale"]
    assert "re-opened" in created[-1].reason

    # Cancelled again: the new sale is voided, the first one still untouched.
    world.set_status(order_id, 5)
    await world.cycle()
    assert [s["status"] for s in sorted(world.sales(order_id), key=lambda s: s["invoice_number"])] == ["VOIDED", "VOIDED"]
    assert world.xs.sales[voided["id"]]["version"] == voided_version
    assert world.stock("TEE-M") == 50


@pytest.mark.parametrize("to_status,why", [(2, "within the closed state"), (1, "not-imported status")],
                         ids=["shipped", "back-to-pending"])
async def test_a_change_that_needs_no_pos_write_is_recorded(world, to_status, why):
    order_id = world.add_order([line("TEE-M", 1)], status_id=11)
    await world.cycle()
    sale_before = dict(world.sale(order_id))
    writes = world.xs_writes()

    world.set_status(order_id, to_status)
    report = await world.cycle()

    assert report.outcomes[Outcome.RECORDED] == 1
    assert world.xs_writes() == writes  # nothing written to X-Series
    sale = world.sale(order_id)
    assert sale["status"] == "CLOSED" and sale["version"] == sale_before["version"]
    binding = world.store.order_binding(order_id)
    assert (binding.pos_state, binding.bc_status_id) == ("closed", to_status)
    last = world.store.audit_entries(order_id)[-1]
    assert (last.action, last.before, last.after) == ("record", "11", str(to_status))
    assert why in last.reason

    # Recorded means settled: the next cycle finds the binding up to date.
    report = await world.cycle()
    assert report.outcomes[Outcome.UP_TO_DATE] == 1 and world.xs_writes() == writes


async def test_back_to_pending_then_cancelled_still_voids(world):
    """A closed order that went back to Pending still has its sale: cancelling it voids that sale."""
    order_id = world.add_order([line("TEE-M", 1)], status_id=11)
    await world.cycle()
    world.set_status(order_id, 1)
    await world.cycle()
    world.set_status(order_id, 5)
    report = await world.cycle()
    assert report.outcomes[Outcome.VOIDED] == 1
    assert world.sale(order_id)["status"] == "VOIDED" and world.stock("TEE-M") == 50


@pytest.mark.parametrize("after_void", [4, 14, 13, 2, 10, 3],
                         ids=["refunded", "partially-refunded", "disputed", "shipped", "completed", "partially-shipped"])
@pytest.mark.parametrize("void_status", [5, 6], ids=["cancelled", "declined"])
async def test_money_or_shipping_statuses_after_a_void_create_no_sale(world, void_status, after_void):
    """Issue 16, point 3: Cancelled → Refunded (the refund of a cancelled order) is money moving,
    not the order coming back: no second, paid sale, and stock does not leave again."""
    order_id = world.add_order([line("TEE-M", 2)], status_id=11)
    await world.cycle()
    world.set_status(order_id, void_status)
    await world.cycle()
    writes = world.xs_writes()

    world.set_status(order_id, after_void)
    report = await world.cycle()

    assert report.outcomes[Outcome.RECORDED] == 1
    assert world.xs_writes() == writes
    assert [s["status"] for s in world.sales(order_id)] == ["VOIDED"] and world.stock("TEE-M") == 50
    binding = world.store.order_binding(order_id)
    assert (binding.generation, binding.pos_state, binding.bc_status_id) == (1, "voided", after_void)
    last = world.store.audit_entries(order_id)[-1]
    assert last.action == "record" and "does not re-open" in last.reason


@pytest.mark.parametrize("after_void", [2, 3, 10], ids=["shipped", "partially-shipped", "completed"])
async def test_shipped_after_declined_asks_a_person_and_after_cancelled_does_not(world, after_void):
    """Declined (an ID check failed), then passed and shipped before the next poll: the goods may have
    left with no sale, so a person is asked (once), with the remedy. After Cancelled (a cancelled
    order marked Completed to archive it) nothing is asked, and neither writes a sale."""
    declined = world.add_order([line("TEE-M", 2)], status_id=11)
    cancelled = world.add_order([line("MUG-01", 1)], status_id=11)
    await world.cycle()
    world.set_status(declined, 6)
    world.set_status(cancelled, 5)
    await world.cycle()
    world.set_status(declined, after_void)
    world.set_status(cancelled, after_void)
    await world.cycle()
    await world.cycle(advance=3600)
    [asked] = world.store.exceptions()
    assert (asked.bc_order_id, asked.kind) == (declined, "status")
    assert f"BC-{declined}" in asked.summary and "Awaiting Fulfillment" in asked.summary
    assert [s["status"] for s in world.sales(declined)] == [s["status"] for s in world.sales(cancelled)] == ["VOIDED"]
    world.set_status(declined, 11)  # the remedy: back to Awaiting Fulfillment re-opens it
    await world.cycle()
    assert [s["status"] for s in world.sales(declined)] == ["VOIDED", "CLOSED"]


@pytest.mark.parametrize("reopen_status", [7, 8, 9, 11, 12])
async def test_only_a_pre_shipment_status_reopens_a_voided_order(world, reopen_status):
    order_id = world.add_order([line("TEE-M", 2)], status_id=5)
    await world.cycle()
    world.set_status(order_id, 4)  # refunded after the cancellation: recorded only
    await world.cycle()
    assert len(world.sales(order_id)) == 1

    world.set_status(order_id, reopen_status)
    report = await world.cycle()

    assert report.outcomes[Outcome.CREATED] == 1
    statuses = [s["status"] for s in sorted(world.sales(order_id), key=lambda s: s["invoice_number"])]
    assert statuses[0] == "VOIDED" and statuses[1] in ("CLOSED", "ONACCOUNT")
    assert world.stock("TEE-M") == 48
    assert world.store.order_binding(order_id).generation == 2


async def test_an_archived_order_is_not_mirrored_until_restored_and_its_sale_stays(world):
    """Whether order lists show archived orders (is_deleted) is not documented: an archived order
    read is recorded, not mirrored; restored, it is; archived after its sale, the sale stays."""
    runtime = await world.runtime()
    order_id = world.add_order([line("TEE-M", 2)], status_id=11)

    async def mirror() -> Outcome:  # the order as read by id, mirrored as a cycle does
        cycle = runtime.cycle()
        await cycle.index.refresh()
        return await cycle.mirror_one(await runtime.bc.get_order(order_id), CycleReport())

    world.bc.orders[order_id]["is_deleted"] = True
    assert await mirror() is Outcome.RECORDED
    assert world.sale(order_id) is None and world.stock("TEE-M") == 50
    assert world.store.audit_entries(order_id)[-1].reason == "archived in BigCommerce: not mirrored"

    world.bc.orders[order_id]["is_deleted"] = False  # restored from the archive
    assert await mirror() is Outcome.CREATED
    assert world.sale(order_id)["status"] == "CLOSED" and world.stock("TEE-M") == 48

    world.bc.orders[order_id]["is_deleted"] = True
    assert await mirror() is Outcome.RECORDED
    assert world.sale(order_id)["status"] == "CLOSED" and world.stock("TEE-M") == 48
    assert "archiving is not cancelling" in world.store.audit_entries(order_id)[-1].reason


def test_the_readmes_transition_table_shows_every_case_after_a_void_as_decided():
    """Issue 16, point 3: the README's transition table is one table, whose voided rows name every
    status once and agree with decide(), and which has the on-account sale paid later."""
    from pathlib import Path

    from connector.mapping.status_table import PosState
    from connector.mapping.statuses import SYSTEM_NAMES
    from connector.sync.transitions import Transition, decide

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("| The sale is… |", 1)[1].split("\n\n", 1)[0]
    rows = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in block.splitlines()[2:]]
    assert any(row[0].startswith("closed on account") and "ONACCOUNT_CLOSED" in row[2] for row in rows)
    after_void = {name: row[2] for row in rows if row[0] == "voided" for name in row[1].split(", ")}
    assert sorted(after_void) == sorted(SYSTEM_NAMES.values())
    for status_id, name in SYSTEM_NAMES.items():
        transition, _ = decide(PosState.VOIDED, True, PosState.CLOSED, status_id)
        assert (transition is Transition.REOPEN) == ("a **new** sale" in after_void[name]), name
