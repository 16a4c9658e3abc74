"""How fast the console's pages answer with 100,000 audit rows in the store (issue 18: ≤ 200 ms).

Both simulators run in-process (the test suite's sync world), a few hundred orders are mirrored
for real, then 100,000 audit rows of 5,000 other orders are bulk-inserted. Each page is fetched
through an ASGI client (no socket: the figure is the page's own work), logged in, --rounds times:

    python benchmarks/console_bench.py
    python benchmarks/console_bench.py --database-url postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

# The sync world of the tests: both simulators and a runtime wired to them, on one fake clock.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "sync"))
from sync_world import line, make_world  # noqa: E402

from connector.console.app import console_app  # noqa: E402
from connector.console.passwords import hash_password  # noqa: E402
from connector.config import Settings  # noqa: E402
from connector.store.journal import AUDIT_INSERT  # noqa: E402

BUDGET_MS = 200.0
ACTIONS = ("create_sale", "create_customer", "set_status", "idv_skipped_protected", "void_sale")


def bulk_audit(store, rows: int, orders: int) -> None:
    """`rows` audit entries spread over `orders` orders (ids far above the mirrored ones)."""
    start = store.clock.now() - timedelta(days=30)
    batch = []
    with store.engine.begin() as conn:
        for i in range(rows):
            batch.append({"pair": store.pair, "at": start + timedelta(seconds=i), "platform": "xseries",
                          "action": ACTIONS[i % len(ACTIONS)], "bc_order_id": 1_000_000 + i % orders,
                          "target_id": f"sale-{i}", "reason": "bulk row for the benchmark", "before": None,
                          "after": "CLOSED", "detail": None})
            if len(batch) == 5000:
                conn.execute(AUDIT_INSERT, batch)
                batch = []
        if batch:
            conn.execute(AUDIT_INSERT, batch)


async def main(args: argparse.Namespace) -> int:
    logging.disable(logging.WARNING)  # the parked orders' warnings are expected
    folder = Path(tempfile.mkdtemp(prefix="console-bench-"))
    world = make_world(args.database_url or f"sqlite:///{folder / 'bench.db'}", folder)
    runtime = await world.runtime()
    ids = [world.add_order([line("TEE-M", 1 + i % 3)]) for i in range(args.orders)]
    for _ in range(5):
        world.add_order([line("TEE-L")], default_currency_code="EUR")  # failed, parked, an exception each
    await world.cycle()
    for order in ids[: args.orders // 4]:
        world.set_status(order, 5)
    await world.cycle()
    started = time.perf_counter()
    bulk_audit(runtime.store, args.audit_rows, 5000)
    print(f"{args.audit_rows:,} audit rows inserted in {time.perf_counter() - started:.1f} s "
          f"({runtime.store.count_audit():,} in the store)")

    data = runtime.settings.model_dump(by_alias=True)
    data["console"] = {"enabled": True, "users": [{"name": "ann", "password_hash": hash_password("pw")}]}
    app = console_app(Settings.model_validate(data), {runtime.settings.pair: runtime})
    pages = {"overview": "/", "order page": f"/pairs/default/orders/{ids[0]}",
             "order page (bulk order)": "/pairs/default/orders/1000007", "search": f"/search?q=BC-{ids[1]}",
             "failed orders": "/failed", "exceptions": "/exceptions", "settings": "/settings"}
    worst = 0.0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console") as client:
        form = (await client.get("/login")).text
        token = form.split('name="csrf_token" value="')[1].split('"')[0]
        assert (await client.post("/login", data={"name": "ann", "password": "pw", "csrf_token": token})).status_code == 303
        print(f"{'page':<26}{'p50 ms':>9}{'max ms':>9}")
        for name, path in pages.items():
            times = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                answer = await client.get(path)
                times.append((time.perf_counter() - t) * 1000)
                assert answer.status_code in (200, 303), (path, answer.status_code)
            worst = max(worst, max(times))
            print(f"{name:<26}{statistics.median(times):>9.1f}{max(times):>9.1f}")
    print(f"slowest answer {worst:.1f} ms; budget {BUDGET_MS:.0f} ms: {'within' if worst <= BUDGET_MS else 'OVER'}")
    await world.close()
    return 0 if worst <= BUDGET_MS else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument("--orders", type=int, default=200, help="orders mirrored for real (default 200)")
    parser.add_argument("--audit-rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20, help="fetches of each page")
    sys.exit(asyncio.run(main(parser.parse_args())))
