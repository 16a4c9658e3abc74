"""The worker's queue on PostgreSQL: migration 11 and `order-sync db upgrade`, the per-pair and
per-order queueing locks, the job counts, the recovery of a dead worker's job, and the refusal of
`order-sync worker` on SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from connector.cli import main
from connector.config import Settings
from connector.store.db import make_engine
from connector.store.migrations import MIGRATIONS, migrate
from connector.workers.app import SYNC_TASK, build_app, cron_for
from connector.workers.jobs import defer_order, defer_sync, job_counts, recover_stalled

PAIR = {"bigcommerce": {"store_hash": "abc123", "access_token": "t"},
        "xseries": {"domain_prefix": "shop", "token": "t", "outlet": "Main Outlet", "register": "Online Store"}}


def settings_on(url: str, *names: str) -> Settings:
    return Settings.model_validate({"database_url": url, "pairs": [{"name": n, **PAIR} for n in names]})


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("bigcommerce: {store_hash: abc123, access_token: t}\n"
                    "xseries: {domain_prefix: shop, token: t, outlet: Main Outlet, register: Online Store}\n"
                    f"database_url: {url}\n")
    return path


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        return {name for (name,) in rows}


@pytest.fixture
async def app(postgres_url):
    """An open App on a migrated schema, with the pairs north and south."""
    migrate(make_engine(postgres_url))
    app = build_app(settings_on(postgres_url, "north", "south"))
    async with app.open_async():
        yield app


def test_worker_on_sqlite_exits_2_pointing_at_order_sync_run(tmp_path, capsys):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'state.db'}")
    assert main(["--config", str(config), "worker"]) == 2
    err = capsys.readouterr().err
    assert "PostgreSQL" in err and "`order-sync run`" in err


@pytest.mark.postgres
def test_a_worker_refusing_a_first_run_says_why_and_status_shows_it(postgres_url, tmp_path, capsys):
    config = write_config(tmp_path, postgres_url)
    config.write_text(config.read_text() + "sync: {start_at: 2020-01-01T00:00:00Z}\n")
    assert main(["--config", str(config), "worker"]) == 2
    assert "import-history" in capsys.readouterr().err
    assert main(["--config", str(config), "status"]) == 0
    assert "start-up of `worker`" in capsys.readouterr().out


@pytest.mark.postgres
def test_db_upgrade_applies_procrastinate_schema_then_nothing(postgres_url, tmp_path, capsys):
    config = write_config(tmp_path, postgres_url)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    versions = ", ".join(str(v) for v, _, _ in MIGRATIONS)
    assert capsys.readouterr().out.strip() == f"applied migrations: {versions}"
    assert {"procrastinate_jobs", "procrastinate_workers", "order_binding"} <= tables(postgres_url)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == "the database is up to date"


@pytest.mark.postgres
def test_migration_11_leaves_a_procrastinate_schema_already_there(postgres_url):
    from procrastinate.schema import SchemaManager

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(SchemaManager.get_schema())  # as `procrastinate schema --apply` would have
    assert 11 in migrate(make_engine(postgres_url))


def test_db_upgrade_on_sqlite_has_no_job_queue(tmp_path, capsys):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'state.db'}")
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert "11" in capsys.readouterr().out
    from sqlalchemy import inspect

    assert not inspect(make_engine(f"sqlite:///{tmp_path / 'state.db'}")).has_table("procrastinate_jobs")


@pytest.mark.postgres
async def test_a_pair_has_at_most_one_sync_job_waiting(app):
    assert await defer_sync(app, "north") is True
    assert await defer_sync(app, "north") is False  # the queueing lock: one is waiting already
    assert await defer_sync(app, "south") is True  # another pair's is another lock
    jobs = await app.job_manager.list_jobs_async(task=SYNC_TASK, status="todo")
    assert sorted((j.task_kwargs["pair"], j.lock, j.queueing_lock) for j in jobs) == [
        ("north", "sync:north", "sync:north"), ("south", "sync:south", "sync:south")]
    assert (await job_counts(app))["todo"] == 2


@pytest.mark.postgres
async def test_defer_order_keeps_one_job_waiting_per_pair_and_order(app):
    assert await defer_order(app, "north", 7, "store/order/updated") is True
    assert await defer_order(app, "north", 7, "store/order/statusUpdated") is False
    # A refund waits apart: the order's job mirrors the order, not its refunds.
    assert await defer_order(app, "north", 7, "store/order/refund/created") is True
    assert await defer_order(app, "north", 7, "store/order/refund/created") is False
    assert await defer_order(app, "south", 7, "store/order/updated") is True  # same id, another store
    assert await defer_order(app, "north", 8, "store/order/updated") is True
    counts = await job_counts(app)
    assert counts == {"todo": 4, "doing": 0, "succeeded": 0, "failed": 0, "cancelled": 0, "aborted": 0}


@pytest.mark.postgres
async def test_defer_order_opens_its_own_app_from_settings(postgres_url):
    migrate(make_engine(postgres_url))
    settings = settings_on(postgres_url, "north")
    assert await defer_order(settings, "north", 5, "store/order/created") is True
    assert await defer_order(settings, "north", 5, "store/order/created") is False
    assert (await job_counts(settings))["todo"] == 1


async def _run_as_dead_worker(app, postgres_url) -> int:
    """A job taken by a worker that then stopped beating (killed): its heartbeat is an hour old."""
    assert await defer_sync(app, "north")
    worker_id = await app.job_manager.register_worker()
    job = await app.job_manager.fetch_job(queues=None, worker_id=worker_id)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' WHERE id = %s",
                     (worker_id,))
    return job.id


def _status(url: str, job_id: int) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()[0]


@pytest.mark.postgres
async def test_a_dead_workers_job_goes_back_to_the_queue_once(app, postgres_url):
    alive = await app.job_manager.register_worker()  # beating: its jobs are its own
    assert await defer_sync(app, "south")
    busy = await app.job_manager.fetch_job(queues=None, worker_id=alive)
    dead = await _run_as_dead_worker(app, postgres_url)
    assert await recover_stalled(app, stalled_seconds=60) == [dead]
    assert (_status(postgres_url, dead), _status(postgres_url, busy.id)) == ("todo", "doing")
    assert await recover_stalled(app, stalled_seconds=60) == []  # back in the queue: nothing left to do


@pytest.mark.postgres
async def test_a_dead_workers_job_takes_the_place_of_its_waiting_copy(app, postgres_url):
    dead = await _run_as_dead_worker(app, postgres_url)
    assert await defer_sync(app, "north")  # the periodic sync deferred the pair again meanwhile
    waiting = [j.id for j in await app.job_manager.list_jobs_async(task=SYNC_TASK, status="todo")]
    assert await recover_stalled(app, stalled_seconds=60) == [dead]
    assert _status(postgres_url, dead) == "todo" and _status(postgres_url, waiting[0]) == "cancelled"


@pytest.mark.parametrize("interval, cron, every", [
    (1, "* * * * * */1", 1), (5, "* * * * * */5", 5), (7, "* * * * * */6", 6), (45, "* * * * * */30", 30),
    (60, "*/1 * * * *", 60), (90, "*/1 * * * *", 60), (300, "*/5 * * * *", 300), (7200, "0 */2 * * *", 7200),
    (5 * 86400, "0 0 * * *", 86400),
])
def test_cron_for_an_interval_never_syncs_less_often(interval, cron, every):
    assert cron_for(interval) == (cron, every)


def test_build_app_registers_one_periodic_sync_per_pair():
    app = build_app(settings_on("postgresql://u@h/db", "north", "south"))
    periodic = {pid: (p.cron, p.configure_kwargs.get("lock"), p.configure_kwargs["queueing_lock"],
                      p.configure_kwargs.get("queue", p.task.queue))
                for (_, pid), p in app.periodic_registry.periodic_tasks.items() if pid}
    assert periodic == {"north": ("*/1 * * * *", "sync:north", "sync:north", "pair.north"),
                        "south": ("*/1 * * * *", "sync:south", "sync:south", "pair.south"),
                        # and the hourly clean-up of finished jobs
                        "order_sync.remove_old_jobs": ("7 * * * *", None, "order_sync.remove_old_jobs", "cleanup")}


def test_a_dead_worker_is_one_silent_for_at_least_two_heartbeats():
    with pytest.raises(ValueError, match="at least twice heartbeat_seconds"):
        Settings.model_validate({**PAIR, "workers": {"heartbeat_seconds": 10, "stalled_seconds": 15}})
    settings = Settings.model_validate({**PAIR, "workers": {"heartbeat_seconds": 1, "stalled_seconds": 2}})
    assert settings.workers.stalled_seconds == 2


@pytest.mark.postgres
async def test_serves_deferrer_queues_jobs_for_the_workers_and_counts_them(postgres_url):
    """`order-sync serve` on PostgreSQL: deferrer_for gives the job queue; its background task keeps
    the counts of order_sync_jobs{state} and closes the App when cancelled."""
    import asyncio

    from connector.server.deferral import deferrer_for
    from connector.workers.jobs import JobQueueDeferrer

    migrate(make_engine(postgres_url))
    deferrer = deferrer_for(settings_on(postgres_url, "north"), {})
    assert isinstance(deferrer, JobQueueDeferrer)
    deferrer.every = 0.05
    assert await deferrer.defer("north", 5, "store/order/created") is True
    assert await deferrer.defer("north", 5, "store/order/updated") is False
    counting = asyncio.create_task(deferrer.work())
    for _ in range(100):
        if deferrer.states()["todo"] == 1:
            break
        await asyncio.sleep(0.05)
    assert deferrer.states() == {"todo": 1, "doing": 0, "succeeded": 0, "failed": 0, "cancelled": 0, "aborted": 0}
    counting.cancel()
    await asyncio.gather(counting, return_exceptions=True)
    assert (await job_counts(settings_on(postgres_url, "north")))["todo"] == 1


def test_serve_on_sqlite_mirrors_in_process(tmp_path):
    from connector.server.deferral import InProcessDeferrer, deferrer_for

    assert isinstance(deferrer_for(settings_on(f"sqlite:///{tmp_path / 'x.db'}", "north"), {}), InProcessDeferrer)


async def test_finished_jobs_are_deleted_after_keep_jobs_hours(app, postgres_url):
    """The hourly clean-up (workers.keep_jobs_hours): succeeded jobs older than that go, with their
    events; newer ones and failed ones stay."""
    from connector.workers.app import CLEANUP_TASK

    for order_id in (1, 2, 3):
        assert await defer_order(app, "north", order_id, "store/order/created")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM procrastinate_jobs ORDER BY id")]
        for job_id, status, hours in zip(ids, ("succeeded", "succeeded", "failed"), (100, 1, 100)):
            conn.execute("UPDATE procrastinate_jobs SET status = %s WHERE id = %s", (status, job_id))
            conn.execute("UPDATE procrastinate_events SET at = now() - %s * interval '1 hour' WHERE job_id = %s",
                         (hours, job_id))  # finished `hours` ago
    assert CLEANUP_TASK in {p.task.name for p in app.periodic_registry.periodic_tasks.values()}
    await app.configure_task(CLEANUP_TASK, queue="cleanup").defer_async(keep_hours=72)
    await asyncio.wait_for(app.run_worker_async(wait=False, install_signal_handlers=False,
                                                queues=["cleanup"]), 60)
    with psycopg.connect(postgres_url) as conn:
        left = dict(conn.execute("SELECT id, status::text FROM procrastinate_jobs"
                                 " WHERE task_name = 'order_sync.mirror_order'").fetchall())
    assert left == {ids[1]: "succeeded", ids[2]: "failed"}
