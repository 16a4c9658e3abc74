"""The procrastinate App of order-sync: its connection, its two tasks, one periodic sync per pair.

Every sync job of a pair carries the same lock and queueing lock ("sync:PAIR"): procrastinate keeps
at most one of them waiting and runs at most one at a time, whatever the number of workers. The
order's binding, not the queue, is what makes a sale exactly once: a job run twice finds it bound.
"""

from __future__ import annotations

import logging

from procrastinate import App, PsycopgConnector

from connector.config import Settings
from connector.errors import ConfigError
from connector.store.db import shown
from connector.workers import tasks

log = logging.getLogger("connector.workers")

SYNC_TASK = "order_sync.sync_pair"
MIRROR_TASK = "order_sync.mirror_order"

# Every interval a cron expression repeats evenly: divisors of a minute (in seconds, procrastinate's
# sixth cron field), of an hour (in minutes) and of a day (in hours).
_EVERY_SECONDS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)
_EVERY_MINUTES = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)
_EVERY_HOURS = (1, 2, 3, 4, 6, 8, 12)


def sync_lock(pair: str) -> str:
    return f"sync:{pair}"


def order_lock(pair: str, order_id: int) -> str:
    return f"order:{pair}:{order_id}"


def is_postgres(database_url: str) -> bool:
    return database_url.strip().startswith(("postgresql://", "postgresql+psycopg://"))


def conninfo(database_url: str) -> str:
    """psycopg's connection string: our URL without SQLAlchemy's driver suffix."""
    url = database_url.strip()
    if not is_postgres(url):
        raise ConfigError(f"database_url {shown(database_url)!r}: the job queue needs PostgreSQL (postgresql://HOST/DB)")
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def cron_for(interval_seconds: int) -> tuple[str, int]:
    """The cron expression of the largest even interval not above interval_seconds, and that interval.
    Cron repeats evenly only on divisors of a minute, an hour or a day: 45 s becomes every 30 s, so a
    pair is never synced less often than its configuration asks."""
    choices = ([(f"* * * * * */{n}", n) for n in _EVERY_SECONDS]
               + [(f"*/{n} * * * *", n * 60) for n in _EVERY_MINUTES]
               + [(f"0 */{n} * * *", n * 3600) for n in _EVERY_HOURS] + [("0 0 * * *", 86400)])
    fitting = [c for c in choices if c[1] <= interval_seconds] or choices[:1]
    return max(fitting, key=lambda c: c[1])


# The clean-up of finished jobs, in a queue of its own (every worker takes it, --pair or not).
CLEANUP_TASK, CLEANUP_QUEUE = "order_sync.remove_old_jobs", "cleanup"


def pair_queue(pair: str) -> str:
    """Each pair's jobs go to a queue of its own, so a worker may be given some pairs only
    (`order-sync worker --pair NAME`)."""
    return f"pair.{pair}"


def build_app(settings: Settings, pairs: list[Settings] | None = None) -> App:
    """The App on settings.database_url, with the tasks and the periodic sync of each pair of `pairs`
    (default: every pair) registered. Open it (`async with app.open_async():`) before deferring or
    running a worker."""
    app = App(connector=PsycopgConnector(conninfo=conninfo(settings.database_url)))
    sync = app.task(name=SYNC_TASK, pass_context=True)(tasks.sync_pair)
    app.task(name=MIRROR_TASK, pass_context=True)(tasks.mirror_order)
    for view in pairs or settings.pair_settings():
        cron, every = cron_for(view.sync.interval_seconds)
        if every != view.sync.interval_seconds:
            log.warning("pair %s: sync.interval_seconds %s is not an even cron interval; workers sync it "
                        "every %s s", view.pair, view.sync.interval_seconds, every)
        app.periodic(cron=cron, periodic_id=view.pair, task_kwargs={"pair": view.pair}, queue=pair_queue(view.pair),
                     lock=sync_lock(view.pair), queueing_lock=sync_lock(view.pair))(sync)
    # Finished jobs deleted hourly (procrastinate's documented way: a periodic task calling its
    # built-in remove_old_jobs), else the jobs table grows by every sync of every pair.
    cleanup = app.task(name=CLEANUP_TASK, pass_context=True, queue=CLEANUP_QUEUE)(tasks.remove_old_jobs)
    app.periodic(cron="7 * * * *", periodic_id=CLEANUP_TASK, queueing_lock=CLEANUP_TASK,
                 task_kwargs={"keep_hours": settings.workers.keep_jobs_hours})(cleanup)
    return app
