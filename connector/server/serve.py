"""`order-sync serve [--host H] [--port P]` (issue 17, point 3): the webhook and operations server of a
fleet, on uvicorn.

One process answers, for every store pair of the configuration, POST /webhooks/bigcommerce/{pair},
POST /webhooks/id-verification/{pair} (when ID verification is on; the old path stays for the
default pair), and GET /healthz, /readyz, /metrics. It polls nothing: the sync cycles are the
workers' or `order-sync run`'s, recorded in the shared database, which is what /readyz reads (every
pair needs a successful cycle within 3 × its interval). SIGTERM stops it with exit 0, as it does
`run`: it is a service manager's normal way to stop it.
"""

from __future__ import annotations

import asyncio
import logging


from connector import interrupts
from connector.clock import SYSTEM_CLOCK
from connector.config import Settings
from connector.errors import ApiError, ConfigError
from connector.idv.server import WebhookServer
from connector.idv.service import start_if_enabled
from connector.runtime import Runtime
from connector.scheduler import _start_runtime
from connector.server.bc_webhooks import BigCommerceWebhooks
from connector.server.deferral import deferrer_for
from connector.server.metrics import PairMetrics
from connector.server.ops import idv_routes, ops_app
from connector.store.repository import Store

log = logging.getLogger("connector.server")


async def serve(settings: Settings, stop: asyncio.Event, *, pairs: list[Settings] | None = None,
                host: str | None = None, port: int | None = None, **runtime_options) -> int:
    """Serve `pairs` (default: every pair) until `stop` is set; `host`/`port` (the command's options)
    win over server.host/port.

    The server answers at once and each pair starts on its own, side by side: one merchant whose API
    is down (or whose token was revoked) does not hold the fleet's webhooks back. Until a pair is up,
    its webhooks answer 503 (delivered again later) and /readyz names it."""
    views = pairs or settings.pair_settings()
    clock = runtime_options.get("clock", SYSTEM_CLOCK)
    # One engine for every pair (Store.for_pair), closed once at the end.
    store = Store.open(settings.database_url, clock=clock, pair=views[0].pair)
    runtimes: dict[str, Runtime] = {}  # filled as pairs start: every route reads it per request
    receivers: dict = {}  # the ID-verification webhook receivers, likewise
    starting = {view.pair for view in views}
    fatal: list[BaseException] = []  # what stopped a pair's start (bad configuration): it stops serve

    async def start_pair(view: Settings) -> None:
        # The receiver needs each pair's clients: the in-process deferrer mirrors with them, and
        # /metrics reports their requests and quotas. An API down at start-up is waited out.
        try:
            runtime = await _start_runtime(view, stop, store=store, **runtime_options)
            if runtime is None:  # stopped while waiting
                return
            try:
                idv = await start_if_enabled(runtime.settings, runtime.bc, runtime.store, runtime.idv_rules)
            except BaseException:
                await runtime.aclose()
                raise
        except Exception as exc:
            fatal.append(exc)
            stop.set()
            return
        if idv is not None and (receiver := idv.webhook_receiver()) is not None:
            receivers[view.pair] = receiver
        runtimes[view.pair] = runtime
        starting.discard(view.pair)
        log.info("pair %s: serving its webhooks", view.pair)

    metrics = PairMetrics(runtimes)
    deferrer = deferrer_for(settings, runtimes)
    metrics.jobs = deferrer.states
    from connector.console.app import console_routes  # Jinja2 and the rest only when served

    # The console last: /healthz, /metrics and the webhooks match first.
    routes = (BigCommerceWebhooks(runtimes, deferrer, metrics, starting).routes()
              + idv_routes(receivers, starting, [v.pair for v in views]) + console_routes(settings, runtimes))
    server = WebhookServer(
        ops_app(runtimes, metrics, routes, expected=[v.pair for v in views],
                metrics_token=settings.server.metrics_token), host or settings.server.host,
        settings.server.port if port is None else port, config_keys="--host/--port (server.host/server.port)",
        listening="order-sync serve on http://{}:{} (/webhooks/bigcommerce/PAIR, /healthz, /readyz, /metrics)"
                  f" for {len(views)} pair(s): " + ", ".join(v.pair for v in views),
    )
    tasks: list[asyncio.Task] = []
    started = False
    try:
        await server.start()
        started = True
        tasks = [asyncio.create_task(start_pair(view)) for view in views]
        work = getattr(deferrer, "work", None)  # its background task: mirroring, or counting jobs
        if work is not None:
            tasks.append(asyncio.create_task(work()))
        await stop.wait()
        log.info("order-sync serve stopping")
    finally:
        if started:
            await server.stop()  # no new webhook first, then the job in hand goes as after a crash
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for runtime in runtimes.values():
            await runtime.aclose()
        store.close()
    if fatal:
        raise fatal[0]
    log.info("order-sync serve stopped")
    return 0


def run_serve_command(settings: Settings, pairs: list[Settings], host: str | None, port: int | None) -> int:
    """`order-sync serve`: a start-up it refuses (bad config, an API refusing) is recorded, as for run."""
    from connector.commands import START_FAILED, failure_recorded

    async def main() -> int:
        return await serve(settings, interrupts.stop_event(), pairs=pairs, host=host, port=port)

    with failure_recorded(pairs[0], "serve", START_FAILED, (ConfigError, ApiError)):
        return interrupts.run(main(), sigterm_exit=0)
