"""`order-sync demo`: the whole connector against the built-in simulators, no credentials needed.

Mirrors a seeded store (the outlet stocked for every order on a product it had), lets the "merchant"
change a few statuses, walks one order through ID verification (a failed check voids its sale, a new
check that passes gets a new one), and prints orders → sales, POS states, products and stock moves.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from connector.clock import SYSTEM_CLOCK
from connector import interrupts
from connector.config import Settings
from connector.demo_showcase import add_showcase_orders, print_showcase, refund_one_shirt
from connector.idv.service import IdvService, poll_once, start_if_enabled
from connector.idv.stages import CheckEvent, Source, stage_of_event
from connector.mapping.statuses import status_name
from connector.runtime import Runtime
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.seed import SeedSpec, SeededStore, seed_store
from connector.sandbox.xseries import XSeriesSimulator
from connector.values import cents, parse_money

AWAITING_FULFILLMENT = 11
# Shown whenever a printed stock level is below zero: only products order-sync created (CREATED_STOCK_NOTE) are.
NEGATIVE_STOCK_NOTE = ("below zero: more units were sold online than the outlet had counted. The sale is recorded anyway"
                       " (the customer paid on BigCommerce) and the level stays below zero until a stock count or a"
                       " delivery is entered in X-Series.")
CREATED_STOCK_NOTE = ("* created by order-sync on its first sale, as Lightspeed's own integration does: it was not"
                      " in X-Series, so no stock was counted for it and it starts at 0.")


def demo_settings(bc: BigCommerceSimulator, xs: XSeriesSimulator, database_url: str, start_at, *,
                  id_verification: bool = False) -> Settings:
    """Settings for the simulators, shared with tests and benchmarks: ID verification off unless asked."""
    return Settings.model_validate({
        "bigcommerce": {"store_hash": bc.store_hash, "access_token": bc.access_token, "api_url": bc.base_url},
        "xseries": {"domain_prefix": xs.domain_prefix, "token": xs.token, "api_url": xs.base_url,
                    "outlet": "Main Outlet", "register": "Online Store"},
        "database_url": database_url,
        "sync": {"start_at": start_at, "interval_seconds": 60},
        "id_verification": {"enabled": id_verification},
    })


def run_demo(*, orders: int = 40, seed: int = 7, db_path: str | None = None, out=None) -> int:
    return interrupts.run(_demo(orders, seed, db_path, out or sys.stdout))


def money(value) -> str:
    """A money amount as a merchant reads it: Decimal, two decimals ("47.3000" → "47.30")."""
    return str(cents(parse_money(value)))


def units(value: Decimal) -> str:
    """A stock level: whole units print without decimals ("19", not "19.000")."""
    value = Decimal(value)
    return str(int(value)) if value == value.to_integral_value() else str(value.normalize())


@dataclass
class Printer:
    out: object
    negative_stock: bool = False  # a stock level below zero was shown: explain it at the end

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def stock(self, before: Decimal, after: Decimal, width: int = 0) -> str:
        self.negative_stock |= before < 0 or after < 0
        delta = Decimal(after) - Decimal(before)
        return f"{units(before):>{width}} → {units(after):>{width}} ({'+' if delta > 0 else ''}{units(delta)})"


@dataclass
class World:
    bc: BigCommerceSimulator
    xs: XSeriesSimulator
    runtime: Runtime
    idv: IdvService | None
    seeded: SeededStore
    p: Printer
    syncs: int = 0

    async def sync(self, note: str = "", indent: str = "") -> None:
        """One `order-sync sync`: Real ID's metafields first, then the mirror (commands.sync_once)."""
        await poll_once(self.idv, self.runtime.store)
        report = await self.runtime.cycle().run()
        self.syncs += 1
        outcomes = ", ".join(f"{k.value} {v}" for k, v in sorted(report.outcomes.items())) or "nothing"
        refunds = "".join(f"; refunds {k} {v}" for k, v in sorted(report.refunds.items()))
        self.p.line(f"{indent}cycle {self.syncs}: {report.seen} orders read; {outcomes}; "
                    f"{len(report.failed)} failed{refunds}{note}")


