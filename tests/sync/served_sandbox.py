"""Both simulators served on a free localhost port in a subprocess, for tests of real processes
(two `sync` processes at once, the `run` daemon). Real time, real sockets: waits are polled quickly
with generous limits."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SERVE = """
import sys, uvicorn
from connector.sandbox.serve import build_sandbox
port, orders, seed = (int(a) for a in sys.argv[1:4])
sandbox = build_sandbox(orders=orders, seed=seed, bc_quota=100_000, xs_rate_limit=100_000)
print("ready", flush=True)
uvicorn.run(sandbox, host="127.0.0.1", port=port, log_level="warning")
"""

TOKENS = {"TEST_BC_TOKEN": "bc-test-token", "TEST_XS_TOKEN": "xs-test-token"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedSandbox:
    def __init__(self, *, orders: int, seed: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(self.port), str(orders), str(seed)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.summary()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the sandbox did not start: {self.proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.05)

    def _call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def summary(self) -> dict:
        return self._call("/_sandbox/summary")

    def set_status(self, order_id: int, status_id: int) -> None:
        self._call(f"/_sandbox/orders/{order_id}/status", {"status_id": status_id})

    def write_config(self, path: Path, database_url: str, **sync: Any) -> Path:
        start_at = (datetime.now(timezone.utc) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines = [
            "bigcommerce:",
            "  store_hash: abc123",
            "  access_token: ${TEST_BC_TOKEN}",
            f"  api_url: {self.url}",
            "xseries:",
            "  domain_prefix: mystore",
            "  token: ${TEST_XS_TOKEN}",
            f"  api_url: {self.url}",
            "  outlet: Main Outlet",
            "  register: Online Store",
            f"database_url: {database_url}",
            # The seeded orders are days old: mirroring them is the historical import's door.
            "historical_import:",
            "  enabled: true",
            "sync:",
            f"  start_at: {start_at}",
            *(f"  {key}: {value}" for key, value in sync.items()),
        ]
        path.write_text("\n".join(lines) + "\n")
        return path

    @staticmethod
    def env() -> dict[str, str]:
        return {**os.environ, **TOKENS}

    def stop(self) -> None:
        stop_process(self.proc)


def order_sync(*args: str, cwd: Path, **popen: Any) -> subprocess.Popen:
    """Start `python -m connector ARGS` (the installed command's module form)."""
    return subprocess.Popen([sys.executable, "-m", "connector", *args], cwd=cwd, env=ServedSandbox.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a served sandbox (kill it if it does not stop) and close its pipe."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr:
        proc.stderr.close()


async def wait_until_healthy(client, task, what: str = "the server", seconds: float = 15.0) -> None:
    """Until GET /healthz answers 200 on `client`'s base URL and every pair has started (/readyz names
    none as "still starting": before that, its webhooks answer 503); fails at once if `task` (the
    process's coroutine: run, serve) ended instead."""
    import asyncio

    import httpx

    deadline = time.monotonic() + seconds
    while True:
        assert not task.done(), task.exception()
        assert time.monotonic() < deadline, f"{what} never answered"
        try:
            if (await client.get("/healthz")).status_code == 200:
                reasons = (await client.get("/readyz")).json()["reasons"]
                if not any("still starting" in reason for reason in reasons):
                    return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
