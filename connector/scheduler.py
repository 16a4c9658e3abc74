"""`order-sync run`: the daemon.

APScheduler (3.x) runs one sync cycle every sync.interval_seconds: never two at once
(max_instances=1), missed runs coalesced into one. SIGTERM/SIGINT set a stop flag: the cycle in
hand finishes the orders it has started (none is left half-written), starts no new one, and the
process exits 0. Errors of a cycle are logged and the next cycle tries again: the daemon does not die
on bad input, an API outage or a revoked token.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from connector.config import Settings
from connector.errors import CredentialsError
from connector.runtime import Runtime

log = logging.getLogger("connector.daemon")


async def daemon(settings: Settings, stop: asyncio.Event, **runtime_options) -> int:
    runtime = await Runtime.start(settings, **runtime_options)
    scheduler = AsyncIOScheduler(timezone=timezone.utc)
    idle = asyncio.Event()
    idle.set()

    async def cycle() -> None:
        if stop.is_set():
            return
        idle.clear()
        try:
            report = await runtime.cycle(stop_event=stop).run()
            log.info("cycle: %d seen, %d written, %d failed", report.seen, report.written, len(report.failed))
        except CredentialsError as exc:
            log.error("cycle stopped, credentials rejected (fix them; retrying next cycle): %s", exc)
        except Exception:  # the daemon must survive anything a cycle meets
            log.exception("cycle failed; the next one will try again")
        finally:
            idle.set()

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
        scheduler.shutdown(wait=False)
        await idle.wait()
    finally:
        await runtime.aclose()
        runtime.store.close()
    log.info("order-sync daemon stopped")
    return 0


def run_daemon(settings: Settings) -> int:
    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await daemon(settings, stop)

    return asyncio.run(main())
