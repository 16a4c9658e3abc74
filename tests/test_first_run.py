"""A first run that cannot hurt (issue 14 §6): config.example.yaml copied as it is mirrors nothing
from the past, a start_at days back is refused by `sync` and `run` unless the historical import is
enabled, and a webhook secret that is not needed may stay unset.

`sync` runs through the real command line against a world's in-process simulators on its FakeClock
(tests/bad_input/cli_world.py), so "24 hours before the first run" is measured on that clock.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE / "sync", HERE / "bad_input"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from cli_world import run_cli_async, write_config  # noqa: E402
from connector.cli import main  # noqa: E402
from connector.config import load_settings  # noqa: E402
from connector.store.repository import Store  # noqa: E402
from sync_world import START  # noqa: E402

EXAMPLE = HERE.parent / "config.example.yaml"
README = HERE.parent / "README.md"
ENABLE_IMPORT = "historical_import:\n  enabled: true\n"


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


async def test_sync_refuses_a_first_run_from_days_back_and_says_import_history(world, tmp_path, monkeypatch,
                                                                                 capsys):
    old = world.add_order(date_created=START - timedelta(days=2))
    world.start_at = START - timedelta(days=3)
    config = write_config(world, tmp_path / "config.yaml")

    assert await run_cli_async(world, monkeypatch, config, "sync") == 2

    err = capsys.readouterr().err
    assert f"{config}:{_line_of(config, 'start_at')}: sync.start_at" in err
    assert "import-history" in err and "historical_import.enabled" in err
    assert world.xs_writes() == 0 and world.sales(old) == []
    store = Store.open(world.database_url)
    try:
        assert store.cursor() is None  # refused before the cycle: the next run is still a first run
    finally:
        store.close()


async def test_a_few_hours_back_is_allowed_on_a_first_run(world, tmp_path, monkeypatch):
    # Orders placed just before going live are what a short start_at is for.
    just_before = world.add_order(date_created=START - timedelta(hours=2))
    world.start_at = START - timedelta(hours=23)
    config = write_config(world, tmp_path / "config.yaml")

    assert await run_cli_async(world, monkeypatch, config, "sync") == 0
    assert world.sale(just_before)["status"] == "CLOSED"


async def test_historical_import_enabled_lets_the_first_run_reach_back(world, tmp_path, monkeypatch):
    old = world.add_order(date_created=START - timedelta(days=2))
    world.start_at = START - timedelta(days=3)
    config = write_config(world, tmp_path / "config.yaml")
    config.write_text(config.read_text() + ENABLE_IMPORT)

    assert await run_cli_async(world, monkeypatch, config, "sync") == 0
    assert world.sale(old)["status"] == "CLOSED"


async def test_start_at_is_not_read_once_a_cursor_exists(world, tmp_path, monkeypatch):
    config = write_config(world, tmp_path / "config.yaml")  # start_at an hour back
    assert await run_cli_async(world, monkeypatch, config, "sync") == 0

    world.start_at = START - timedelta(days=30)  # edited later: no longer a first run
    write_config(world, config)
    world.clock.advance(60)
    placed = world.add_order()
    world.clock.advance(1)
    assert await run_cli_async(world, monkeypatch, config, "sync") == 0
    assert world.sale(placed)["status"] == "CLOSED"


def test_run_refuses_it_too_before_touching_either_api(tmp_path, capsys, monkeypatch):
    # APIs on a closed port: the refusal must come before any request (else exit 1 or a wait).
    monkeypatch.setenv("FR_BC", "bc-token-first-run")
    monkeypatch.setenv("FR_XS", "xs-token-first-run")
    config = tmp_path / "config.yaml"
    config.write_text(
        "bigcommerce:\n  store_hash: abc123\n  access_token: ${FR_BC}\n  api_url: http://127.0.0.1:9\n"
        "xseries:\n  domain_prefix: mystore\n  token: ${FR_XS}\n  api_url: http://127.0.0.1:9\n"
        "  outlet: Main Outlet\n  register: Online Store\n"
        f"database_url: sqlite:///{tmp_path / 'run.db'}\n"
        "sync:\n  start_at: 2020-01-01T00:00:00Z\n"
    )
    from connector.runtime import Runtime

    async def no_request(settings, **options):  # without the check it would wait for the APIs
        raise AssertionError("an API was asked")

    monkeypatch.setattr(Runtime, "start", staticmethod(no_request))
    assert main(["--config", str(config), "run"]) == 2
    err = capsys.readouterr().err
    assert f"{config}:13: sync.start_at 2020-01-01T00:00:00Z" in err and "import-history" in err
    assert "token-first-run" not in err

    capsys.readouterr()
    assert main(["--config", str(config), "status"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"last failure: \S+ \S+Z start-up of `run`: configuration error: .*sync\.start_at", out), out


async def test_the_example_config_copied_as_it_is_mirrors_nothing_from_the_past(world, tmp_path, monkeypatch):
    """Only the store's own values changed (and the simulators' addresses): no start_at, ID
    verification off and ORDER_SYNC_WEBHOOK_SECRET unset."""
    old = world.add_order(date_created=START - timedelta(days=5))
    text = EXAMPLE.read_text()
    for old_text, new_text in [
        ("store_hash: abc123", f"store_hash: {world.bc.store_hash}"),
        ("api_url: https://api.bigcommerce.com", f"api_url: {world.bc.base_url}"),
        ("domain_prefix: mystore", f"domain_prefix: {world.xs.domain_prefix}"),
        ("api_url: https://mystore.retail.lightspeed.app", f"api_url: {world.xs.base_url}"),
        ("user: api@example.com", "user: "),
        ("database_url: sqlite:///order-sync.db", f"database_url: {world.database_url}"),
        ("mappings_dir: mappings", f"mappings_dir: {world.mappings_dir}"),
    ]:
        assert old_text in text, old_text
        text = text.replace(old_text, new_text, 1)
    config = tmp_path / "config.yaml"
    config.write_text(text)
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", world.bc.access_token)
    monkeypatch.setenv("XSERIES_TOKEN", world.xs.token)
    monkeypatch.delenv("ORDER_SYNC_WEBHOOK_SECRET", raising=False)

    assert await run_cli_async(world, monkeypatch, config, "sync") == 0
    assert world.sales(old) == [] and world.xs_writes() == 0


def test_the_example_leaves_start_at_out(monkeypatch):
    settings = load_settings(EXAMPLE, environ={"BIGCOMMERCE_ACCESS_TOKEN": "t", "XSERIES_TOKEN": "t"})
    assert settings.sync.start_at is None
    assert settings.id_verification.enabled is False and settings.id_verification.webhook_secret is None


def test_the_readme_lists_every_environment_variable_the_example_uses():
    values = "\n".join(line.split("#", 1)[0] for line in EXAMPLE.read_text().splitlines())  # not comments
    # ... and every ORDER_SYNC_* variable the code reads.
    code = "".join(path.read_text() for path in (HERE.parent / "connector").rglob("*.py"))
    used = set(re.findall(r"\$\{([A-Z0-9_]+)\}", values)) | set(re.findall(r"[\"'](ORDER_SYNC_[A-Z0-9_]+)[\"']", code))
    assert "ORDER_SYNC_CONFIG" in used
    assert {"BIGCOMMERCE_ACCESS_TOKEN", "XSERIES_TOKEN", "ORDER_SYNC_WEBHOOK_SECRET"} <= used
    section = README.read_text().split("## Running it for a store", 1)[1].split("\n## ", 1)[0]
    table_rows = {m for m in re.findall(r"^\| `([A-Z0-9_]+)` \|", section, re.M)}
    assert used <= table_rows, f"README's table misses {sorted(used - table_rows)}"


@pytest.mark.parametrize("enabled", ["false", "true"])
def test_an_unset_webhook_secret_fails_only_when_id_verification_is_on(tmp_path, enabled):
    text = EXAMPLE.read_text().replace("  enabled: false                            # apply ID",
                                       f"  enabled: {enabled}                            # apply ID", 1)
    path = tmp_path / "config.yaml"
    path.write_text(text)
    environ = {"BIGCOMMERCE_ACCESS_TOKEN": "t", "XSERIES_TOKEN": "t"}
    if enabled == "false":
        assert load_settings(path, environ=environ).id_verification.webhook_secret is None
        return
    from connector.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        load_settings(path, environ=environ)
    message = str(error.value)
    line = _line_of(path, "webhook_secret: ${ORDER_SYNC_WEBHOOK_SECRET}")  # id_verification's, not bigcommerce's
    assert f"{path}:{line}: id_verification.webhook_secret" in message
    assert "${ORDER_SYNC_WEBHOOK_SECRET}" in message and "id_verification.enabled is true" in message
