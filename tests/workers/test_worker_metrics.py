"""`order-sync worker --metrics-port N`: a worker serves its own /metrics, so the API requests and
the cycles it ran (the worker's own, in its process) are scraped."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import httpx
import pytest

from connector.config import load_settings
from connector.store.repository import Store
from connector.workers.command import _work
from connector.workers.jobs import defer_sync
from fleet import ENV, Fleet

pytestmark = pytest.mark.postgres


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_worker_exports_the_cycles_it_ran(postgres_url, tmp_path):
    fleet = Fleet(1, 3, processes=1)
    store = None
    try:
        # An hour between periodic syncs: the one job is the sync deferred here.
        settings = load_settings(fleet.write_config(tmp_path / "config.yaml", postgres_url, interval_seconds=3600),
                                 environ=ENV)
        store = Store.open(postgres_url)
        assert await defer_sync(settings, "store01") is True
        port = _free_port()
        worker = asyncio.create_task(_work(settings, store, 1, metrics_port=port))
        page = ""
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(600):  # at most ~60 s for the server to listen and the job to end
                    assert not worker.done(), worker
                    with contextlib.suppress(httpx.ConnectError):
                        page = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                        if 'order_sync_cycle_seconds_count{pair="store01"} 1.0' in page:
                            break
                    await asyncio.sleep(0.1)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        assert 'order_sync_cycle_seconds_count{pair="store01"} 1.0' in page, page
        assert 'order_sync_api_requests_total{api="xseries",pair="store01",status="200"}' in page
    finally:
        if store is not None:
            store.close()
        fleet.stop()
