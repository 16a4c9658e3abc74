"""The command line: exit codes of `sync`, the `status` report, `retry-failed`, `demo`, and the
`run` daemon stopping cleanly on SIGTERM.

One-shot commands run through connector.cli.main against in-process simulators (Runtime.start is
wrapped to inject their transports); the daemon runs as a real process against a served sandbox.
"""

from __future__ import annotations

import getpass
import re
import signal
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from connector.cli import main
from connector.clock import SYSTEM_CLOCK
from connector.runtime import Runtime
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.xseries import XSeriesSimulator
from connector.store.repository import Store
from sync.served_sandbox import ServedSandbox, order_sync

LINE = {"product_id": 111, "variant_id": 0, "sku": "TEE-M", "name": "Tee M", "unit_price": Decimal("20.00"),
        "quantity": 1}
JANE = {"id": 1, "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"}


class Shop:
    """Both simulators in-process on the system clock, and a config file pointing at them."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bc = BigCommerceSimulator(clock=SYSTEM_CLOCK)
        self.xs = XSeriesSimulator(clock=SYSTEM_CLOCK, rate_limit=100_000)
        self.xs.add_product(sku="TEE-M", name="Tee M", price_excluding_tax=Decimal("20"), inventory=10)
        self.database_url = f"sqlite:///{tmp_path / 'cli.db'}"
        self.config = tmp_path / "config.yaml"
        self.write_config()
        monkeypatch.setenv("TEST_BC_TOKEN", self.bc.access_token)
        monkeypatch.setenv("TEST_XS_TOKEN", self.xs.token)
        start = Runtime.start.__func__
        bc, xs = self.bc, self.xs

        async def start_on_simulators(cls, settings, **options):
            return await start(cls, settings, bc_transport=bc.transport(), xs_transport=xs.transport(), **options)

        monkeypatch.setattr(Runtime, "start", classmethod(start_on_simulators))

    def write_config(self, *, extra_xseries: str = "", bc_token: str = "${TEST_BC_TOKEN}") -> None:
        # Two hours back: the orders of a test are placed an hour ago, and a first run may reach at
        # most 24 hours back (further is the historical import).
        start_at = (SYSTEM_CLOCK.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.config.write_text(
            "bigcommerce:\n"
            "  store_hash: abc123\n"
            f"  access_token: {bc_token}\n"
            f"  api_url: {self.bc.base_url}\n"
            "xseries:\n"
            "  domain_prefix: mystore\n"
            "  token: ${TEST_XS_TOKEN}\n"
            f"  api_url: {self.xs.base_url}\n"
            "  outlet: Main Outlet\n"
            "  register: Online Store\n"
            f"{extra_xseries}"
            f"database_url: {self.database_url}\n"
            "sync:\n"
            f"  start_at: {start_at}\n"
        )

    def add_order(self, status_id: int = 11, **kwargs) -> int:
        when = SYSTEM_CLOCK.now() - timedelta(hours=1)
        return self.bc.add_order(customer=JANE, lines=[LINE], status_id=status_id, date_created=when,
                                 **kwargs)["id"]

    def run(self, *args: str) -> int:
        return main([*args, "--config", str(self.config)])

    def store(self) -> Store:
        return Store.open(self.database_url)


@pytest.fixture
def shop(tmp_path, monkeypatch) -> Shop:
    return Shop(tmp_path, monkeypatch)


def test_sync_exits_0_and_status_reports_the_cycle(shop, capsys):
    closed, pending = shop.add_order(11), shop.add_order(1)

    assert shop.run("sync") == 0
    assert [s["source_id"] for s in shop.xs.sales.values()] == [str(closed)]

    capsys.readouterr()
    assert shop.run("status") == 0
    out = capsys.readouterr().out
    assert "cursor: 20" in out
    assert "orders by POS state: closed=1, not_imported=1" in out
    assert "last cycle: started" in out and "ok, 2 seen, 1 written, 0 failed" in out
    assert "failed orders: 0" in out
    assert str(pending) not in out.split("failed orders")[1]


def test_sync_exits_1_when_an_order_failed_and_retry_failed_requeues_it(shop, capsys):
    good, odd = shop.add_order(11), shop.add_order(11)
    shop.bc.orders[odd].update(status_id=15, status="Layaway")

    assert shop.run("sync") == 1
    assert [s["source_id"] for s in shop.xs.sales.values()] == [str(good)]

    capsys.readouterr()
    assert shop.run("status") == 0
    out = capsys.readouterr().out
    assert "failures, 2 seen, 1 written, 1 failed" in out
    assert "failed orders: 1" in out
    assert f"order {odd}: step map, 1 attempt(s), parked: order {odd}: unknown BigCommerce status id 15" in out

    assert shop.run("retry-failed", "--order", str(odd + 1000)) == 0
    assert "0 failed order(s)" in capsys.readouterr().out
    assert shop.run("retry-failed") == 0
    assert "1 failed order(s) will be retried at the next cycle" in capsys.readouterr().out
    store = shop.store()
    [failure] = store.failures()
    [asked] = [e for e in store.audit_entries(bc_order_id=odd) if e.action == "retry_requested"]
    store.close()
    assert not failure.parked and failure.attempts == 0
    assert asked.target_id == getpass.getuser() and "(retry-failed)" in asked.reason  # who, on its timeline

    shop.bc.set_status(odd, 11)  # the merchant fixes the order
    assert shop.run("sync") == 0
    assert sorted(s["source_id"] for s in shop.xs.sales.values()) == sorted([str(good), str(odd)])


def test_sync_exits_2_on_an_unknown_config_key(shop, capsys):
    shop.write_config(extra_xseries="  registr: Online Store\n")
    assert shop.run("sync") == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "config.yaml:" in err and "xseries.registr: unknown key" in err


def test_sync_exits_2_on_a_missing_environment_variable(shop, capsys, monkeypatch):
    monkeypatch.delenv("TEST_BC_TOKEN")
    assert shop.run("sync") == 2
    err = capsys.readouterr().err
    assert "${TEST_BC_TOKEN}" in err and "not set in the environment" in err
    assert "bc-test-token" not in err


def test_sync_exits_2_on_rejected_credentials(shop, capsys, monkeypatch):
    shop.add_order(11)
    monkeypatch.setenv("TEST_XS_TOKEN", "a-revoked-token")
    assert shop.run("sync") == 2
    err = capsys.readouterr().err
    assert "credentials error" in err and "a-revoked-token" not in err
    assert shop.xs.sales == {}


def test_demo_runs_and_prints_its_table(tmp_path, capsys):
    assert main(["demo", "--orders", "12", "--seed", "3", "--db", str(tmp_path / "demo.db")]) == 0
    out = capsys.readouterr().out
    assert "order-sync demo: 12 BigCommerce orders" in out
    assert "BigCommerce status" in out and "POS state" in out and "invoice" in out
    assert "sales by POS state:" in out and "X-Series writes:" in out
    # The 12 seeded orders and the 3 the demo shows line by line (a split tender, a variant, a fee).
    assert "cycle 1: 15 orders read" in out and "0 failed" in out


def test_run_daemon_mirrors_then_stops_cleanly_on_sigterm(tmp_path):
    sandbox = ServedSandbox(orders=8, seed=2)
    try:
        config = sandbox.write_config(tmp_path / "config.yaml", f"sqlite:///{tmp_path / 'daemon.db'}",
                                      interval_seconds=1)
        daemon = order_sync("run", "--config", str(config), cwd=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while not sandbox.summary()["sales"]:
                assert daemon.poll() is None, daemon.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "no sale was mirrored within 60 s"
                time.sleep(0.1)
            daemon.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            out, err = daemon.communicate(timeout=15)
            stopped_after = time.monotonic() - signalled
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.communicate()
    finally:
        sandbox.stop()
    assert daemon.returncode == 0, err[-3000:]
    assert stopped_after < 5 and "daemon stopped" in err
    # One INFO line per order written (issue 14 §6).
    assert re.search(r"INFO +connector\.sync: order \d+: sale BC-\d+ created (CLOSED|ONACCOUNT|VOIDED)", err), err[-3000:]


def test_exceptions_lists_resolves_and_status_counts_them(shop, capsys, monkeypatch):
    """Issue 16, point 5: an order in another currency is parked and opened as an exception; the
    command lists it, resolves it (audited, with who), and status counts what is open."""
    monkeypatch.setattr("getpass.getuser", lambda: "ann")
    euro = shop.add_order(11, default_currency_code="EUR")
    assert shop.run("sync") == 1

    capsys.readouterr()
    assert shop.run("status") == 0
    assert "open exceptions: 1 (order-sync exceptions)" in capsys.readouterr().out
    assert shop.run("exceptions") == 0
    out = capsys.readouterr().out
    assert "open exceptions: 1" in out
    [listed] = re.findall(rf"#(\d+) order {euro} \[currency\] .*in EUR but X-Series keeps", out)

    assert shop.run("exceptions", "--pair", "elsewhere") == 2
    assert "no store pair 'elsewhere'" in capsys.readouterr().err
    assert shop.run("exceptions", "--pair", "default", "--resolve", listed) == 0
    assert f"exception {listed} (order {euro}, currency) resolved by ann" in capsys.readouterr().out
    assert shop.run("exceptions", "--resolve", listed) == 2  # resolved already
    assert f"order-sync: no open exception {listed} (order-sync exceptions lists them)" in capsys.readouterr().err
    assert shop.run("exceptions", "--resolve", "999") == 2  # no such exception: not the configuration's fault
    err = capsys.readouterr().err
    assert "no open exception 999" in err and "configuration error" not in err
    assert shop.run("status") == 0
    assert "open exceptions: 0" in capsys.readouterr().out
    store = shop.store()
    resolved = [e for e in store.audit_entries(euro) if e.action == "resolve_exception"]
    assert len(resolved) == 1 and resolved[0].reason == "resolved by ann"
    # Resolved (mirrored by hand): the order is out of the failed queue, and sync exits 0 again.
    assert store.failures() == []
    [forgot] = [e for e in store.audit_entries(euro) if e.action == "forget_failure"]
    assert f"exception {listed} resolved by ann" in forgot.reason
    store.close()
    assert shop.run("sync") == 0


def test_import_history_refused_is_a_json_line_under_log_format_json(shop, capsys):
    """The refusal was a plain-text line among JSON ones; it goes through logging like every message."""
    import json

    assert shop.run("import-history", "--log-format", "json") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert any("historical import is off" in r["message"] and r["level"] == "error" for r in records), lines


def test_every_command_takes_log_level_sandbox_serve_too():
    from connector.cli import build_parser

    args = build_parser().parse_args(["sandbox", "serve", "--log-level", "debug", "--log-format", "json"])
    assert (args.log_level, args.log_format) == ("DEBUG", "json")


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_audit_limit_below_one_is_refused(shop, capsys, limit):
    """Before, `audit --limit 0` (or -1) printed every entry: N is how many of the last to show."""
    shop.write_config()
    with pytest.raises(SystemExit) as exited:
        shop.run("audit", "--limit", limit)
    assert exited.value.code == 2
    assert "--limit: must be 1 or more" in capsys.readouterr().err


def test_an_inverted_range_is_refused_not_reported_clean(shop, capsys):
    """`reconcile --since` after `--until` read no order and reported "0 drift", exit 0: a clean bill
    for nothing. Refused with exit 2, as `import-history` is."""
    shop.add_order(11)
    assert shop.run("reconcile", "--since", "2026-12-09", "--until", "2026-12-01") == 2
    captured = capsys.readouterr()
    assert "--since 2026-12-09T00:00:00+00:00 is after --until 2026-12-02T00:00:00+00:00" in captured.err
    assert "configuration error" not in captured.err and "drift" not in captured.out
    shop.config.write_text(shop.config.read_text() + "historical_import:\n  enabled: true\n")
    assert shop.run("import-history", "--since", "2026-12-09", "--until", "2026-12-01") == 2
    assert "is after --until" in capsys.readouterr().err
    assert shop.run("reconcile", "--since", "2026-12-01", "--until", "2026-12-01") == 0  # one whole day
