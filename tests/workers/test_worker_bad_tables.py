"""A broken mapping table stops `order-sync worker` at start (exit 2, recorded for `status`), as it
stops `run`; one a job meets (a pair started after the file was broken, a payment type X-Series has
not) is logged as a file to fix and recorded, not as an outage "retrying next sync"."""

from __future__ import annotations

import logging
import shutil

import pytest

from connector.cli import main
from connector.commands import START_FAILED
from connector.mapping.tables import DEFAULTS_DIR
from connector.store.repository import Store
from connector.workers import command
from sync_world import make_world
from test_worker_queue import write_config

BROKEN = "methods: [Credit Card\n"


@pytest.mark.postgres
@pytest.mark.parametrize("table, enabled", [("payment_methods.yaml", False), ("id_verification.yaml", True)])
def test_a_worker_with_a_broken_table_exits_2_and_status_shows_why(postgres_url, tmp_path, capsys, monkeypatch,
                                                                   table, enabled):
    worked = []

    async def work(*args, **kwargs) -> int:  # the worker's loop, which runs until stopped
        worked.append(1)
        return 0

    monkeypatch.setattr(command, "_work", work)
    mappings = tmp_path / "mappings"
    shutil.copytree(DEFAULTS_DIR, mappings)
    (mappings / table).write_text(BROKEN)
    config = write_config(tmp_path, postgres_url)
    config.write_text(config.read_text() + f"mappings_dir: {mappings}\n"
                      + ("id_verification: {enabled: true}\n" if enabled else ""))
    assert main(["--config", str(config), "worker"]) == 2
    assert f"{table}:1" in capsys.readouterr().err and not worked
    assert main(["--config", str(config), "status"]) == 0
    assert f"start-up of `worker`: configuration error: {mappings / table}:1" in capsys.readouterr().out


async def test_a_job_meeting_a_broken_table_says_fix_it_then_restart_and_records_it_once(tmp_path, caplog):
    mappings = tmp_path / "mappings"
    shutil.copytree(DEFAULTS_DIR, mappings)
    world = make_world(f"sqlite:///{tmp_path / 'state.db'}", tmp_path, mappings_dir=mappings)
    (mappings / "payment_methods.yaml").write_text(BROKEN)  # after the worker started, before the pair's first job
    store = Store.open(world.database_url, clock=world.clock)
    runtimes = world.pair_runtimes(store)
    try:
        with caplog.at_level(logging.ERROR, logger="connector.workers"):
            assert await runtimes.sync("default", 1) == "stopped"
            assert await runtimes.sync("default", 2) == "stopped"
        recorded = [e for e in store.audit_entries() if e.action == START_FAILED]
    finally:
        await runtimes.aclose()
        store.close()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("fix the file, then restart the worker" in m for m in lines), lines
    assert not any("retrying" in m for m in lines)
    assert len(recorded) == 1 and recorded[0].target_id == "worker" and "payment_methods.yaml:1" in recorded[0].reason
