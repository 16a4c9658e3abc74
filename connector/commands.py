"""What the one-shot commands do (sync, status, retry-failed), apart from argument parsing."""

from __future__ import annotations

import logging

from connector.config import Settings
from connector.runtime import Runtime
from connector.store.repository import Store

log = logging.getLogger("connector.cli")


async def sync_once(settings: Settings, **runtime_options) -> int:
    from connector.idv.service import poll_once, start_if_enabled

    runtime = await Runtime.start(settings, **runtime_options)
    try:
        # ID verification first: statuses its verdicts set reach X-Series in this same cycle.
        idv = await start_if_enabled(settings, runtime.bc, runtime.store)
        idv_settled = await poll_once(idv)
        report = await runtime.cycle().run()
    finally:
        await runtime.aclose()
    log.info(
        "cycle done: window %s → %s, %d orders seen, %d written, %d failed (%s)",
        report.window_start, report.window_end, report.seen, report.written, len(report.failed),
        ", ".join(f"{k.value}={v}" for k, v in sorted(report.outcomes.items())) or "nothing to do",
    )
    return 1 if report.failed or not idv_settled else 0


def show_status(settings: Settings, out=None) -> int:
    import sys

    out = out or sys.stdout
    store = Store.open(settings.database_url)
    try:
        cursor = store.cursor()
        print(f"cursor: {cursor.isoformat() if cursor else 'not started'}", file=out)
        counts = store.count_bindings_by_state()
        print("orders by POS state: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"),
              file=out)
        pending = store.pending_bindings()
        if pending:
            print(f"writes with unknown outcome (looked up before any new write): "
                  f"{', '.join(str(b.bc_order_id) for b in pending)}", file=out)
        last = store.last_cycle("sync")
        if last is None:
            print("last cycle: never", file=out)
        else:
            print(f"last cycle: started {last.started_at:%Y-%m-%d %H:%M:%S}Z, {last.outcome}, "
                  f"{last.orders_seen} seen, {last.orders_written} written, {last.orders_failed} failed",
                  file=out)
        failures = store.failures()
        print(f"failed orders: {len(failures)}", file=out)
        for f in failures:
            state = "parked" if f.parked else f"next try {f.next_attempt_at:%Y-%m-%d %H:%M:%S}Z"
            print(f"  order {f.bc_order_id}: step {f.step}, {f.attempts} attempt(s), {state}: {f.reason}",
                  file=out)
        from connector.idv.commands import status_lines

        for line in status_lines(settings, store):
            print(line, file=out)
    finally:
        store.close()
    return 0


def retry_failed(settings: Settings, order_id: int | None) -> int:
    store = Store.open(settings.database_url)
    try:
        count = store.unpark(order_id)
    finally:
        store.close()
    print(f"{count} failed order(s) will be retried at the next cycle")
    return 0
