"""The command line on a first day (issue 14 §6): output into a closed pipe ends quietly, --log-level
takes only known levels, a refused token is named by its key and variable, `status` shows the last
failed start-up or cycle, `sync` exits 1 while an order is failed or parked, and every order written
gets one INFO line carrying its order_id.

In-process runs go through connector.cli.main against a world's simulators (tests/bad_input/
cli_world.py); the pipe tests run `python -m connector` as a real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE / "sync", HERE / "bad_input"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from cli_world import BC_ENV, XS_ENV, run_cli_async, write_config  # noqa: E402
from connector.cli import build_parser, main  # noqa: E402
from connector.store.repository import Store  # noqa: E402
from connector.store.tables import AuditEntry  # noqa: E402

PIPE_ENV = {"PIPE_BC": "bc-token-pipe-test", "PIPE_XS": "xs-token-pipe-test"}


def _offline_config(tmp_path: Path) -> Path:
    """A config for commands that only read the store (status, audit): the APIs are never called."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "bigcommerce:\n  store_hash: abc123\n  access_token: ${PIPE_BC}\n  api_url: http://127.0.0.1:9\n"
        "xseries:\n  domain_prefix: mystore\n  token: ${PIPE_XS}\n  api_url: http://127.0.0.1:9\n"
        "  outlet: Main Outlet\n  register: Online Store\n"
        f"database_url: sqlite:///{tmp_path / 'pipe.db'}\n"
    )
    return config


def _order_sync(*args: str) -> list[str]:
    return [sys.executable, "-m", "connector", *args]


def _assert_quiet(stderr: str) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr and "BrokenPipe" not in stderr, stderr


def test_audit_into_head_ends_quietly(tmp_path):
    config = _offline_config(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'pipe.db'}")
    try:
        with store.session() as s:  # far more than a pipe buffer holds: head leaves mid-output
            s.add_all(AuditEntry(at=datetime(2026, 1, 1, tzinfo=timezone.utc), platform="xseries",
                                 action="create_sale", bc_order_id=i, target_id=f"sale-{i}",
                                 reason="a reason long enough to fill the pipe quickly " * 2)
                      for i in range(3000))
            s.commit()
    finally:
        store.close()
    command = " ".join(_order_sync("--config", str(config), "audit", "--limit", "3000")) + " | head -n 1"
    done = subprocess.run(["bash", "-c", "set -o pipefail; " + command], capture_output=True, text=True,
                          env={**os.environ, **PIPE_ENV}, timeout=60)
    assert done.stdout.count("\n") == 1 and "create_sale" in done.stdout
    _assert_quiet(done.stderr)
    assert done.returncode == 141  # what a shell reports for a reader gone (`yes | head` too)


def test_status_into_a_pipe_closed_early_ends_quietly(tmp_path):
    config = _offline_config(tmp_path)
    process = subprocess.Popen(_order_sync("--config", str(config), "status"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, **PIPE_ENV})
    process.stdout.close()  # the reader is gone before the command writes a byte
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 141
    _assert_quiet(stderr)


def test_log_level_takes_only_known_levels_in_any_case(capsys):
    parser = build_parser()
    assert parser.parse_args(["--log-level", "debug", "status"]).log_level == "DEBUG"
    assert parser.parse_args(["status", "--log-level", "Warning"]).log_level == "WARNING"
    with pytest.raises(SystemExit) as exited:
        main(["--log-level", "LOUD", "status"])
    assert exited.value.code == 2 and "invalid choice: 'LOUD'" in capsys.readouterr().err


