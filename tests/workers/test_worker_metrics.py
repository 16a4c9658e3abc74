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
from fleet import ENV, Fleet, worker_until

pytestmark = pytest.mark.postgres


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def one_pair(postgres_url, tmp_path, orders: int):
    """A fleet of one pair with `orders` orders (an hour between periodic syncs): (fleet, settings, store)."""
    fleet = Fleet(1, orders, processes=1)
    store = None
    try:
        settings = load_settings(fleet.write_config(tmp_path / "config.yaml", postgres_url, interval_seconds=3600),
                                 environ=ENV)
        store = Store.open(postgres_url)
        yield fleet, settings, store
    finally:
        if store is not None:
            store.close()
        fleet.stop()


async def test_a_worker_exports_the_cycles_it_ran(postgres_url, tmp_path):
    with one_pair(postgres_url, tmp_path, 3) as (_, settings, store):
        assert await defer_sync(settings, "store01") is True  # the one job: periodic syncs are an hour apart
        port = _free_port()
        page = ""
        async with httpx.AsyncClient() as client:
            async def cycle_exported() -> bool:  # the server listening and the job ended
                nonlocal page
                with contextlib.suppress(httpx.ConnectError):
                    page = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                return 'order_sync_cycle_seconds_count{pair="store01"} 1.0' in page

            await worker_until(_work(settings, store, 1, metrics_port=port), cycle_exported)
        assert 'order_sync_cycle_seconds_count{pair="store01"} 1.0' in page, page
        assert 'order_sync_api_requests_total{api="xseries",pair="store01",status="200"}' in page


DATABASE_FAMILIES = ("order_sync_orders_mirrored_total", "order_sync_orders_failed", "order_sync_exceptions",
                     "order_sync_lag_seconds", "order_sync_jobs")


async def test_two_workers_summed_count_each_sale_once(postgres_url, tmp_path):
    """The README says: scrape every worker and sum. Each worker exported the database's totals too,
    so two workers summed said 12 sales where X-Series has 6. A worker's page has its own series only;
    serve's has the database's."""
    with one_pair(postgres_url, tmp_path, 6) as (fleet, settings, store):
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
