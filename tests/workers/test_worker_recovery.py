"""The fleet's queue on PostgreSQL: a job that kills every worker running it is failed after
MAX_STALLED_ATTEMPTS, not put back for ever; a refund event for an order whose job waits gets a job
of its own (that job mirrors the order, not its refunds)."""

from __future__ import annotations

import psycopg
import pytest

from connector.runtime import REFUND_SCOPE
from connector.store.db import make_engine
from connector.store.migrations import migrate
from connector.workers.app import build_app
from connector.workers.jobs import MAX_STALLED_ATTEMPTS, defer_order, recover_stalled
from test_worker_queue import settings_on

pytestmark = pytest.mark.postgres


async def test_a_job_that_kills_its_workers_is_failed_not_put_back_for_ever(postgres_url):
    migrate(make_engine(postgres_url))
    app = build_app(settings_on(postgres_url, "north"))
    async with app.open_async():
        assert await defer_order(app, "north", 5, "store/order/created")
        recovered, job_id = 0, None
        for _ in range(MAX_STALLED_ATTEMPTS + 3):  # each worker killed (OOM, a crash) by the same job
            worker_id = await app.job_manager.register_worker()
            job = await app.job_manager.fetch_job(queues=None, worker_id=worker_id)
            if job is None:
                break
            job_id = job.id
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                conn.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' "
                             "WHERE id = %s", (worker_id,))
            recovered += len(await recover_stalled(app, stalled_seconds=60))
        with psycopg.connect(postgres_url) as conn:
            status = conn.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()[0]
    assert status == "failed" and recovered <= MAX_STALLED_ATTEMPTS


async def test_a_refund_event_while_the_orders_job_waits_gets_its_own_job(postgres_url):
    migrate(make_engine(postgres_url))
    settings = settings_on(postgres_url, "north")
    assert await defer_order(settings, "north", 5, "store/order/updated") is True
    assert await defer_order(settings, "north", 5, REFUND_SCOPE) is True
    assert await defer_order(settings, "north", 5, REFUND_SCOPE) is False
    with psycopg.connect(postgres_url) as conn:
        scopes = sorted(s for (s,) in conn.execute("SELECT args->>'scope' FROM procrastinate_jobs WHERE status = 'todo'"))
    assert scopes == sorted(["store/order/updated", REFUND_SCOPE])
