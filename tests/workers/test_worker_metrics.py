"""`order-sync worker --metrics-port N`: a worker serves its own /metrics, so the API requests and
the cycles it ran (the worker's own, in its process) are scraped; what the database says (orders
mirrored, failed, exceptions, lag) is serve's to export, once."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import httpx
import pytest
from prometheus_client import generate_latest

from connector.config import load_settings
from connector.server.metrics import PairMetrics
from connector.store.repository import Store
from connector.workers.command import _work
from connector.workers.jobs import defer_sync
from connector.workers.tasks import PairRuntimes
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


DATABASE_FAMILIES = ("order_sync_orders_mirrored_total", "order_sync_orders_failed", "order_sync_exceptions",
                     "order_sync_lag_seconds", "order_sync_jobs")


async def test_two_workers_summed_count_each_sale_once(postgres_url, tmp_path):
    """The README says: scrape every worker and sum. Each worker exported the database's totals too,
    so two workers summed said 12 sales where X-Series has 6. A worker's page has its own series only;
    serve's has the database's."""
    fleet = Fleet(1, 6, processes=1)
    store = None
    try:
        settings = load_settings(fleet.write_config(tmp_path / "config.yaml", postgres_url, interval_seconds=3600),
                                 environ=ENV)
        store = Store.open(postgres_url)
        workers = [PairRuntimes(settings, store, asyncio.Event()) for _ in range(2)]
        try:
            await workers[0].sync("store01", 1)
            await workers[1].sync("store01", 2)  # nothing left to write: its requests are its own
            pages = [generate_latest(w.metrics.registry).decode() for w in workers]
            served = generate_latest(PairMetrics(workers[0].started).registry).decode()  # serve's page
        finally:
            for w in workers:
                await w.aclose()
        sales = [s for s in fleet.summaries()[0]["sales"] if not s["return_for"]]
        assert sales
        for page in pages:
            assert 'order_sync_api_requests_total{api="xseries",pair="store01",status="200"}' in page
            assert 'order_sync_cycle_seconds_count{pair="store01"} 1.0' in page
            assert not [line for line in page.splitlines() if line.startswith(DATABASE_FAMILIES)], page
        assert f'order_sync_orders_mirrored_total{{action="created",pair="store01"}} {len(sales)}.0' in served
        assert 'order_sync_lag_seconds{pair="store01"}' in served
    finally:
        if store is not None:
            store.close()
        fleet.stop()
