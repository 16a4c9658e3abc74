"""Fault suite (issue 7 §2): 2,000 orders while both APIs misbehave at once.

Every request to either simulator may be answered 5xx (10 %), 429 (5 %), time out unapplied (2 %),
and every write may be applied with its answer lost (1 %). Cycles run, with the clock moved past
the failed-order backoff between them, until nothing is left failed — at most MAX_CYCLES. Then:
every order converged to the POS state its current status maps to, 0 duplicates, 0 missing, and
the outlet's stock is the initial stock less the units of closed (not voided) orders.

A write that is not safe to repeat (sale, product, customer creation) is tried once per cycle — a
5xx or a timeout may hide an applied write, so the object is looked up on the next attempt rather
than created again at once. With the shipped sync.max_attempts (10) no order is parked: every one
converges by itself, without `order-sync retry-failed`. (With 5 attempts, one or two of 2,000
orders would run out and need retry-failed: the reason the default is 10.)

Halfway, after the first cycle, the merchant cancels some orders, so voids run under faults too.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal

from connector.mapping.status_table import PosState
from connector.mapping.tables import MappingTables
from connector.sandbox.faults import FaultConfig
from connector.sandbox.seed import SeedSpec, seed_store
from sync_world import START

ORDERS = 2000
MAX_CYCLES = 10
# Longer than the backoffs of the first five attempts (0, 1, 2, 4, 8 minutes).
BETWEEN_CYCLES = timedelta(minutes=10).total_seconds()
STATUSES = MappingTables.load(None).statuses


def faults(seed: int) -> FaultConfig:
    return FaultConfig(share_5xx=0.10, share_429=0.05, share_timeout=0.02, share_lost_write_response=0.01,
                       seed=seed)


def sales_by_order(xs) -> dict[int, list[dict]]:
    found: defaultdict[int, list[dict]] = defaultdict(list)
    for sale in xs.sales.values():
        found[int(sale["source_id"])].append(sale)
    return found


def audit_mirror(world, order_ids: list[int]) -> Counter:
    """How the POS compares with the store, order by order."""
    counts: Counter = Counter(orders=len(order_ids))
    sales = sales_by_order(world.xs)
    for order_id in order_ids:
        order = world.bc.orders[order_id]
        state = STATUSES.pos_state(order["status_id"])
        found = sales.get(order_id, [])
        counts["duplicates"] += max(len(found) - 1, 0)
        if state is PosState.NOT_IMPORTED:
            counts["wrongly_mirrored"] += bool(found)
            continue
        if not found:
            counts["missing"] += 1
            continue
        voided = found[0]["status"] == "VOIDED"
        if voided != (state is PosState.VOIDED):
            counts["wrong_state"] += 1
        if found[0]["invoice_number"] != f"BC-{order_id}":
            counts["wrong_invoice"] += 1
        counts[state.value] += 1
    return counts


def expected_stock(world, seeded) -> dict[str, Decimal]:
    """Initial stock less every unit of the orders whose sale must stand closed (voids restore)."""
    by_sku = {sku.casefold(): pid for sku, pid in seeded.pos_product_ids.items()}
    sold: defaultdict[str, int] = defaultdict(int)
    for order_id in seeded.order_ids:
        if STATUSES.pos_state(world.bc.orders[order_id]["status_id"]) is not PosState.CLOSED:
            continue
        for item in world.bc.products(order_id):
            pid = by_sku.get(item["sku"].strip().casefold()) if item["product_id"] else None
            if pid is not None:
                sold[pid] += item["quantity"]
    return {pid: Decimal(units - sold[pid]) for pid, units in seeded.initial_stock.items()}


async def test_2000_orders_converge_under_faults_on_both_apis(world_factory, report_counts):
    world = world_factory(catalog=False, start_at=START - timedelta(days=11), max_attempts=10)
    seeded = seed_store(world.bc, world.xs, SeedSpec(orders=ORDERS, seed=7007, start=START - timedelta(days=10)))
    world.bc.faults.reconfigure(faults(seed=71))
    world.xs.faults.reconfigure(faults(seed=72))
    rng = random.Random(73)

    failed_per_cycle: list[int] = []
    parked: list = []
    cancelled: list[int] = []
    for cycle in range(1, MAX_CYCLES + 1):
        report = await world.cycle(advance=BETWEEN_CYCLES)
        failed_per_cycle.append(len(report.failed))
        parked += [f for f in world.store.failures() if f.parked]
        if cycle == 1:
            # The merchant cancels some orders: their sales (mirrored or not yet) must end voided.
            closed = [i for i in seeded.order_ids
                      if STATUSES.pos_state(world.bc.orders[i]["status_id"]) is PosState.CLOSED]
            cancelled = rng.sample(closed, 60)
            for order_id in cancelled:
                world.set_status(order_id, 5, advance=0)
            continue
        if not report.failed and not world.store.failures() and not world.store.pending_bindings():
            break

    counts = audit_mirror(world, seeded.order_ids)
    injected = {f"bc_{k}": v for k, v in world.bc.faults.injected.items()}
    injected |= {f"xs_{k}": v for k, v in world.xs.faults.injected.items()}
    report_counts("fault suite", {
        "orders": ORDERS, "duplicates": counts["duplicates"], "missing": counts["missing"],
        "faults_injected": sum(injected.values()), **injected, "cycles": len(failed_per_cycle),
        "failed_per_cycle": "/".join(map(str, failed_per_cycle)), "parked": len(parked),
        "closed": counts["closed"], "voided": counts["voided"], "cancelled_midway": len(cancelled),
    })

    # The faults really happened, on both APIs and of every kind.
    assert all(world.bc.faults.injected[k] > 0 for k in ("5xx", "429", "timeout"))
    assert all(v > 0 for v in world.xs.faults.injected.values()), world.xs.faults.injected
    assert failed_per_cycle[0] > 0  # and some orders did fail on the way
    # Converged within the bound, by itself: nothing parked, nothing left failed.
    assert failed_per_cycle[-1] == 0 and world.store.failures() == []
    assert parked == [], [(f.bc_order_id, f.reason) for f in parked]
    assert world.store.pending_bindings() == []
    assert counts["duplicates"] == 0 and counts["missing"] == 0
    assert counts["wrong_state"] == 0 and counts["wrongly_mirrored"] == 0 and counts["wrong_invoice"] == 0
    assert counts["voided"] >= len(cancelled)
    stock = {pid: world.xs.stock(pid) for pid in seeded.initial_stock}
    assert stock == expected_stock(world, seeded)
    # Every bound sale is the one X-Series holds for the order.
    sales = sales_by_order(world.xs)
    for order_id in seeded.order_ids:
        binding = world.store.order_binding(order_id)
        if sales.get(order_id):
            assert binding is not None and binding.sale_id == sales[order_id][0]["id"], order_id
