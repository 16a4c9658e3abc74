"""A fleet of store pairs for the worker tests: N simulated BigCommerce + X-Series sandboxes served on
N localhost ports by a few subprocesses, a `pairs:` config naming them all, and `order-sync worker`
processes. Real time and sockets; waits are polled.

Each sandbox is seeded on its own (seed = its index), so every simulated store numbers its orders
from 1: two pairs share order ids, as two real stores do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Coroutine

from connector.mapping.status_table import PosState
from connector.mapping.tables import MappingTables

# Quotas out of the way: these tests are about sharing the work, not pacing it.
SERVE = """
import asyncio, json, sys, uvicorn
from connector.sandbox.serve import build_sandbox
orders, specs = int(sys.argv[1]), json.loads(sys.argv[2])
async def main():
    servers = [uvicorn.Server(uvicorn.Config(
        build_sandbox(orders=orders, seed=seed, bc_quota=1_000_000, xs_rate_limit=1_000_000, history_days=1.0),
        host="127.0.0.1", port=port, log_level="warning")) for port, seed in specs]
    await asyncio.gather(*(s.serve() for s in servers))
asyncio.run(main())
"""

ENV = {"FLEET_BC_TOKEN": "bc-test-token", "FLEET_XS_TOKEN": "xs-test-token"}
STATUSES = MappingTables.load(None).statuses


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


class Fleet:
    def __init__(self, pairs: int, orders: int, *, processes: int = 4) -> None:
        self.ports = free_ports(pairs)
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        specs = [(port, seed) for seed, port in enumerate(self.ports, start=1)]
        self.procs = [subprocess.Popen([sys.executable, "-c", SERVE, str(orders), json.dumps(specs[i::processes])],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                      for i in range(min(processes, pairs))]
        deadline = time.monotonic() + 60
        for url in self.urls:
            while True:
                try:
                    call(url + "/_sandbox/health")
                    break
                except OSError:
                    if any(p.poll() is not None for p in self.procs) or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError("the sandboxes did not start: "
                                           + "".join(p.stderr.read().decode()[-2000:] for p in self.procs))
                    time.sleep(0.05)

    def names(self) -> list[str]:
        return [f"store{i:02d}" for i in range(1, len(self.urls) + 1)]

    def write_config(self, path: Path, database_url: str, *, interval_seconds: int = 5, pairs: int | None = None,
                     **workers: Any) -> Path:
        """Every pair synced every interval_seconds: short, but not so short that the pairs already
        mirrored take the CPU from those still at work. `pairs`: the first ones only (the file as it
        was before the others were added)."""
        start_at = datetime.now(timezone.utc) - timedelta(days=2)
        lines = []
        for name, url in list(zip(self.names(), self.urls))[:pairs]:
            lines += [f"  - name: {name}",
                      "    bigcommerce:", "      store_hash: abc123", "      access_token: ${FLEET_BC_TOKEN}",
                      f"      api_url: {url}",
                      "    xseries:", "      domain_prefix: mystore", "      token: ${FLEET_XS_TOKEN}",
                      f"      api_url: {url}", "      outlet: Main Outlet", "      register: Online Store"]
        lines = ["pairs:", *lines, f"database_url: {database_url}",
                 "historical_import:", "  enabled: true",  # start_at two days back, before the seeded orders
                 "sync:", f"  start_at: {start_at:%Y-%m-%dT%H:%M:%SZ}", f"  interval_seconds: {interval_seconds}",
                 *(["workers:"] if workers else []), *(f"  {key}: {value}" for key, value in workers.items())]
        path.write_text("\n".join(lines) + "\n")
        return path

    def summaries(self) -> list[dict]:
        return [call(url + "/_sandbox/summary") for url in self.urls]

    def stop(self) -> None:
        for proc in self.procs:
            stop(proc)


def call(url: str) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}),
                                timeout=30) as answer:
        return json.loads(answer.read())


def mirror_check(summary: dict) -> dict[str, int]:
    """One store's counts: orders that should have a sale, how many have one, duplicates and strays
    (sales of orders that should have none)."""
    sales = [s for s in summary["sales"] if not s["return_for"]]
    per_order = Counter(str(s["source_id"]) for s in sales)
    invoices = Counter(s["invoice_number"] for s in sales)
    wanted = {order_id for order_id, status in summary["orders"].items()
              if STATUSES.pos_state(status) is not PosState.NOT_IMPORTED}
    return {"wanted": len(wanted), "mirrored": len(wanted & set(per_order)),
            "duplicates": sum(n - 1 for n in per_order.values()) + sum(n - 1 for n in invoices.values()),
            "strays": len(set(per_order) - wanted)}


def worker(config: Path, log: Path, *args: str) -> subprocess.Popen:
    """`order-sync worker` as its own process, its log in a file (read to see which jobs it ran)."""
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "connector", "--config", str(config), "worker", *args],
                                cwd=config.parent, env={**os.environ, **ENV}, stdout=out, stderr=subprocess.STDOUT,
                                text=True)


async def worker_until(work: Coroutine, ready: Callable[[], Awaitable[bool]]) -> None:
    """Run a worker (`_work(...)`) as a task until `ready()` says so (polled, at most ~60 s, the
    worker never ending on its own meanwhile), then stop it."""
    worker = asyncio.create_task(work)
    try:
        for _ in range(600):
            assert not worker.done(), worker
            if await ready():
                return
            await asyncio.sleep(0.1)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
