"""`order-sync run`: the daemon.

APScheduler (3.x) runs one sync cycle every sync.interval_seconds, never two at once, missed runs
coalesced. SIGTERM/SIGINT stop it as connector.interrupts describes (exit 0, 130 after Ctrl-C). A
cycle's errors are logged and the next cycle tries again: bad input, an API outage or a revoked
token never kill the daemon. With id_verification.enabled, each cycle first polls Real ID's
metafields, and the daemon serves the ID-verification webhook (connector.idv); with server.enabled,
it serves /healthz, /readyz and /metrics (connector.server), and with console.enabled the
console at / (connector.console).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from connector.clock import SYSTEM_CLOCK
from connector.commands import (CYCLE_FAILED, IDV_POLL_FAILED, START_FAILED, failure_recorded,
                                refuse_unsafe_first_run)
from connector.config import Settings, describe_failure
from connector import interrupts
from connector.errors import ApiError, ConfigError, CredentialsError
from connector.idv.server import WebhookServer
from connector.idv.service import poll_once, start_if_enabled
from connector.server.bc_webhooks import BigCommerceWebhooks
from connector.server.deferral import InProcessDeferrer
from connector.server.metrics import PairMetrics
from connector.server.ops import idv_routes, ops_app
from connector.sync.reconcile import refuse_lost_state
from connector.runtime import Runtime
from connector.store.repository import Store

log = logging.getLogger("connector.daemon")


async def _start_runtime(settings: Settings, stop: asyncio.Event, first_delay: float = 5.0, *,
                         idvs: dict | None = None, **runtime_options) -> Runtime | None:
    """Start, retrying with growing pauses (and saying why) while an API is down or refuses the token.
    Bad configuration still stops the daemon (exit 2): no retry can fix a file. With `idvs`, the pair's
    ID-verification service is started too (into idvs[pair]): it reads BigCommerce's order statuses,
    so an outage there is waited out like any other at start-up."""
    delay = first_delay
    while not stop.is_set():
        try:
            runtime = await Runtime.start(settings, **runtime_options)
            try:
                await refuse_lost_state(runtime)  # a lost state database: every sale would be written twice
                if idvs is not None:
                    # When enabled: the rules checked against the store, and the webhook (if a secret is set).
                    idvs[settings.pair] = await start_if_enabled(settings, runtime.bc, runtime.store, runtime.idv_rules)
            except BaseException:
                await runtime.aclose()  # closes the store it opened, never one other pairs share
                raise
            return runtime
        except ApiError as exc:
            log.error("pair %s: cannot start yet (%s); trying again in %.0fs", settings.pair, exc,
                      delay)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, 300.0)
    return None


async def daemon(settings: Settings, stop: asyncio.Event, *, pairs: list[Settings] | None = None,
                 **runtime_options) -> int:
    """Every pair of `pairs` (default: all of the configuration's) in this one process: each starts on
    its own (one whose API is down does not hold the others back) and gets its own cycle job."""
    views = pairs or settings.pair_settings()
    runtimes: dict[str, Runtime] = {}  # filled as pairs start: the servers see each as it comes up
    idvs: dict = {}
    store = runtime_options.pop("store", None)
    webhook: WebhookServer | None = None
    ops: WebhookServer | None = None
    hook_worker: asyncio.Task | None = None
    starting: list[asyncio.Task] = []
    not_started = {view.pair for view in views}  # their webhooks answer 503: delivered again later
    metrics = PairMetrics(runtimes)
    scheduler = AsyncIOScheduler(timezone=timezone.utc)
    running: set[asyncio.Task] = set()  # the cycles in progress, to cut off when the grace is over
    receivers: dict = {}
    fatal: list[BaseException] = []  # what stopped a pair's start (bad configuration): it stops the daemon
    refused: dict[str, str] = {}  # pairs their own configuration stopped while others run: why
    serving = settings.server.enabled or settings.console.enabled  # the daemon's own server is on

    async def cycle(pair: str) -> None:
        if stop.is_set():
            return
        task = asyncio.current_task()
        running.add(task)
        runtime = runtimes[pair]
        try:
            # ID verification first: statuses its verdicts set reach X-Series in this same cycle.
            idv_settled = await poll_once(idvs.get(pair), runtime.store)
            started = time.perf_counter()
            # Why a cycle stopped is recorded for `status` and the console's overview, not only logged.
            with failure_recorded(runtime.settings, "run", CYCLE_FAILED, (ApiError, ConfigError), store=runtime.store):
                report = await runtime.cycle(stop_event=stop).run()
            if not idv_settled:
                # The one-shot sync exits 1 for it; here the mirror goes on, so `status` must say it.
                # Recorded after the mirror's cycle row: status would call that row a later good cycle.
                runtime.store.audit(platform="connector", action=CYCLE_FAILED, target_id="run",
                                    reason=IDV_POLL_FAILED)
            metrics.observe_cycle(pair, time.perf_counter() - started)
            log.log(logging.WARNING if report.refunds_failed else logging.INFO, "pair %s: cycle: %s",
                    pair, report.summary())
        except (interrupts.Stopping, asyncio.CancelledError):
            # The stop's doing, not an error (APScheduler would log it as a crash of the job).
            if not stop.is_set():
                raise
            log.info("pair %s: cycle stopped; the next one goes on from the cursor", pair)
        except CredentialsError as exc:
            log.error("pair %s: cycle stopped, credentials rejected (fix them; retrying next cycle): %s", pair, exc)
        except ApiError as exc:  # an API down: a known condition, no traceback needed
            log.error("pair %s: cycle stopped, nothing lost (retrying next cycle): %s", pair, exc)
        except ConfigError as exc:  # refused until a person acts (a first cycle that failed too long ago)
            log.error("pair %s: cycle refused (retrying next cycle): %s", pair, exc)
        except Exception:  # the daemon must survive anything a cycle meets
            log.exception("pair %s: cycle failed; the next one will try again", pair)
        finally:
            running.discard(task)

    async def start_pair(view: Settings) -> None:
        nonlocal webhook
        refuse_unsafe_first_run(view, store.for_pair(view.pair))  # before any API request
        runtime = await _start_runtime(view, stop, idvs=idvs, store=store, **runtime_options)
        if runtime is None:
            return
        idv = idvs.get(view.pair)
        if idv is not None and (receiver := idv.webhook_receiver()) is not None:
            receivers[view.pair] = receiver
            conf = view.id_verification
            # The daemon's server (server.enabled or the console) serves the webhook, its old path
            # included. Both ports default to 8787: opening the old port again would stop the daemon.
            shared = serving and conf.webhook_port == settings.server.port != 0
            if len(views) == 1 and not shared:  # one pair: its webhook also has a port of its own
                webhook = WebhookServer(receiver.app(), conf.webhook_host, conf.webhook_port)
                await webhook.start()
        runtimes[view.pair] = runtime
        not_started.discard(view.pair)
        scheduler.add_job(
            cycle, "interval", args=[view.pair], seconds=view.sync.interval_seconds, id=f"sync:{view.pair}",
            max_instances=1, coalesce=True, misfire_grace_time=None, next_run_time=datetime.now(timezone.utc),
        )
        log.info("pair %s: a cycle every %ss", view.pair, view.sync.interval_seconds)

    async def start_or_stop(view: Settings) -> None:
        try:
            await start_pair(view)
        except Exception as exc:
            if isinstance(exc, ConfigError) and len(refused) + 1 < len(views):
                # The pair's own configuration: the others run. The log, its status and /readyz say why.
                why = describe_failure(view, exc)
                refused[view.pair] = f"not started: {why}"
                log.error("pair %s: not started: %s (the other pairs run)", view.pair, why)
                store.for_pair(view.pair).audit(platform="connector", action=START_FAILED, target_id="run", reason=why)
                return
            # Whose start-up stopped the daemon (the last pair, or not its configuration): `run`
            # records the failure for that pair's status and names the pair in its message.
            exc.failed_pair = view
            fatal.append(exc)
            stop.set()

    try:
        # One engine for every pair (Store.for_pair), opened first: no pair waits for another's API.
        store = store or Store.open(settings.database_url, clock=runtime_options.get("clock", SYSTEM_CLOCK),
                                    pair=views[0].pair)
        scheduler.start()
        # Side by side, behind servers that answer at once: one merchant's API down holds no other
        # pair back, and /healthz answers while a pair waits for its API (/readyz says why).
        starting = [asyncio.create_task(start_or_stop(view)) for view in views]
        # Health, readiness, metrics and the webhooks (issue 17); the console at / (issue 18).
        if serving:
            from connector.console.app import console_routes  # Jinja2 and the rest only when served

            conf = settings.server
            deferrer = InProcessDeferrer(runtimes)  # the embedded mode runs its jobs itself
            hooks = BigCommerceWebhooks(runtimes, deferrer, metrics, not_started)
            metrics.jobs = deferrer.states
            routes = (hooks.routes() + idv_routes(receivers, not_started, [v.pair for v in views])
                      + console_routes(settings, runtimes))
            ops = WebhookServer(ops_app(runtimes, metrics, routes, expected=[v.pair for v in views],
                                        metrics_token=conf.metrics_token, refused=refused),
                                conf.host, conf.port, config_keys="server.host/server.port",
                                listening="order-sync server on http://{}:{} (/healthz, /readyz, /metrics,"
                                          " /webhooks/bigcommerce/PAIR, /webhooks/id-verification/PAIR"
                                          + (", the console at /)" if settings.console.enabled else ")"))
            await ops.start()
            hook_worker = asyncio.create_task(deferrer.work())
        log.info("order-sync daemon started: %d store pair(s)", len(views))
        await stop.wait()
        log.info("stopping: finishing the orders in hand")
        # Paused, not shut down, until the cycles are done: APScheduler cancels a running job on
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
        for task in starting:
            task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)
        if hook_worker is not None:
            hook_worker.cancel()
            await asyncio.gather(hook_worker, return_exceptions=True)
        for server in (webhook, ops):
            if server is not None:
                await server.stop()
        for runtime in runtimes.values():
            await runtime.aclose()
        if store is not None:
            store.close()
    if fatal:
        raise fatal[0]
    log.info("order-sync daemon stopped")
    return 0


def run_daemon(settings: Settings, pairs: list[Settings] | None = None) -> int:
    async def main() -> int:
        return await daemon(settings, interrupts.stop_event(), pairs=pairs)

    # SIGTERM is how a service manager stops the daemon: its normal end, exit 0.
    return interrupts.run(main(), sigterm_exit=0)
