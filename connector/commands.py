"""The one-shot commands sync, status and retry-failed, and the start of run."""

from __future__ import annotations

import contextlib
import getpass
import logging
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlmodel import select

from connector import interrupts
from connector.clock import SYSTEM_CLOCK, Clock
from connector.config import Settings, describe_failure
from connector.errors import EXIT_FAILURES, EXIT_OK, ApiError, ConfigError, UsageError
from connector.runtime import Runtime
from connector.store.import_runs import ImportRuns, read_to
from connector.store.repository import Store
from connector.store.tables import AuditEntry
from connector.sync.go_live import FIRST_RUN_LOOKBACK, stale_first_cycle  # how far back start_at may reach

log = logging.getLogger("connector.cli")

# Failed start-ups and stopped cycles, recorded in the audit log (durable, and read by status).
START_FAILED, CYCLE_FAILED = "start_failed", "cycle_failed"
IDV_POLL_FAILED = ("the ID-verification metafield poll failed or left orders' verdicts to retry (the "
                   "log says why); the orders were mirrored, the next cycle polls again")  # /readyz stays ready


def refuse_unsafe_first_run(settings: Settings, store: Store) -> None:
    """Refuse (ConfigError, exit 2) a first run (no orders cursor yet) whose start reaches more than a
    day back, unless the historical import is enabled: start_at, else where import-history read up to,
    else where a first cycle that failed began (SyncCycle.run): the orders since are in neither, and
    mirroring them moves stock like the import; never silently skipped either, as starting now would."""
    start_at = settings.sync.start_at
    if settings.historical_import.enabled or store.cursor() is not None:
        return
    imported = None if start_at else ImportRuns(store).imported_until()
    age = store.clock.now() - (start_at or imported or store.clock.now())
    if imported is not None and age > FIRST_RUN_LOOKBACK:
        point, stopped = f"{imported:%Y-%m-%dT%H:%M:%SZ}", ImportRuns(store).stopped()
        if stopped is not None and read_to(stopped) == imported:  # unfinished: resumed, it reads the rest
            since = f" --since {stopped.since:%Y-%m-%dT%H:%M:%SZ}" if stopped.since else ""
            advice = (f"Resume the unfinished import first (`order-sync import-history{since}`, no --until: "
                      "it goes on from where it stopped")
        else:
            advice = f"Import them first (`order-sync import-history --since {point}`"
        raise ConfigError(
            f"import-history read the orders created up to {point}, {_days(age)} before "
            "this first run: the orders placed since are mirrored by neither, and mirroring them moves stock. "
            f"{advice}, with historical_import.enabled: true; the first run goes on from where it ends), or set "
            "sync.start_at where the first run should start (the orders before it are left alone)."
        )
    first = None if start_at or imported else store.first_window_start("sync")  # a first cycle that failed
    refused = first and stale_first_cycle(store.clock.now(), first, timedelta(seconds=settings.sync.overlap_seconds))
    if refused:
        raise ConfigError(refused)
    if age > FIRST_RUN_LOOKBACK:
        raise ConfigError(
            f"{settings.where('sync.start_at')}: sync.start_at {start_at:%Y-%m-%dT%H:%M:%SZ} is {_days(age)} "
            "before this first run (more than 24 hours); mirroring past orders is the historical import, "
            "which moves stock and stays off unless support enables it: use `order-sync import-history` for "
            "them (with historical_import.enabled: true). Leave start_at out (the first run starts now) or "
            "set it at most 24 hours back."
        )


def _days(age: timedelta) -> str:
    hours, minutes = divmod(int(age.total_seconds()) // 60, 60)
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours} h {minutes:02d} min"


@contextlib.contextmanager
def failure_recorded(settings: Settings, command: str, action: str, errors: tuple[type[Exception], ...], *,
                     store: Store | None = None, clock: Clock = SYSTEM_CLOCK) -> Iterator[None]:
    """When the block raises one of `errors`, record why `command` stopped for `order-sync status`.
    Best effort: when the database itself fails, the message on stderr is all there is."""
    try:
        yield
    except errors as exc:
        try:
            with (contextlib.nullcontext(store) if store is not None
                  else contextlib.closing(Store.open(settings.database_url, clock=clock, pair=settings.pair))) as target:
                target.audit(platform="connector", action=action, target_id=command,
                             reason=describe_failure(settings, exc))
        except Exception as failure:  # noqa: BLE001 - the original error is what the caller reports
            log.debug("could not record the failure: %s", failure)
        raise


