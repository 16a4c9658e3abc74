"""A worker's sync job with ID verification off records, as the daemon's cycle does, that the
verdicts of that time are not to be applied (connector/idv/resume.py): turned on again, the poll
starts from there, not from where it stopped."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from connector.config import load_settings
from connector.idv.metafields import CURSOR
from connector.idv.resume import OFF_CURSOR
from connector.store.repository import Store
from connector.workers.tasks import PairRuntimes
from fleet import ENV, Fleet

pytestmark = pytest.mark.postgres


async def test_a_sync_job_with_id_verification_off_marks_its_time(postgres_url, tmp_path):
    fleet = Fleet(2, 3, processes=1)
    try:
        settings = load_settings(fleet.write_config(tmp_path / "config.yaml", postgres_url), environ=ENV)
        assert not settings.id_verification.enabled
        store = Store.open(postgres_url)
        try:
            weeks_ago = datetime.now(timezone.utc) - timedelta(days=21)
            store.for_pair("store01").set_cursor(weeks_ago, CURSOR)  # it was on, weeks ago
            runtimes = PairRuntimes(settings, store, asyncio.Event())
            try:
                before = datetime.now(timezone.utc)
                for pair in ("store01", "store02"):
                    await runtimes.sync(pair, None)
            finally:
                await runtimes.aclose()
            assert store.for_pair("store01").cursor(OFF_CURSOR) >= before
            # store02 never had it on: nothing recorded.
            assert store.for_pair("store02").cursor(CURSOR) is None
            assert store.for_pair("store02").cursor(OFF_CURSOR) is None
        finally:
            store.close()
    finally:
        fleet.stop()