async def _demo(orders: int, seed: int, db_path: str | None, out) -> int:
    start = SYSTEM_CLOCK.now() - timedelta(days=3)
    bc = BigCommerceSimulator(clock=SYSTEM_CLOCK)
    # A roomy quota: a large demo waits out no 5-minute window. The seeded orders charge 10 % tax. The
    # outlet is stocked for every order on a product X-Series has (those order-sync creates start at 0).
    xs = XSeriesSimulator(clock=SYSTEM_CLOCK, rate_limit=100_000, extra_taxes=(("Sales Tax", Decimal("0.1")),))
    seeded = seed_store(bc, xs, SeedSpec(orders=orders, seed=seed, start=start, stock_covers_orders=True))
    showcase = add_showcase_orders(bc)
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{db_path or Path(tmp) / 'order-sync-demo.db'}"
        # ID verification on, as a store using Real ID has it: the walk-through needs it.
        settings = demo_settings(bc, xs, database_url, start - timedelta(hours=1), id_verification=True)
        runtime = await Runtime.start(settings, bc_transport=bc.transport(), xs_transport=xs.transport())
        # The demo prints every decision and sale itself: quiet the INFO lines that repeat them.
        quiet = {name: logging.getLogger(name) for name in ("connector.idv", "connector.sync")}
        levels = {name: log.level for name, log in quiet.items()}
        for name, log in quiet.items():
            log.setLevel(max(levels[name], logging.WARNING))
        try:
            p = Printer(out)
            idv = await start_if_enabled(settings, runtime.bc, runtime.store, runtime.idv_rules)
            w = World(bc, xs, runtime, idv, seeded, p)
            p.line(f"order-sync demo: {orders} BigCommerce orders in a simulated store (and {len(showcase)} shown line"
                   " by line at the end), "
                   f"X-Series outlet 'Main Outlet', register 'Online Store', ID verification on\n")
            await w.sync()
            p.line("  then the merchant changes:\n    " + "\n    ".join(_merchant_changes(bc, runtime)))
            await w.sync()
            await _id_verification_walk(w)
            p.line("the merchant refunds one shirt of order "
                   f"{refund_one_shirt(bc, showcase)} (a variant, below) in BigCommerce:")
            await w.sync(indent="  ")
            await w.sync(" (nothing left to write)")
            _print_report(w)
            print_showcase(p.line, money, bc, xs, showcase)
        finally:
            for name, log in quiet.items():
                log.setLevel(levels[name])
            await runtime.aclose()
    return 0


def _merchant_changes(bc: BigCommerceSimulator, runtime: Runtime) -> list[str]:
    """Between syncs: pay two pending orders, cancel two closed ones."""
    changes = []
    bindings = runtime.store.order_bindings(bc.orders.keys())
    pending = [i for i, b in sorted(bindings.items()) if b.bc_status_id == 1][:2]
    # Cancel orders waiting to ship (the usual case), else any closed ones.
    closed = sorted((i for i, b in bindings.items() if b.pos_state == "closed"),
                    key=lambda i: (bindings[i].bc_status_id not in (9, 11), i))[:2]
    for order_id in pending:
        bc.set_status(order_id, AWAITING_FULFILLMENT)
        changes.append(f"order {order_id}: Pending → Awaiting Fulfillment (paid)")
    for order_id in closed:
        before = status_name(bc.order(order_id)["status_id"])
        bc.set_status(order_id, 5)
        changes.append(f"order {order_id}: {before} → Cancelled")
    return changes