async def sync_once(settings: Settings, **runtime_options) -> int:
    from connector.idv.service import poll_once, start_if_enabled
    from connector.sync.reconcile import refuse_lost_state

    with failure_recorded(settings, "sync", START_FAILED, (ConfigError, ApiError),
                          clock=runtime_options.get("clock", SYSTEM_CLOCK)):
        runtime = await Runtime.start(settings, **runtime_options)
    try:
        with failure_recorded(settings, "sync", START_FAILED, (ConfigError, ApiError), store=runtime.store):
            refuse_unsafe_first_run(settings, runtime.store)
            await refuse_lost_state(runtime)
            idv = await start_if_enabled(settings, runtime.bc, runtime.store, runtime.idv_rules)
        with failure_recorded(settings, "sync", CYCLE_FAILED, (ApiError, ConfigError), store=runtime.store):
            # ID verification first: statuses its verdicts set reach X-Series in this same cycle.
            idv_settled = await poll_once(idv, runtime.store)
            report = await runtime.cycle().run()
        if not idv_settled:  # recorded after the cycle's row, which status would call a later good cycle
            runtime.store.audit(platform="connector", action=CYCLE_FAILED, target_id="sync", reason=IDV_POLL_FAILED)
        # Failed orders of earlier cycles count too: monitoring by exit code must see them. So do
        # refunds X-Series refused for good, held for a person as a parked order is.
        outstanding = runtime.store.failures()
        refused = runtime.store.refunds_held_for_a_person(("refused",))
    finally:
        await runtime.aclose()
    log.info(
        "cycle done: window %s → %s, %d orders seen, %d written, %d failed (%s)",
        report.window_start, report.window_end, report.seen, report.written, len(report.failed),
        ", ".join(f"{k.value}={v}" for k, v in sorted(report.outcomes.items())) or "nothing to do",
    )
    if outstanding:
        parked = sum(1 for f in outstanding if f.parked)
        log.warning("%d order(s) failed, %d of them parked (see order-sync status)", len(outstanding), parked)
    if report.refunds_failed or refused:
        # A failed refund holds the refunds cursor and is retried next cycle; a refused one waits.
        log.warning("%d refund(s) failed this cycle, %d refused and held for a person (see order-sync status)",
                    len(report.refunds_failed), len(refused))
    failed = report.failed or outstanding or report.refunds_failed or refused
    return EXIT_FAILURES if failed or not idv_settled else EXIT_OK


def run_daemon_command(settings: Settings, pairs: list[Settings] | None = None) -> int:
    """`order-sync run`: the daemon; a start-up that stops it is recorded."""
    from connector.scheduler import run_daemon

    pairs = pairs or settings.pair_settings()
    try:
        return run_daemon(settings, pairs)
    except (ConfigError, ApiError) as exc:
        # Under the pair whose start-up stopped the daemon; the first pair when it was not one
        # pair's (the daemon's own server, say).
        with failure_recorded(getattr(exc, "failed_pair", pairs[0]), "run", START_FAILED, (ConfigError, ApiError)):
            raise


def last_failure_line(store: Store) -> str:
    """The last failed start-up or stopped cycle, with its reason when one was recorded."""
    with store.session() as s:
        entry = s.exec(
            select(AuditEntry).where(AuditEntry.pair == store.pair, AuditEntry.platform == "connector",
                                     AuditEntry.action.in_([START_FAILED, CYCLE_FAILED]))
            .order_by(AuditEntry.id.desc())
        ).first()
    cycle = store.last_cycle("sync", outcome="error")
    good = store.last_cycle("sync", outcome="ok")
    if entry is None and cycle is None:
        return "last failure: none"
    if entry is not None and (cycle is None or entry.at >= cycle.started_at):
        at, what = entry.at, f"{'start-up' if entry.action == START_FAILED else 'cycle'} of `{entry.target_id}`"
        reason = entry.reason
    else:
        at, what = cycle.started_at, "cycle"
        reason = "stopped by an error (the daemon's log says why)"
    later = " (a later cycle went well)" if good is not None and good.started_at > at else ""
    return f"last failure: {at:%Y-%m-%d %H:%M:%S}Z {what}: {reason}{later}"


def show_status(settings: Settings, out=None) -> int:
    from connector.idv.commands import status_lines

    with contextlib.closing(Store.open(settings.database_url, pair=settings.pair)) as store:
        cursor = store.cursor()
        counts = store.count_bindings_by_state()
        lines = [f"cursor: {cursor.isoformat() if cursor else 'not started'}",
                 "orders by POS state: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none")]
        pending = store.pending_bindings()
        if pending:
            lines.append("writes with unknown outcome (looked up before any new write): "
                         + ", ".join(str(b.bc_order_id) for b in pending))
        last = store.last_cycle("sync")
        lines.append("last cycle: never" if last is None else
                     f"last cycle: started {last.started_at:%Y-%m-%d %H:%M:%S}Z, {last.outcome}, "
                     f"{last.orders_seen} seen, {last.orders_written} written, {last.orders_failed} failed"
                     # Failed refunds are not counted in the row: the outcome alone says some failed.
                     + (" (a refund failed: the cycle's log says which; retried next cycle)"
                        if last.outcome == "failures" and not last.orders_failed else ""))
        lines.append(last_failure_line(store))
        lines.append(f"open exceptions: {store.count_open_exceptions()} (order-sync exceptions)")
        failures = store.failures()
        lines.append(f"failed orders: {len(failures)}")
        for f in failures:
            state = "parked" if f.parked else f"next try {f.next_attempt_at:%Y-%m-%d %H:%M:%S}Z"
            lines.append(f"  order {f.bc_order_id}: step {f.step}, {f.attempts} attempt(s), {state}: {f.reason}")
        lines += refund_status_lines(store)
        lines += status_lines(settings, store)
    print("\n".join(lines), file=out or sys.stdout)
    return 0


