"""A server that numbers every sale itself, whatever invoice number it is given (knob
numbers_sales_itself; §8.2 says a given number "should use" the register's prefix/suffix, not that it
is kept). The sale the write answered is the one it made, and is bound; the operator is told once
that a lost answer could not be found again by our number, and the audit keeps the number given."""

from __future__ import annotations

import json
import logging

from sync_world import line


async def test_a_sale_numbered_by_x_series_itself_is_bound_audited_and_said_once(world_factory, caplog):
    world = world_factory(xs_options={"numbers_sales_itself": True})
    first, second = world.add_order([line("TEE-M", 1)]), world.add_order([line("TEE-M", 2)])
    caplog.set_level(logging.WARNING, logger="connector.sync")

    report = await world.cycle()

    assert not report.failed
    for order_id in (first, second):
        [sale] = world.sales(order_id)
        assert not sale["invoice_number"].endswith(f"BC-{order_id}")  # X-Series' own number
        assert world.store.order_binding(order_id).sale_id == sale["id"]
        [created] = [e for e in world.store.audit_entries(order_id) if e.action == "create_sale"]
        assert json.loads(created.detail)["answered_invoice_number"] == sale["invoice_number"]
    [warning] = [r for r in caplog.records if "numbered sale" in r.getMessage()]
    assert "cannot be found again" in warning.getMessage()


async def test_a_sale_answered_with_our_number_or_the_registers_prefix_says_nothing(world_factory, caplog):
    for options in ({}, {"prefixes_invoice_numbers": True}):
        world = world_factory(xs_options=options)
        order_id = world.add_order([line("TEE-M", 1)])
        caplog.set_level(logging.WARNING, logger="connector.sync")
        assert not (await world.cycle()).failed
        [created] = [e for e in world.store.audit_entries(order_id) if e.action == "create_sale"]
        assert "answered_invoice_number" not in json.loads(created.detail)
    assert not [r for r in caplog.records if "numbered sale" in r.getMessage()]