def _walk_candidate(w: World) -> tuple[int, dict] | None:
    """An order awaiting fulfillment with one closed sale, best one whose stock-counted products were
    all stocked by the seed (small stores may have only orders with some or none of them)."""
    candidates = []
    for order_id in sorted(w.bc.orders):
        if w.bc.order(order_id)["status_id"] != AWAITING_FULFILLMENT:
            continue
        sales = w.xs.sales_of_order(order_id)
        if len(sales) != 1 or sales[0]["status"] != "CLOSED":
            continue
        tracked = {line["product_id"] for line in sales[0]["line_items"]
                   if w.xs.products[line["product_id"]]["has_inventory"]}
        stocked = tracked & w.seeded.initial_stock.keys()
        candidates.append(((not stocked, stocked != tracked, order_id), order_id, sales[0]))
    return min(candidates, key=lambda c: c[0])[1:] if candidates else None


def _sale_line(w: World, sale: dict) -> str:
    total = money(sale["total_price"] + sale["total_tax"])
    return f"sale {sale['invoice_number']} {sale['status']}, total {total}"


async def _id_verification_walk(w: World) -> None:
    """One order through Real ID: started → failed (sale voided) → a new check passes (new sale),
    each verdict through the engine `order-sync id-check` and the webhook use."""
    p = w.p
    found = _walk_candidate(w)
    p.line("\nID verification, one order (id_verification.enabled: true in the demo's config):")
    if found is None or w.idv is None:
        p.line("  no order awaiting fulfillment to walk through in this store")
        return
    order_id, first_sale = found
    products = sorted({line["product_id"] for line in first_sale["line_items"]} & w.seeded.initial_stock.keys(),
                      key=lambda pid: w.xs.products[pid]["sku"])
    levels = {pid: w.xs.stock(pid) for pid in products}
    order = w.bc.order(order_id)
    p.line(f"  order {order_id}, {status_name(order['status_id'])}, total {money(order['total_inc_tax'])}: "
           f"{_sale_line(w, first_sale)}")

    def stock_moves(verb: str) -> str:
        moves = []
        for pid in products:
            after = w.xs.stock(pid)
            moves.append(f"{w.xs.products[pid]['sku']} {p.stock(levels[pid], after)}")
            levels[pid] = after
        return f"     stock {verb}: " + (", ".join(moves) or "(none of its products is counted at the outlet)")

    async def check(step: int, check_id: str, event: str) -> None:
        decision = await w.idv.engine.handle(CheckEvent(
            order_id=order_id, event=event, stage=stage_of_event(event), check_id=check_id,
            occurred_at=SYSTEM_CLOCK.now(), source=Source.CLI))
        before, after = (status_name(s) if s is not None else "?" for s in (decision.before, decision.after))
        p.line(f"  {step}. Real ID check {check_id} {event}: BigCommerce status {before} → {after} "
               f"({decision.outcome.label})")

    first = f"rid-{order_id}-1"
    await check(1, first, "started")  # the customer is sending photos
    await w.sync(indent="     ")
    p.line(f"     {_sale_line(w, w.xs.sales[first_sale['id']])} (unchanged)")
    await check(2, first, "failed")
    await w.sync(indent="     ")
    p.line(f"     {_sale_line(w, w.xs.sales[first_sale['id']])}")
    p.line(stock_moves("back"))
    await check(3, f"rid-{order_id}-2", "passed")  # a new check: the customer tried again
    await w.sync(indent="     ")
    for sale in (s for s in w.xs.sales_of_order(order_id) if s["id"] != first_sale["id"]):
        p.line(f"     new {_sale_line(w, sale)}; {first_sale['invoice_number']} stays "
               f"{w.xs.sales[first_sale['id']]['status']}")
    p.line(stock_moves("out again"))
    p.line("")