def refund_status_lines(store: Store) -> list[str]:
    """The refunds waiting for a person (refused by X-Series, or one it cannot express), each with
    why; a refund failing for a passing reason is retried each cycle and shows in `sync`'s log."""
    held = store.refunds_held_for_a_person()
    lines = [f"refunds held for a person: {len(held)}"
             + (" (order-sync retry-failed --order ID posts one again)" if held else "")]
    lines += [f"  order {b.bc_order_id}: refund {b.refund_id}, {b.outcome}: {b.reason}" for b in held]
    return lines


def retry_failed(settings: Settings, order_id: int | None, *, by: str | None = None) -> int:
    with contextlib.closing(Store.open(settings.database_url, pair=settings.pair)) as store:
        count = store.request_retry(order_id, by=by or getpass.getuser(), via="retry-failed")
        refunds = store.request_refund_retry(order_id, by=by or getpass.getuser(), via="retry-failed")
    print(f"{count} failed order(s) will be retried at the next cycle")
    if refunds:
        print(f"{refunds} refund(s) held for a person will be posted again at the next cycle")
    return 0


def show_exceptions(settings: Settings, resolve: int | None, *, by: str | None = None) -> int:
    """`order-sync exceptions`: the pair's open exceptions, oldest first; `--resolve ID` closes one
    (audited, with who). Exit 2 for an exception that is not open."""
    with contextlib.closing(Store.open(settings.database_url, pair=settings.pair)) as store:
        if resolve is not None:
            who = by or getpass.getuser()
            row = store.resolve_exception(resolve, by=who)
            if row is None:
                raise UsageError(f"no open exception {resolve} (order-sync exceptions lists them)")
            print(f"exception {row.id} (order {row.bc_order_id}, {row.kind}) resolved by {who}")
            return 0
        rows = store.exceptions()
    print(f"open exceptions: {len(rows)}")
    for row in rows:
        print(f"  #{row.id} order {row.bc_order_id} [{row.kind}] {row.opened_at:%Y-%m-%d %H:%M:%S}Z: {row.summary}")
        for side in ("before", "after"):
            if getattr(row, side):
                print(f"      {side}: {getattr(row, side)}")
    return 0


def reconcile(settings: Settings, since: datetime | None, until: datetime | None, *, adopt: bool,
              fix: bool) -> int:
    """`order-sync reconcile`: the drift between BigCommerce and X-Series over the range; 0 when none
    is left (after --adopt / --fix), 1 when some is (listed, and with --fix opened as exceptions). An
    order placed before going live with no sale is no drift while the historical import is off."""
    from connector.history.command import check_range
    from connector.sync.reconcile import Reconciler

    check_range(since, until)

    async def run() -> int:
        runtime = await Runtime.start(settings)
        try:
            report = await Reconciler(runtime).run(since, until, adopt=adopt, fix=fix)
        finally:
            await runtime.aclose()
        print(f"reconcile: {report.orders} BigCommerce orders, {report.sales} sales of ours in X-Series;"
              f" {len(report.drift)} drift")
        settled = set(report.adopted) | set(report.fixed)
        for d in report.drift:
            done = " — adopted" if d.kind == "unbound" and d.bc_order_id in report.adopted else \
                " — fixed" if d.bc_order_id in report.fixed and d.kind in ("missing", "wrong_state") else \
                f" — not fixed: {report.failed[d.bc_order_id]}" if d.bc_order_id in report.failed else ""
            print(f"  order {d.bc_order_id}: {d.kind}: {d.detail}{done}")
        if report.before_go_live:
            print(f"{len(report.before_go_live)} order(s) placed before go-live have no sale: that is expected, not"
                  " drift (mirroring them moves stock: `order-sync import-history`, once support enables it)")
        if report.exceptions:
            print(f"{report.exceptions} exception(s) opened for what cannot be repaired safely"
                  " (order-sync exceptions)")
        left = [d for d in report.drift if d.bc_order_id not in settled or d.kind not in ("unbound", "missing",
                                                                                            "wrong_state")]
        return EXIT_FAILURES if left else EXIT_OK

    return interrupts.run(run())


def register_webhooks(settings: Settings, url: str, **runtime_options) -> int:
    """`order-sync webhooks register --url BASE`: the pair's hooks, created or set right (idempotent)."""
    from connector.server.hooks import register_hooks

    secret = settings.bigcommerce.webhook_secret
    if secret is None or not secret.get_secret_value():
        raise ConfigError(f"{settings.where('bigcommerce')}: bigcommerce.webhook_secret is not set; webhooks"
                          " carry it so the receiver can tell BigCommerce's calls from anyone else's")

    async def run() -> int:
        runtime = await Runtime.start(settings, **runtime_options)
        try:
            done = await register_hooks(runtime.bc, url, settings.pair, secret.get_secret_value())
        finally:
            await runtime.aclose()
        for scope, what in done:
            print(f"{scope}: {what}")
        return 0

    return interrupts.run(run())
