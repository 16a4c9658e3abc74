"""API economy of a sync cycle: requests per order to each platform.

Seeds the simulators with N orders over every status, runs one cycle (and a second one, which must
write nothing), and prints request counts per order:
  - BigCommerce calls per order (target ≤ 0.01: line items come embedded in the order list);
  - X-Series calls beyond sale writes and true creates, per order (target ≤ 0.02: the product and
    customer indexes live in the store and are refreshed through version cursors).
The first cycle is a store's first day: every product new to X-Series is created, and a variant's
first sale reads its catalogue product to create its family. Steady state is a third cycle over as
many new orders again, of products and customers order-sync already knows (issue 16's targets).
Real rate-limit windows are simulated with a fake clock, so the run takes seconds.

    python benchmarks/sync_bench.py [--orders 500] [--seed 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from connector.clients.transport import RetryPolicy
from connector.clock import FakeClock
from connector.demo import demo_settings
from connector.runtime import Runtime
from connector.sync.order_mirror import Outcome
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.seed import SeedSpec, seed_store
from connector.sandbox.xseries import XSeriesSimulator


def _xs_breakdown(log) -> dict[str, int]:
    sale_writes = len([r for r in log if r.method == "POST" and "register_sales" in r.path])
    creates = len([r for r in log if r.method == "POST" and r.path.rstrip("/").endswith(("/products", "/customers"))])
    return {"total": len(log), "sale_writes": sale_writes, "creates": creates,
            "other": len(log) - sale_writes - creates}


async def bench(orders: int, seed: int) -> dict:
    clock = FakeClock()
    bc = BigCommerceSimulator(clock=clock)
    xs = XSeriesSimulator(clock=clock)
    start = clock.now() - timedelta(days=30)
    seed_store(bc, xs, SeedSpec(orders=orders, seed=seed, start=start))
    xs.request_log.clear()
    bc.request_log.clear()
    with tempfile.TemporaryDirectory() as tmp:
        settings = demo_settings(bc, xs, f"sqlite:///{Path(tmp) / 'bench.db'}", start - timedelta(hours=1))
        wall = time.perf_counter()
        runtime = await Runtime.start(settings, bc_transport=bc.transport(), xs_transport=xs.transport(),
                                      clock=clock, retry=RetryPolicy(seed=seed))
        try:
            first = await runtime.cycle().run()
            bc_first, xs_first = len(bc.request_log), _xs_breakdown(xs.request_log)
            clock.advance(60)
            xs_before = len(xs.request_log.writes())
            second = await runtime.cycle().run()
            second_writes = len(xs.request_log.writes()) - xs_before
            clock.advance(60)
            closed = sorted({int(sale["source_id"]) for sale in xs.sales.values() if sale["status"] == "CLOSED"})
            steady = _repeat_orders(bc, closed, orders)
            bc_before, xs_log_before = len(bc.request_log), len(xs.request_log)
            third = await runtime.cycle().run()
            bc_steady = len(bc.request_log) - bc_before
            xs_steady = _xs_breakdown(list(xs.request_log)[xs_log_before:])
        finally:
            await runtime.aclose()
        wall = time.perf_counter() - wall
    return {
        "orders": orders, "sales": first.outcomes[Outcome.CREATED], "failed": len(first.failed),
        "bc_calls": bc_first, "xs": xs_first, "second_cycle_xs_writes": second_writes,
        "second_cycle_failed": len(second.failed), "wall_seconds": wall,
        "steady_orders": steady, "steady_failed": len(third.failed), "bc_steady": bc_steady, "xs_steady": xs_steady,
        "simulated_seconds": clock.monotonic(),
        "xs_429": sum(1 for r in xs.request_log if r.status == 429),
        "bc_429": sum(1 for r in bc.request_log if r.status == 429),
    }


def _repeat_orders(bc: BigCommerceSimulator, mirrored: list[int], count: int) -> int:
    """`count` new orders, each the lines and customer of an order already mirrored, placed again
    (Awaiting Fulfillment): products and customers order-sync has met. Returns how many."""
    for i in range(count):
        source = bc.order(mirrored[i % len(mirrored)])
        lines = [{"product_id": p["product_id"], "variant_id": p["variant_id"], "sku": p["sku"], "name": p["name"],
                  "unit_price": Decimal(p["price_ex_tax"]), "quantity": p["quantity"], "type": p["type"]}
                 for p in bc.products(source["id"])]
        address = source["billing_address"]
        customer = {k: address.get(k, "") for k in ("first_name", "last_name", "email", "street_1", "city",
                                                       "state", "zip", "country", "country_iso2")}
        bc.add_order(customer={"id": source["customer_id"], **customer}, lines=lines, status_id=11)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    r = asyncio.run(bench(args.orders, args.seed))
    n = r["orders"]
    xs = r["xs"]
    print(f"orders: {n}  sales created: {r['sales']}  failed: {r['failed']}")
    print(f"BigCommerce calls: {r['bc_calls']}  per order: {r['bc_calls'] / n:.4f}  (target ≤ 0.01)")
    print(f"X-Series calls: {xs['total']} = sale writes {xs['sale_writes']} + creates {xs['creates']}"
          f" + other {xs['other']}")
    print(f"X-Series calls beyond sale writes and true creates per order: {xs['other'] / n:.4f}  (target ≤ 0.02)")
    print(f"second cycle: X-Series writes {r['second_cycle_xs_writes']} (target 0), failed {r['second_cycle_failed']}")
    steady, sx = r["steady_orders"], r["xs_steady"]
    print(f"steady state, {steady} more orders of known products and customers (failed {r['steady_failed']}):")
    print(f"  BigCommerce calls: {r['bc_steady']}  per order: {r['bc_steady'] / steady:.4f}  (target ≤ 0.01)")
    print(f"  X-Series calls: {sx['total']} = sale writes {sx['sale_writes']} + creates {sx['creates']}"
          f" + other {sx['other']}; beyond writes per order: {sx['other'] / steady:.4f}  (target ≤ 0.02)")
    print(f"429 answers: BigCommerce {r['bc_429']}, X-Series {r['xs_429']}")
    print(f"wall time {r['wall_seconds']:.1f}s for {r['simulated_seconds']:.0f}s of simulated (rate-limited) time")


if __name__ == "__main__":
    main()
