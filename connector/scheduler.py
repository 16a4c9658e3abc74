"""`order-sync run`: the daemon.

APScheduler (3.x) runs one sync cycle every sync.interval_seconds, never two at once, missed runs
coalesced. SIGTERM/SIGINT stop it as connector.interrupts describes (exit 0, 130 after Ctrl-C). A
cycle's errors are logged and the next cycle tries again: bad input, an API outage or a revoked
token never kill the daemon. With id_verification.enabled, each cycle first polls Real ID's
metafields, and the daemon serves the ID-verification webhook (connector.idv); with server.enabled,
it serves /healthz, /readyz and /metrics (connector.server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from connector.config import DEFAULT_PAIR, Settings
from connector import interrupts
from connector.errors import ApiError, CredentialsError
from connector.idv.server import WebhookServer
from connector.idv.service import poll_once, start_if_enabled
from connector.server.bc_webhooks import BigCommerceWebhooks
from connector.server.deferral import InProcessDeferrer
from connector.server.metrics import PairMetrics
from connector.server.ops import ops_app
from connector.sync.reconcile import refuse_lost_state
from connector.runtime import Runtime

log = logging.getLogger("connector.daemon")


async def _start_runtime(settings: Settings, stop: asyncio.Event, first_delay: float = 5.0,
                         **runtime_options) -> Runtime | None:
    """Start, retrying with growing pauses (and saying why) while an API is down or refuses the token.
    Bad configuration still stops the daemon (exit 2): no retry can fix a file."""
    delay = first_delay
    while not stop.is_set():
        try:
            runtime = await Runtime.start(settings, **runtime_options)
            try:
                await refuse_lost_state(runtime)  # a lost state database: every sale would be written twice
            except BaseException:
                await runtime.aclose()
                runtime.store.close()
                raise
            return runtime
        except ApiError as exc:
            log.error("cannot start yet (%s); trying again in %.0fs", exc, delay)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, 300.0)
    return None


async def daemon(settings: Settings, stop: asyncio.Event, **runtime_options) -> int:
    runtime = await _start_runtime(settings, stop, **runtime_options)
    if runtime is None:
        return 0
    webhook: WebhookServer | None = None
    ops: WebhookServer | None = None
    hook_worker: asyncio.Task | None = None
    metrics = PairMetrics({DEFAULT_PAIR: runtime})
    try:
        # When enabled: the rules checked against the store, and the webhook (if a secret is set).
        idv = await start_if_enabled(settings, runtime.bc, runtime.store)
        receiver = idv.webhook_receiver() if idv is not None else None
        if receiver is not None:
            conf = settings.id_verification
            webhook = WebhookServer(receiver.app(), conf.webhook_host, conf.webhook_port)
            await webhook.start()
        if settings.server.enabled:  # health, readiness, metrics and the webhooks (issue 17)
            conf = settings.server
            deferrer = InProcessDeferrer({DEFAULT_PAIR: runtime})  # the embedded mode runs its jobs itself
            hooks = BigCommerceWebhooks({DEFAULT_PAIR: runtime}, deferrer, metrics)
            metrics.queued = deferrer.waiting
            routes = hooks.routes() + (receiver.routes(DEFAULT_PAIR) if receiver is not None else [])
            ops = WebhookServer(ops_app({DEFAULT_PAIR: runtime}, metrics, routes), conf.host, conf.port,
                                config_keys="server.host/server.port",
                                listening="order-sync server on http://{}:{} (/healthz, /readyz, /metrics,"
                                          " /webhooks/bigcommerce/default, /webhooks/id-verification/default)")
            await ops.start()
            hook_worker = asyncio.create_task(deferrer.work())
    except BaseException:
        if hook_worker is not None:
            hook_worker.cancel()
        for server in (webhook, ops):
            if server is not None:
                await server.stop()
        await runtime.aclose()
        runtime.store.close()
        raise
    scheduler = AsyncIOScheduler(timezone=timezone.utc)
    running: set[asyncio.Task] = set()  # the cycle in progress, to cut off when the grace is over

    async def cycle() -> None:
        if stop.is_set():
            return
        task = asyncio.current_task()
        running.add(task)
        try:
            # ID verification first: statuses its verdicts set reach X-Series in this same cycle.
            await poll_once(idv)
            started = time.perf_counter()
            report = await runtime.cycle(stop_event=stop).run()
            metrics.observe_cycle(DEFAULT_PAIR, time.perf_counter() - started)
            log.info("cycle: %d seen, %d written, %d failed", report.seen, report.written, len(report.failed))
        except (interrupts.Stopping, asyncio.CancelledError):
            # The stop's doing, not an error (APScheduler would log it as a crash of the job).
            if not stop.is_set():
                raise
            log.info("cycle stopped; the next one goes on from the cursor")
        except CredentialsError as exc:
            log.error("cycle stopped, credentials rejected (fix them; retrying next cycle): %s", exc)
        except ApiError as exc:  # an API down: a known condition, no traceback needed
            log.error("cycle stopped, nothing lost (retrying next cycle): %s", exc)
        except Exception:  # the daemon must survive anything a cycle meets
            log.exception("cycle failed; the next one will try again")
        finally:
            running.discard(task)

    scheduler.add_job(
        cycle, "interval", seconds=settings.sync.interval_seconds, id="sync",
        max_instances=1, coalesce=True, misfire_grace_time=None,
        next_run_time=datetime.now(timezone.utc),
    )
    scheduler.start()
    log.info("order-sync daemon started: a cycle every %ss", settings.sync.interval_seconds)
    try:
        await stop.wait()
        log.info("stopping: finishing the orders in hand")
        # Paused, not shut down, until the cycle is done: APScheduler cancels a running job on
        # shutdown, which would cut an order off between its sale write and its binding.
        scheduler.pause()
        try:
            if running:
                await asyncio.wait(set(running))
        except asyncio.CancelledError:
            # The grace is over: the orders in hand are cut off now, before the clients close under
            # them; the next run settles them as after a crash.
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running)
            raise
        finally:
            scheduler.shutdown(wait=False)
    finally:
        if hook_worker is not None:
            hook_worker.cancel()
            await asyncio.gather(hook_worker, return_exceptions=True)
        for server in (webhook, ops):
            if server is not None:
                await server.stop()
        await runtime.aclose()
        runtime.store.close()
    log.info("order-sync daemon stopped")
    return 0


def run_daemon(settings: Settings) -> int:
    async def main() -> int:
        return await daemon(settings, interrupts.stop_event())

    # SIGTERM is how a service manager stops the daemon: its normal end, exit 0.
    return interrupts.run(main(), sigterm_exit=0)
