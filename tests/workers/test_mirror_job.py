"""The mirror_order job (a webhook's order, deferred by `defer_order`): the order is read afresh and
mirrored once, alone; run by a worker, the job succeeds; a pair the worker does not know is logged,
and the worker goes on."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
import pytest

from connector.config import load_settings
from connector.store.repository import Store
from connector.workers.app import MIRROR_TASK, build_app
from connector.workers.jobs import defer_order, defer_sync
from connector.workers.tasks import PairRuntimes
from fleet import ENV, Fleet, STATUSES, worker_until

pytestmark = pytest.mark.postgres


@contextlib.contextmanager
def served(pairs: int, postgres_url: str, tmp_path):
    """Served pairs of 6 orders each, their settings and the (migrated) store."""
    fleet = Fleet(pairs, 6, processes=1)
    try:
        settings = load_settings(fleet.write_config(tmp_path / "config.yaml", postgres_url), environ=ENV)
        store = Store.open(postgres_url)
        try:
            yield fleet, settings, store
        finally:
            store.close()
    finally:
        fleet.stop()


def wanted_orders(summary: dict) -> list[int]:
    """A store's orders that want a sale."""
    return [int(i) for i, status in summary["orders"].items() if STATUSES.pos_state(status).value != "not_imported"]


@pytest.fixture
def shop(postgres_url, tmp_path):
    """One served pair, its settings, its store and an order that wants a sale."""
    with served(1, postgres_url, tmp_path) as (fleet, settings, store):
        yield fleet, settings, store, wanted_orders(fleet.summaries()[0])[0]


def sales_of(fleet: Fleet) -> list[str]:
    return sorted(str(s["source_id"]) for s in fleet.summaries()[0]["sales"] if not s["return_for"])


async def test_mirror_order_mirrors_that_order_alone(shop):
    fleet, settings, store, order_id = shop
    runtimes = PairRuntimes(settings, store, asyncio.Event())
    try:
        assert await runtimes.mirror("store01", order_id, "store/order/created") == f"order {order_id} mirrored"
        assert await runtimes.mirror("store01", order_id, "store/order/updated") == f"order {order_id} mirrored"
    finally:
        await runtimes.aclose()
    assert sales_of(fleet) == [str(order_id)]  # once, though mirrored twice: the binding


async def test_a_job_for_a_pair_the_worker_does_not_know_ends_logged(shop, caplog):
    fleet, settings, store, order_id = shop
    runtimes = PairRuntimes(settings, store, asyncio.Event())
    with caplog.at_level(logging.ERROR, logger="connector.workers"):
        assert await runtimes.mirror("elsewhere", order_id, "store/order/created") == "stopped"
    await runtimes.aclose()
    assert "no store pair 'elsewhere'" in caplog.text
    assert sales_of(fleet) == []


async def test_a_worker_runs_a_deferred_mirror_order_job(shop, postgres_url):
    fleet, settings, store, order_id = shop
    assert await defer_order(settings, "store01", order_id, "store/order/created") is True
    runtimes = PairRuntimes(settings, store, asyncio.Event())
    app = build_app(settings)
    async with app.open_async():
        # wait=False: the worker stops once the queue is empty (its periodic sync may run as well).
        await asyncio.wait_for(app.run_worker_async(wait=False, install_signal_handlers=False,
                                                    additional_context={"runtimes": runtimes}), 60)
    await runtimes.aclose()
    with psycopg.connect(postgres_url) as conn:
        statuses = conn.execute("SELECT status::text FROM procrastinate_jobs WHERE task_name = %s",
                                (MIRROR_TASK,)).fetchall()
    assert statuses == [("succeeded",)]
    assert str(order_id) in sales_of(fleet) and len(set(sales_of(fleet))) == len(sales_of(fleet))


@pytest.fixture
def two_pairs(postgres_url, tmp_path):
    with served(2, postgres_url, tmp_path) as world:
        yield world


async def test_a_worker_given_a_pair_takes_that_pairs_jobs_only(two_pairs, postgres_url):
    """`order-sync worker --pair store01`: each pair's jobs are in a queue of its own."""
    from connector.workers.command import worker_queues

    fleet, settings, store = two_pairs
    for pair in ("store01", "store02"):
        assert await defer_order(settings, pair, 1, "store/order/created") is True
    north = settings.select_pairs("store01")
    runtimes = PairRuntimes(settings, store, asyncio.Event())
    app = build_app(settings, north)
    async with app.open_async():
        await asyncio.wait_for(app.run_worker_async(wait=False, install_signal_handlers=False,
                                                    queues=worker_queues(settings, north),
                                                    additional_context={"runtimes": runtimes}), 60)
    await runtimes.aclose()
    with psycopg.connect(postgres_url) as conn:
        statuses = dict(conn.execute("SELECT args->>'pair', status::text FROM procrastinate_jobs WHERE task_name = %s",
                                     (MIRROR_TASK,)).fetchall())
    assert statuses == {"store01": "succeeded", "store02": "todo"}
    # No --pair: the file's pairs, never every queue (see the test below).
    assert worker_queues(settings) == ["pair.store01", "pair.store02", "cleanup"]


async def test_a_worker_on_an_older_file_leaves_a_new_pairs_jobs_waiting(two_pairs, postgres_url, tmp_path):
    """store02 added to the file and serve restarted with it; a worker (no --pair) still runs the file
    from before. store02's jobs (a webhook's order, its periodic sync) wait for a worker that knows
    it: taken by this one, they ended 'succeeded' with nothing done, and the webhook's order was lost.
    Its own pair's jobs and the clean-up still run."""
    from connector.workers.app import CLEANUP_TASK, SYNC_TASK
    from connector.workers.command import _work

    fleet, settings, store = two_pairs
    old = load_settings(fleet.write_config(tmp_path / "old.yaml", postgres_url, interval_seconds=3600, pairs=1),
                        environ=ENV)
    assert [view.pair for view in old.pair_settings()] == ["store01"]
    first, second = (wanted_orders(summary)[0] for summary in fleet.summaries())
    assert await defer_order(settings, "store02", second, "store/order/created") is True
    assert await defer_sync(settings, "store02") is True
    assert await defer_order(settings, "store01", first, "store/order/created") is True
    app = build_app(settings)
    async with app.open_async():
        await app.tasks[CLEANUP_TASK].defer_async(keep_hours=72)

    def statuses() -> dict[tuple[str, str | None], str]:
        with psycopg.connect(postgres_url) as conn:
            return {(task, pair): status for task, pair, status in conn.execute(
                "SELECT task_name, args->>'pair', status::text FROM procrastinate_jobs").fetchall()}

    async def own_jobs_ended() -> bool:
        done = statuses()
        return done[MIRROR_TASK, "store01"] == done[CLEANUP_TASK, None] == "succeeded"

    # One job at a time, in the order deferred: store02's come first.
    await worker_until(_work(old, store, 1), own_jobs_ended)
    done = statuses()
    assert done[MIRROR_TASK, "store01"] == done[CLEANUP_TASK, None] == "succeeded"
    assert done[MIRROR_TASK, "store02"] == done[SYNC_TASK, "store02"] == "todo"
    assert str(first) in sales_of(fleet)  # (its periodic sync may have run too, near the hour)
    assert fleet.summaries()[1]["sales"] == []  # not yet: a worker that knows store02 mirrors it
