"""`order-sync demo`: the whole connector against the built-in simulators, no credentials needed.

Seeds a realistic BigCommerce store and an X-Series retailer in-process, mirrors the orders, lets
the "merchant" change a few statuses (a pending order gets paid, a closed one is cancelled), mirrors
again, and prints what happened: orders → sales, POS states, created products and stock moves.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

from connector.clock import SYSTEM_CLOCK
from connector import event_loop
from connector.config import Settings
from connector.mapping.statuses import status_name
from connector.runtime import Runtime
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.seed import SeedSpec, seed_store
from connector.sandbox.xseries import XSeriesSimulator


def demo_settings(bc: BigCommerceSimulator, xs: XSeriesSimulator, database_url: str, start_at) -> Settings:
    return Settings.model_validate({
        "bigcommerce": {"store_hash": bc.store_hash, "access_token": bc.access_token, "api_url": bc.base_url},
        "xseries": {"domain_prefix": xs.domain_prefix, "token": xs.token, "api_url": xs.base_url,
                    "outlet": "Main Outlet", "register": "Online Store"},
        "database_url": database_url,
        "sync": {"start_at": start_at, "interval_seconds": 60},
    })


def run_demo(*, orders: int = 40, seed: int = 7, db_path: str | None = None, out=None) -> int:
    import sys

    out = out or sys.stdout
    return event_loop.run(_demo(orders, seed, db_path, out))


async def _demo(orders: int, seed: int, db_path: str | None, out) -> int:
    now = SYSTEM_CLOCK.now()
    start = now - timedelta(days=3)
    bc = BigCommerceSimulator(clock=SYSTEM_CLOCK)
    # The demo store has one register; give the simulated X-Series a roomy quota so a large demo
    # does not wait out a 5-minute window.
    xs = XSeriesSimulator(clock=SYSTEM_CLOCK, rate_limit=100_000)
    seeded = seed_store(bc, xs, SeedSpec(orders=orders, seed=seed, start=start))
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{db_path or Path(tmp) / 'order-sync-demo.db'}"
        settings = demo_settings(bc, xs, database_url, start - timedelta(hours=1))
        runtime = await Runtime.start(settings, bc_transport=bc.transport(), xs_transport=xs.transport())
        try:
            print(f"order-sync demo: {orders} BigCommerce orders in a simulated store, "
                  f"X-Series outlet 'Main Outlet', register 'Online Store'\n", file=out)
            report1 = await runtime.cycle().run()
            changes = _merchant_changes(bc, runtime)
            report2 = await runtime.cycle().run()
            report3 = await runtime.cycle().run()
            _print_report(out, bc, xs, runtime, seeded, [report1, report2, report3], changes)
        finally:
            await runtime.aclose()
            runtime.store.close()
    return 0


def _merchant_changes(bc: BigCommerceSimulator, runtime: Runtime) -> list[str]:
    """Between cycles: pay two pending orders, cancel two closed ones."""
    changes = []
    bindings = runtime.store.order_bindings(bc.orders.keys())
    pending = [i for i, b in sorted(bindings.items()) if b.bc_status_id == 1][:2]
    # Cancel orders waiting to ship (the usual case), else any closed ones.
    closed = sorted((i for i, b in bindings.items() if b.pos_state == "closed"),
                    key=lambda i: (bindings[i].bc_status_id not in (9, 11), i))[:2]
    for order_id in pending:
        bc.set_status(order_id, 11)
        changes.append(f"order {order_id}: Pending → Awaiting Fulfillment (paid)")
    for order_id in closed:
        before = status_name(bc.order(order_id)["status_id"])
        bc.set_status(order_id, 5)
        changes.append(f"order {order_id}: {before} → Cancelled")
    return changes


def _print_report(out, bc, xs, runtime: Runtime, seeded, reports, changes) -> None:
    store = runtime.store
    bindings = store.order_bindings(bc.orders.keys())
    for n, report in enumerate(reports, 1):
        outcomes = ", ".join(f"{k.value} {v}" for k, v in sorted(report.outcomes.items())) or "nothing"
        print(f"cycle {n}: {report.seen} orders read; {outcomes}; {len(report.failed)} failed", file=out)
        if n == 1 and changes:
            print("  then the merchant changes:\n    " + "\n    ".join(changes), file=out)
    print(file=out)
    header = f"{'order':>6}  {'BigCommerce status':<30} {'POS state':<13} {'sale':<10} {'invoice':<9} {'total':>10}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for order_id in sorted(bc.orders):
        order = bc.order(order_id)
        b = bindings.get(order_id)
        sale = xs.sales.get(b.sale_id) if b and b.sale_id else None
        status = status_name(order["status_id"])
        label = order.get("custom_status") or status
        if label != status:
            status = f"{status} ({label})"
        sale_status = sale["status"] if sale else "—"
        print(f"{order_id:>6}  {status[:30]:<30} {(b.pos_state if b else 'unseen'):<13} {sale_status:<10} "
              f"{(b.invoice_number if b and b.sale_id else ''):<9} {order['total_inc_tax']:>10}", file=out)
    counts = Counter(b.pos_state for b in bindings.values())
    print("\nsales by POS state: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=out)

    created = [p for p in store.product_bindings() if p.created]
    print(f"\nproducts created in X-Series ({len(created)}):", file=out)
    for p in sorted(created, key=lambda p: p.sku)[:25]:
        print(f"  {p.sku}", file=out)
    if len(created) > 25:
        print(f"  … and {len(created) - 25} more", file=out)

    print("\nstock moves at 'Main Outlet' (tracked products):", file=out)
    moves = []
    for product_id, before in sorted(seeded.initial_stock.items()):
        after = xs.stock(product_id)
        if after != before:
            moves.append((xs.products[product_id]["sku"], before, after))
    for sku, before, after in sorted(moves)[:25]:
        print(f"  {sku:<24} {before:>6} → {after:>6} ({after - before:+})", file=out)
    if len(moves) > 25:
        print(f"  … and {len(moves) - 25} more", file=out)
    failures = store.failures()
    if failures:
        print(f"\nfailed orders ({len(failures)}):", file=out)
        for f in failures:
            print(f"  order {f.bc_order_id} at {f.step}: {f.reason}", file=out)
    writes = len(xs.request_log.writes())
    print(f"\nX-Series writes: {writes}; BigCommerce requests: {len(bc.request_log)}; "
          f"audit entries: {store.count_audit()}", file=out)