def _print_report(w: World) -> None:
    p, bc, xs, store = w.p, w.bc, w.xs, w.runtime.store
    bindings = store.order_bindings(bc.orders.keys())
    header = (f"{'order':>6}  {'BigCommerce status':<30} {'POS state':<13} {'sale':<10} {'invoice':<10} "
              f"{'total':>10}")
    p.line("\n" + header)
    p.line("-" * len(header))
    for order_id in sorted(bc.orders):
        order = bc.order(order_id)
        b = bindings.get(order_id)
        sale = xs.sales.get(b.sale_id) if b and b.sale_id else None
        status = status_name(order["status_id"])
        label = order.get("custom_status") or status
        if label != status:
            status = f"{status} ({label})"
        sale_status = sale["status"] if sale else "—"
        p.line(f"{order_id:>6}  {status[:30]:<30} {(b.pos_state if b else 'unseen'):<13} {sale_status:<10} "
               f"{(b.invoice_number if b and b.sale_id else ''):<10} {money(order['total_inc_tax']):>10}")
    counts = Counter(b.pos_state for b in bindings.values())
    p.line("\nsales by POS state: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    by_status = Counter(s["status"] for s in xs.sales.values())
    p.line(f"X-Series sales ({len(xs.sales)}, a voided sale is kept when its order gets a new one): "
           + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))
    # The seed sets a refunded status without a refund record: say why such a sale stays whole.
    bare = [o for o in sorted(bc.orders) if bc.order(o)["status_id"] in (4, 14)  # Refunded, Partially Refunded
            and not any(r["order_id"] == o for r in bc.refunds.values())]
    if bare:
        p.line(f"order{'s' * (len(bare) > 1)} {', '.join(map(str, bare))} (Refunded or Partially Refunded)"
               f" carr{'y' if len(bare) > 1 else 'ies'} no refund records in the seeded store: no return is written"
               " (a status alone never moves money)")

    created = [b for b in store.product_bindings() if b.created]
    skus = sorted(b.sku for b in created)
    p.line(f"\nproducts created in X-Series ({len(created)}): {', '.join(skus[:25])}"
           + (f", … and {len(skus) - 25} more" if len(skus) > 25 else ""))

    # Tracked products order-sync created on a first sale were not in X-Series: from 0.
    made = {b.xs_product_id for b in created if xs.products.get(b.xs_product_id, {}).get("has_inventory")}
    levels = {**{pid: Decimal(0) for pid in made}, **w.seeded.initial_stock}
    moves = [(xs.products[pid]["sku"], before, xs.stock(pid))
             for pid, before in sorted(levels.items()) if xs.stock(pid) != before]
    print_stock_moves(p, moves, {xs.products[pid]["sku"] for pid in made})
    failures = store.failures()
    if failures:
        p.line(f"\nfailed orders ({len(failures)}):")
        for f in failures:
            p.line(f"  order {f.bc_order_id} at {f.step}: {f.reason}")
    p.line(f"\nX-Series writes: {len(xs.request_log.writes())}; BigCommerce requests: {len(bc.request_log)}; "
           f"audit entries: {store.count_audit()}")


def print_stock_moves(p: Printer, moves: list[tuple[str, Decimal, Decimal]], made: set[str] = frozenset()) -> None:
    """Stock before → after the demo per tracked product (`made`: the SKUs order-sync created, from 0);
    the notes if any level, printed or not, is below zero, or any product was created."""
    p.line("\nstock at 'Main Outlet', before → after (tracked products, units):")
    hidden = sorted(moves)[25:]
    for sku, before, after in sorted(moves)[:25]:
        p.line(f"  {sku:<24} {p.stock(before, after, width=6)}" + ("  *" if sku in made else ""))
    p.negative_stock |= (below := sum(after < 0 for _, _, after in hidden)) > 0
    if hidden:
        p.line(f"  … and {len(hidden)} more" + (f" ({below} below zero)" if below else ""))
    if made & {sku for sku, _, _ in moves}:
        p.line("  " + CREATED_STOCK_NOTE)
    if p.negative_stock:
        p.line("  " + NEGATIVE_STOCK_NOTE)
