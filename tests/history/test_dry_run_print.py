"""What `import-history --dry-run` prints adds up: every order is counted in one of its outcomes,
and a list cut short says how much it left out."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from connector.history.command import _print
from connector.history.dry_run import DryRunReport
from connector.history.importer import HistoricalImport, ImportReport


def test_the_stock_and_problem_lists_say_what_they_leave_out(capsys):
    stock = Counter({f"SKU-{n:02}": 30 - n for n in range(28)})  # 28 products
    problems = {order_id: "payment method 'Bitcoin' has no mapping" for order_id in range(100, 112)}
    dry = DryRunReport(orders=60, already_mirrored=1, not_imported=5, sales=Counter(closed=42), stock=stock,
                       problems=problems)
    _print(ImportReport(since=None, until=datetime(2026, 12, 1, tzinfo=timezone.utc), dry_run=dry))
    out = capsys.readouterr().out
    assert "orders: 60 (1 already mirrored, 5 with a status that writes no sale (Pending, Incomplete…)," \
           " 12 that would fail)" in out
    assert f"stock leaving the outlet: {sum(stock.values())} units over 28 products" in out
    assert out.count("    SKU-") == 15
    left = sorted(stock.items(), key=lambda kv: -kv[1])[15:]
    assert f"… and 13 more products, {sum(q for _, q in left)} units" in out
    assert out.count("    order 1") == 10 and "… and 2 more" in out


async def test_the_dry_runs_orders_add_up(import_world):
    rt = await import_world.runtime()
    try:
        dry = (await HistoricalImport(rt, since=None, until=None, dry_run=True).run()).dry_run
    finally:
        await rt.aclose()
        rt.store.close()
    assert dry.not_imported  # the world's Pending and Incomplete orders, which write no sale
    assert dry.orders == dry.already_mirrored + dry.not_imported + len(dry.problems) + sum(dry.sales.values())
