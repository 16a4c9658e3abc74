"""`order-sync worker [--concurrency N]` and `order-sync db upgrade`.

The worker runs procrastinate's worker on database_url (PostgreSQL only) until SIGTERM/SIGINT: it
takes the jobs of the pairs its file names (or --pair's), defers each pair's periodic sync (every
worker does; the database keeps one per tick) and, every heartbeat, puts the jobs of dead workers
back in the queue. A stop lets the jobs in hand finish their orders (connector.interrupts' grace),
exit 0 on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from connector import interrupts
from connector.config import Settings
from connector.errors import ConfigError
from connector.idv.server import WebhookServer
from connector.server.ops import ops_app
from connector.idv.rules import RulesAtStart
from connector.mapping.tables import MappingTables
from connector.store.db import make_engine, opening
from connector.store.migrations import migrate
from connector.store.repository import Store
from connector.workers.app import CLEANUP_QUEUE, build_app, is_postgres, pair_queue
from connector.workers.jobs import recover_stalled
from connector.workers.tasks import PairRuntimes

log = logging.getLogger("connector.workers")


def run_worker_command(settings: Settings, concurrency: int | None, pairs: list[Settings] | None = None,
                       metrics_port: int | None = None) -> int:
    """`pairs` (--pair): the pairs whose jobs this worker takes (default: every pair's); `metrics_port`
    (--metrics-port): where it serves its own /metrics."""
    from connector.commands import START_FAILED, failure_recorded, refuse_unsafe_first_run

    if not is_postgres(settings.database_url):
        raise ConfigError(f"{settings.where('database_url')}: order-sync worker needs a PostgreSQL database_url "
                          "(postgresql://user@host/db): the workers share their jobs through it. With SQLite, "
                          "run the daemon: `order-sync run`")
    store = Store.open(settings.database_url)  # applies every migration, procrastinate's schema included
    try:
        for view in pairs or settings.pair_settings():
            # Refused, it is recorded for `order-sync status` and the console, as for run.
            with failure_recorded(view, "worker", START_FAILED, (ConfigError,), store=store.for_pair(view.pair)):
                refuse_unsafe_first_run(view, store.for_pair(view.pair))
                # Its tables, read as `run` reads them at start: a broken file stops the worker here
                # (exit 2), not each of its jobs for ever.
                MappingTables.load(view.mappings_path())
                if view.id_verification.enabled:
                    RulesAtStart.read(view.mappings_path()).loaded()
        return interrupts.run(_work(settings, store, concurrency or settings.workers.concurrency, pairs,
                                    metrics_port), sigterm_exit=0)
    finally:
        store.close()


def worker_queues(settings: Settings, pairs: list[Settings] | None = None) -> list[str]:
    """The queues of the pairs a worker is given (--pair; default: every pair of its file), and the
    clean-up's. Never every queue: a worker still on the file from before a pair was added would
    take that pair's jobs and end them with nothing done (the webhook's order lost); they wait for
    a worker that knows the pair."""
    return [pair_queue(view.pair) for view in pairs or settings.pair_settings()] + [CLEANUP_QUEUE]


async def _work(settings: Settings, store: Store, concurrency: int, pairs: list[Settings] | None = None,
                metrics_port: int | None = None, **runtime_options) -> int:
    conf = settings.workers
    stop = interrupts.stop_event()
    runtimes = PairRuntimes(settings, store, stop, **runtime_options)
    server = None
    if metrics_port is not None:
        # Its own metrics (PairRuntimes.metrics), on the server and token of serve's /metrics.
        server = WebhookServer(ops_app(runtimes.started, runtimes.metrics, metrics_token=settings.server.metrics_token),
                               settings.server.host, metrics_port, config_keys="--metrics-port (server.host)",
                               listening="order-sync worker metrics on http://{}:{}/metrics")
    app = build_app(settings, pairs)
    queues = worker_queues(settings, pairs)
    name = f"order-sync@{socket.gethostname()}:{os.getpid()}"
    async with app.open_async():
        worker = asyncio.create_task(app.run_worker_async(
            name=name, concurrency=concurrency, queues=queues, additional_context={"runtimes": runtimes},
            # The stop is connector.interrupts' (grace, backstop); cancelling the worker task below
            # is procrastinate's graceful shutdown: it waits for the jobs in hand.
            install_signal_handlers=False,
            update_heartbeat_interval=conf.heartbeat_seconds, stalled_worker_timeout=conf.stalled_seconds,
        ))
        recovery = asyncio.create_task(_recover_forever(app, conf.heartbeat_seconds, conf.stalled_seconds))
        log.info("order-sync worker %s started: %d pair(s), %d job(s) at a time", name, len(runtimes.views),
                 concurrency)
        try:
            if server is not None:
                await server.start()
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if worker.done():
                worker.result()  # the worker ended on its own: an error (e.g. the database went away)
        finally:
            if server is not None:
                await server.stop()
            recovery.cancel()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await runtimes.aclose()
    log.info("order-sync worker %s stopped", name)
    return 0


async def _recover_forever(app, every: float, stalled_seconds: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await recover_stalled(app, stalled_seconds)
        except Exception as exc:  # noqa: BLE001 - the database may be away for a moment; next time
            log.warning("looking for the jobs of dead workers failed (%s); trying again", exc)


def db_upgrade(settings: Settings) -> int:
    """`order-sync db upgrade`: apply every migration the database lacks and say which."""
    engine = make_engine(settings.database_url)
    try:
        with opening(settings.database_url):
            applied = migrate(engine)
    finally:
        engine.dispose()
    print("applied migrations: " + ", ".join(map(str, applied)) if applied else "the database is up to date")
    return 0