@pytest.mark.parametrize("api", ["bigcommerce", "xseries"])
async def test_a_refused_token_is_named_by_key_and_variable_and_status_shows_it(world, tmp_path, monkeypatch,
                                                                                  capsys, api):
    config = write_config(world, tmp_path / "config.yaml")
    tokens = {"bc_token": "refused-bc-token"} if api == "bigcommerce" else {"xs_token": "refused-xs-token"}
    named = ("bigcommerce.access_token (${%s})" % BC_ENV if api == "bigcommerce"
             else "xseries.token (${%s})" % XS_ENV)

    assert await run_cli_async(world, monkeypatch, config, "sync", **tokens) == 2
    err = capsys.readouterr().err
    assert f"credentials error: {named} was refused" in err, err
    assert "refused-bc-token" not in err and "refused-xs-token" not in err

    assert await run_cli_async(world, monkeypatch, config, "status") == 0
    out = capsys.readouterr().out
    # Both are asked at start-up: X-Series for the outlet, register and payment types, BigCommerce
    # for its newest orders (on an empty store: is the state database lost? issue 16).
    assert f"start-up of `sync`: credentials error: {named} was refused" in out, out
    assert "refused-" not in out


async def test_status_shows_a_cycle_stopped_by_an_api_that_stayed_down(world, tmp_path, monkeypatch, capsys):
    config = write_config(world, tmp_path / "config.yaml")
    world.add_order()
    assert await run_cli_async(world, monkeypatch, config, "sync") == 0  # a good cycle first

    def orders_down(request, status, body):
        if request.method == "GET" and request.url.path.endswith("/v2/orders"):
            return 503, {"title": "maintenance"}, "application/json"
        return None

    world.clock.advance(60)
    assert await run_cli_async(world, monkeypatch, config, "sync", bc_edit=orders_down) == 1
    capsys.readouterr()
    assert await run_cli_async(world, monkeypatch, config, "status") == 0
    out = capsys.readouterr().out
    assert "last failure: " in out and "cycle of `sync`: BigCommerce GET" in out and "503" in out, out
    assert "a later cycle went well" not in out

    world.clock.advance(60)
    assert await run_cli_async(world, monkeypatch, config, "sync") == 0
    assert await run_cli_async(world, monkeypatch, config, "status") == 0
    assert "(a later cycle went well)" in capsys.readouterr().out


async def test_sync_exits_1_while_an_earlier_failure_is_parked(world, tmp_path, monkeypatch, capsys):
    config = write_config(world, tmp_path / "config.yaml")
    odd = world.add_order()
    world.bc.orders[odd].update(status_id=15, status="Layaway")  # unknown status: parked at once
    world.clock.advance(5)  # it fails seconds after its last change: later cycles leave it parked

    assert await run_cli_async(world, monkeypatch, config, "sync") == 1
    world.clock.advance(60)
    # Nothing failed in this cycle (the parked order is not tried again), but it still waits for a
    # person: monitoring by exit code must see it.
    assert await run_cli_async(world, monkeypatch, config, "sync") == 1
    capsys.readouterr()
    assert await run_cli_async(world, monkeypatch, config, "status") == 0
    assert "1 attempt(s), parked" in capsys.readouterr().out  # really not retried by the second cycle

    world.set_status(odd, 11)  # the merchant fixes it; retry-failed makes it due
    assert await run_cli_async(world, monkeypatch, config, "retry-failed") == 0
    world.clock.advance(60)
    assert await run_cli_async(world, monkeypatch, config, "sync") == 0
    assert world.sale(odd)["status"] == "CLOSED"


async def test_each_order_written_gets_one_info_line_with_its_order_id(world, tmp_path, monkeypatch, capsys):
    config = write_config(world, tmp_path / "config.yaml")
    order = world.add_order()
    pending = world.add_order(status_id=1)  # not imported: nothing written, no line

    assert await run_cli_async(world, monkeypatch, config, "--log-format", "json", "sync") == 0
    world.set_status(order, 5)  # cancelled: the sale is voided
    world.clock.advance(60)
    assert await run_cli_async(world, monkeypatch, config, "--log-format", "json", "sync") == 0

    lines = [json.loads(text) for text in capsys.readouterr().err.splitlines() if text.startswith("{")]
    written = [(e["level"], e["message"], e.get("order_id")) for e in lines if ": sale BC-" in e["message"]]
    assert written == [
        ("info", f"order {order}: sale BC-{order} created CLOSED", order),
        ("info", f"order {order}: sale BC-{order} voided (was CLOSED)", order),
    ], written
    assert not any(f"order {pending}: sale" in e["message"] for e in lines)
