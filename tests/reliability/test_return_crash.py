"""Issue 16: `order-sync sync` killed with SIGKILL while it mirrors refunds as returns, at random
points, then run clean: every refund has exactly one return, bound to it — none lost, none twice.

Like the crash suite (test_crash_suite.py): real processes against simulators served on localhost,
one SQLite file; a killed process's leases are expired by hand (what waiting 120 s would do).
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from connector.store.repository import Store
from connector.store.tables import Lease

from served import BC_TOKEN, Served, order_sync

pytestmark = pytest.mark.slow

LONG_AGO = datetime(2000, 1, 1, tzinfo=timezone.utc)
REFUNDS = 80
KILLS = 8


def returns_of(summary: dict) -> list[dict]:
    return [s for s in summary["sales"] if s["return_for"]]


def check(store: Store, summary: dict, refunded: set[int], *, final: bool = False) -> Counter:
    counts: Counter = Counter()
    returns = returns_of(summary)
    invoices = Counter(r["invoice_number"] for r in returns)
    counts["duplicates"] = sum(n - 1 for n in invoices.values())
    assert counts["duplicates"] == 0, {k: n for k, n in invoices.items() if n > 1}
    bindings = {b.refund_id: b for b in store.refund_bindings()}
    for ret in returns:
        refund_id = int(ret["invoice_number"].rsplit("-R", 1)[1])
        binding = bindings.get(refund_id)
        assert binding is not None, f"return {ret['invoice_number']} has no refund binding"
        assert binding.return_sale_id == ret["id"] or (binding.return_sale_id is None and binding.pending), binding
    counts["pending"] = sum(1 for b in bindings.values() if b.pending)
    if final:
        assert counts["pending"] == 0
        assert {int(r["invoice_number"].rsplit("-R", 1)[1]) for r in returns} == refunded
        assert all(b.outcome == "returned" for b in bindings.values())
        counts["returns"] = len(returns)
    return counts


def test_sigkill_while_mirroring_refunds_makes_no_second_return(tmp_path, report_counts):
    rng = random.Random(616)
    sandbox = Served(orders=150, seed=43, history_days=0.5)
    try:
        start_at = (datetime.now(timezone.utc) - timedelta(hours=23)).replace(microsecond=0)
        url = f"sqlite:///{tmp_path / 'returns.db'}"
        config = sandbox.write_config(tmp_path / "config.yaml", url, start_at=start_at)
        store = Store.open(url)

        def sync():
            return order_sync("--config", str(config), "sync", cwd=tmp_path)

        first = sync()
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err[-3000:]
        # The merchant refunds one unit of the first line of orders whose sale is closed.
        closed = sorted(int(s["source_id"]) for s in sandbox.summary()["sales"] if s["status"] == "CLOSED")
        refunded = set()
        for order_id in rng.sample(closed, min(REFUNDS, len(closed))):
            products = sandbox.call(f"/stores/abc123/v2/orders/{order_id}/products",
                                    headers={"X-Auth-Token": BC_TOKEN})
            line = next(p for p in products if p["quantity"] >= 1)
            refund = sandbox.call(f"/_sandbox/orders/{order_id}/refund",
                                  {"items": [{"item_type": "PRODUCT", "item_id": line["id"], "quantity": 1}]})
            refunded.add(refund["id"])

        # A return is answered 0.2 s after it exists: a kill just after one appears lands between
        # its write and its binding, the case the pending binding and the look-up are for.
        sandbox.call("/_sandbox/faults", {"xseries": {"answer_delay_seconds": 0.2, "path_filter": "register_sales"}})
        kills = rounds = pending_after_kills = 0
        while kills < KILLS:
            rounds += 1
            assert rounds <= 3 * KILLS, "sync keeps finishing before the kill point"
            process = sync()
            target = sandbox.health()["returns"] + rng.randint(1, 4)
            deadline = time.monotonic() + 60
            while sandbox.health()["returns"] < target and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.003)
            time.sleep(rng.uniform(0, 0.05))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.communicate(timeout=30)
            with store.engine.begin() as conn:
                conn.execute(update(Lease).where(Lease.owner.like(f"{process.pid}-%")).values(expires_at=LONG_AGO))
            pending_after_kills += check(store, sandbox.summary(), refunded)["pending"]

        sandbox.call("/_sandbox/faults", {"xseries": {}})
        final = sync()
        out, err = final.communicate(timeout=120)
        assert final.returncode == 0, err[-3000:]
        counts = check(store, sandbox.summary(), refunded, final=True)
        store.close()
    finally:
        sandbox.stop()

    report_counts("return crash suite", {"refunds": len(refunded), "returns": counts["returns"],
                                         "duplicates": counts["duplicates"], "sigkills": kills, "rounds": rounds,
                                         "returns_cut_off_by_kills": pending_after_kills})
    assert pending_after_kills >= KILLS // 2  # kills did land between a return's write and its binding
