"""Both simulators served on localhost in a subprocess, for suites that run order-sync as real
processes (crash suite, JSON logs). Real time and sockets; waits are polled.

Unlike tests/sync/served_sandbox.py it takes the seeded history's length and a Python snippet run in
the server process before it serves (`sandbox` in scope), to plant orders the seeder does not make,
and it reads the orders back through the BigCommerce API itself, dates included.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from connector.values import parse_rfc2822
from served_sandbox import stop_process  # tests/sync, on the path via tests/conftest.py

SERVE = """
import sys, uvicorn
from connector.sandbox.serve import build_sandbox
port, orders, seed, days = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sandbox = build_sandbox(orders=orders, seed=seed, bc_quota=100_000, xs_rate_limit=100_000, history_days=days)
exec(sys.argv[5], {"sandbox": sandbox})
uvicorn.run(sandbox, host="127.0.0.1", port=port, log_level="warning")
"""

BC_TOKEN, XS_TOKEN = "bc-test-token", "xs-test-token"
ENV = {"REL_BC_TOKEN": BC_TOKEN, "REL_XS_TOKEN": XS_TOKEN}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, *, orders: int, seed: int, history_days: float = 2.0, plant: str = "") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(self.port), str(orders), str(seed), str(history_days), plant],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.call("/_sandbox/health")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the sandbox did not start: {self.proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.05)

    def call(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET",
                                         headers={"Accept": "application/json", **(headers or {})})
        with urllib.request.urlopen(request, timeout=30) as answer:
            raw = answer.read()
            return json.loads(raw) if raw else None

    def summary(self) -> dict:
        return self.call("/_sandbox/summary")

    def health(self) -> dict:
        return self.call("/_sandbox/health")

    def set_status(self, order_id: int, status_id: int) -> None:
        self.call(f"/_sandbox/orders/{order_id}/status", {"status_id": status_id})

    def orders(self) -> dict[int, dict]:
        """Every order as the BigCommerce API shows it: {id: {status_id, created, modified}}."""
        found: dict[int, dict] = {}
        page = 1
        while True:
            rows = self.call(f"/stores/abc123/v2/orders?limit=250&page={page}&sort=id",
                             headers={"X-Auth-Token": BC_TOKEN}) or []
            for row in rows:
                found[row["id"]] = {"status_id": row["status_id"], "created": parse_rfc2822(row["date_created"]),
                                    "modified": parse_rfc2822(row["date_modified"])}
            if len(rows) < 250:
                return found
            page += 1

    def write_config(self, path: Path, database_url: str, *, start_at: datetime, **sync: Any) -> Path:
        lines = [
            "bigcommerce:",
            "  store_hash: abc123",
            "  access_token: ${REL_BC_TOKEN}",
            f"  api_url: {self.url}",
            "xseries:",
            "  domain_prefix: mystore",
            "  token: ${REL_XS_TOKEN}",
            f"  api_url: {self.url}",
            "  outlet: Main Outlet",
            "  register: Online Store",
            f"database_url: {database_url}",
            "historical_import:",
            "  enabled: true",
            "sync:",
            f"  start_at: {start_at.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            *(f"  {key}: {value}" for key, value in sync.items()),
        ]
        path.write_text("\n".join(lines) + "\n")
        return path

    def stop(self) -> None:
        stop_process(self.proc)


def order_sync(*args: str, cwd: Path, **popen: Any) -> subprocess.Popen:
    """`python -m connector ARGS` as its own process (the installed command's module form)."""
    return subprocess.Popen([sys.executable, "-m", "connector", *args], cwd=cwd, env={**os.environ, **ENV},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
