"""§13: whether a tax-inclusive retailer's X-Series reads a 0.9 line `price` excluding tax is
unverified. xseries.line_prices_include_tax picks the reading; the simulator's
line_price_includes_tax knob is an X-Series reading it as tax-inclusive (it keeps price − tax).

Each flow runs a tax-inclusive store (15 % GST, TEE-M 23.00 a unit incl. tax) end to end and reads
the sale back as X-Series keeps it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from sync_world import cents, line, sale_paid

SETTING = "xseries.line_prices_include_tax"
GST = D("0.15")


def inclusive_world(world_factory, *, server_reads_inclusive: bool, setting: bool):
    return world_factory(tax_inclusive=True, xs_options={"line_price_includes_tax": server_reads_inclusive},
                         xseries_settings={"line_prices_include_tax": setting})


def live(world, order_id: int, *, returns: bool = False) -> list[dict]:
    return [s for s in world.xs.sales_of_order(order_id, returns=returns) if s["status"] != "VOIDED"]


def x_series_total(sale: dict) -> D:
    """The sale's total as X-Series computed it from its lines (§8.2), tax included."""
    return cents(sale["total_price"] + sale["total_tax"])


def assert_nothing_for_a_person(world, order_id: int, report) -> None:
    assert not report.failed and not report.refunds_failed, (report.failed, report.refunds_failed)
    assert world.store.failure(order_id) is None
    assert [e for e in world.store.exceptions() if e.bc_order_id == order_id] == []


async def settle(world, cycles: int = 3):
    report = None
    for _ in range(cycles):
        report = await world.cycle(advance=40)
    return report


@pytest.mark.parametrize("flow", ["closed", "on_account_then_paid", "refund", "cancel"])
async def test_line_prices_sent_tax_inclusive_where_x_series_reads_them_so_mirror_every_flow(world_factory, flow):
    world = inclusive_world(world_factory, server_reads_inclusive=True, setting=True)
    order_id = world.add_order([line("TEE-M", 2, "23.00")], status_id=7 if flow == "on_account_then_paid" else 11,
                               tax_rate=GST, payment_status="")  # a bank transfer: paid when moved on
    total = cents(world.order(order_id)["total_inc_tax"])  # 46.00, 6.00 of it GST
    report = await settle(world)
    assert_nothing_for_a_person(world, order_id, report)
    [sale] = live(world, order_id)
    assert x_series_total(sale) == total and cents(sale["total_tax"]) == cents(world.order(order_id)["total_tax"])
    assert world.stock("TEE-M") == 48

    if flow == "on_account_then_paid":
        assert (sale["status"], sale["payments"]) == ("ONACCOUNT", [])
        world.set_status(order_id, 11)
        report = await settle(world)
        assert_nothing_for_a_person(world, order_id, report)
        [sale] = live(world, order_id)
        assert (sale["status"], sale_paid(sale), x_series_total(sale)) == ("ONACCOUNT_CLOSED", total, total)
        assert world.stock("TEE-M") == 48  # the goods left with the on-account sale
    elif flow == "closed":
        assert (sale["status"], sale_paid(sale)) == ("CLOSED", total)
    elif flow == "refund":
        tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
        world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
        report = await settle(world)
        assert_nothing_for_a_person(world, order_id, report)
        [back] = live(world, order_id, returns=True)
        assert (x_series_total(back), sale_paid(back)) == (D("-23.00"), D("-23.00"))
        assert len(live(world, order_id)) == 1 and world.stock("TEE-M") == 49
    else:
        world.set_status(order_id, 5)
        report = await settle(world)
        assert_nothing_for_a_person(world, order_id, report)
        assert live(world, order_id) == [] and world.stock("TEE-M") == 50
    assert len(world.xs.sales_of_order(order_id)) == 1  # one sale, never written twice


async def test_a_paid_sale_x_series_totals_its_tax_short_is_parked_naming_the_setting(world_factory):
    world = inclusive_world(world_factory, server_reads_inclusive=True, setting=False)
    order_id = world.add_order([line("TEE-M", 2, "23.00")], tax_rate=GST)
    report = await world.cycle()
    assert live(world, order_id) == [] and world.stock("TEE-M") == 50  # refused: nothing written
    failure = world.store.failure(order_id)
    assert failure is not None and failure.parked, failure
    assert "40.00" in failure.reason and f"set {SETTING}: true" in failure.reason, failure.reason
    assert f"{SETTING}: true" in report.failed[order_id]


async def test_an_on_account_sale_x_series_totals_its_tax_short_names_the_setting(world_factory):
    world = inclusive_world(world_factory, server_reads_inclusive=True, setting=False)
    order_id = world.add_order([line("TEE-M", 2, "23.00")], status_id=7, tax_rate=GST, payment_status="")
    assert not (await world.cycle()).failed
    [exc] = world.store.exceptions()
    assert (exc.bc_order_id, exc.kind) == (order_id, "amount") and "-6.00" in exc.summary, exc.summary
    assert f"set {SETTING}: true" in exc.summary, exc.summary
    # Paid later, the sale X-Series keeps at 40.00 cannot take 46.00: refused, and said why.
    world.set_status(order_id, 11)
    await world.cycle()
    failure = world.store.failure(order_id)
    assert failure is not None and f"set {SETTING}: true" in failure.reason, failure


@pytest.mark.parametrize("status_id", [11, 7])
async def test_line_prices_sent_tax_inclusive_where_x_series_reads_them_excluding_tax_name_the_setting(
        world_factory, status_id):
    # The opposite misreading: X-Series adds the tax to a price that had it already (52.00 for 46.00).
    world = inclusive_world(world_factory, server_reads_inclusive=False, setting=True)
    order_id = world.add_order([line("TEE-M", 2, "23.00")], status_id=status_id, tax_rate=GST)
    assert not (await world.cycle()).failed
    [exc] = world.store.exceptions()
    assert (exc.bc_order_id, exc.kind) == (order_id, "amount") and "+6.00" in exc.summary, exc.summary
    assert f"set {SETTING}: false" in exc.summary, exc.summary
