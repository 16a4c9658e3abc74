"""`order-sync import-history [--since DATE] [--until DATE] [--dry-run]`: the command's edge."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from connector.config import Settings
from connector import interrupts
from connector.errors import EXIT_FAILURES, EXIT_OK, ConfigError, UsageError
from connector.history.importer import DISABLED_MESSAGE, HistoricalImport, ImportReport
from connector.history.progress import Progress, _duration
from connector.runtime import Runtime
from connector.sync.reconcile import refuse_lost_state
from connector.values import parse_any_date

# The dry run's lists, longest first: the rest is counted, so the totals above them add up.
STOCK_SHOWN, PROBLEMS_SHOWN = 15, 10


def parse_date_arg(value: str | None, name: str) -> datetime | None:
    """--since / --until (import-history, reconcile). A plain date is midnight UTC, and for --until the
    midnight that ends it: "orders created up to 2025-11-05" takes that whole day, so chunks
    `--until 2025-11-05` then `--since 2025-11-06` leave no day out. (The listing reads both bounds
    inclusive whatever BigCommerce's do: an order placed at the next midnight itself is read by both
    chunks, and its binding keeps it from being written twice.) A time is kept as given;
    one without an offset is UTC."""
    if value is None:
        return None
    text = value.strip()
    try:  # any form of a plain date (2025-11-05, 20251105): its length says nothing
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:  # a plain date: midnight UTC
        when = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    else:
        try:
            when = parse_any_date(text)
        except ValueError:
            raise ConfigError(f"--{name} {value!r}: use a date (2025-01-31) or an ISO-8601 time "
                              "(2025-01-31T18:00:00+10:00; a time without an offset is UTC)") from None
    if day is not None and name == "until":
        when += timedelta(days=1)
        print(f"--until {day.isoformat()}: orders created through the end of that day, up to {when.isoformat()}")
    return when


def check_range(since: datetime | None, until: datetime | None) -> None:
    """An inverted range reads no order, which would pass for a clean bill: refused."""
    if since is not None and until is not None and since > until:
        raise UsageError(f"--since {since.isoformat()} is after --until {until.isoformat()}: that range holds no"
                         " order; give the earlier date to --since")


def import_history(settings: Settings, *, since: str | None, until: str | None, dry_run: bool) -> int:
    if not settings.historical_import.enabled:
        # Through the command line's error path: a JSON log line under --log-format json; exit 2.
        raise ConfigError(f"import-history refused: {DISABLED_MESSAGE}")
    since_dt = parse_date_arg(since, "since")
    until_dt = parse_date_arg(until, "until")
    check_range(since_dt, until_dt)
    # SIGTERM: 143, like Ctrl-C's 130 a stop before the end (the checkpoint resumes it).
    return interrupts.run(_run(settings, since_dt, until_dt, dry_run))


async def _run(settings: Settings, since: datetime | None, until: datetime | None, dry_run: bool) -> int:
    runtime = await Runtime.start(settings)
    try:
        if not dry_run:
            await refuse_lost_state(runtime)  # a lost state database: every sale would be written twice
        # Its stop event is the command's (connector.interrupts): Ctrl-C / SIGTERM sets it.
        importer = HistoricalImport(runtime, since=since, until=until, dry_run=dry_run,
                                    concurrency=max(settings.sync.concurrency, 8), progress=Progress(0))
        report = await importer.run()
    finally:
        await runtime.aclose()
    _print(report)
    if report.interrupted:
        return interrupts.EXIT_SIGINT
    return EXIT_FAILURES if report.cycle.failed or report.cycle.refunds_to_retry else EXIT_OK


def _print(report: ImportReport) -> None:
    span = f"{report.since.isoformat() if report.since else 'the first order'} → {report.until.isoformat()}"
    if report.dry_run is not None:
        r = report.dry_run
        partial = " (interrupted: only the orders read until then)" if report.interrupted else ""
        print(f"dry run over orders created {span}: nothing was written{partial}")
        print(f"  orders: {r.orders} ({r.already_mirrored} already mirrored, {r.not_imported} with a status that"
              f" writes no sale (Pending, Incomplete…), {len(r.problems)} that would fail)")
        print("  sales that would be created: "
              + (", ".join(f"{state} {n}" for state, n in sorted(r.sales.items()) if n) or "none"))
        print(f"  new X-Series products: {len(r.new_products)}"
              + (f" ({', '.join(sorted(r.new_products)[:10])}{', …' if len(r.new_products) > 10 else ''})"
                 if r.new_products else ""))
        print(f"  new X-Series customers: {len(r.new_customers)}")
        print(f"  stock leaving the outlet: {sum(r.stock.values())} units over {len(r.stock)} products")
        moved = sorted(r.stock.items(), key=lambda kv: (-kv[1], kv[0]))
        for sku, qty in moved[:STOCK_SHOWN]:
            print(f"    {sku:<28} -{qty}")
        if len(moved) > STOCK_SHOWN:
            print(f"    … and {len(moved) - STOCK_SHOWN} more products, {sum(q for _, q in moved[STOCK_SHOWN:])} units")
        if r.problems:
            print(f"  orders that would fail: {len(r.problems)}")
            for order_id, why in sorted(r.problems.items())[:PROBLEMS_SHOWN]:
                print(f"    order {order_id}: {why}")
            if len(r.problems) > PROBLEMS_SHOWN:
                print(f"    … and {len(r.problems) - PROBLEMS_SHOWN} more")
        print(f"  estimated duration at the API quotas: {_duration(report.estimated_seconds)}")
        return
    c = report.cycle
    outcomes = ", ".join(f"{k.value} {v}" for k, v in sorted(c.outcomes.items())) or "nothing"
    state = ("interrupted (run it again to go on where it stopped)" if report.interrupted else
             "orders done, refunds not (run it again to retry the refunds that failed)" if c.refunds_to_retry
             else "done")
    resumed = f", resumed from {report.resumed_from.isoformat()}" if report.resumed_from else ""
    print(f"import of orders created {span}: {state}{resumed}")
    print(f"  {report.total} orders in range; {outcomes}; {len(c.failed)} failed")
    for order_id, why in sorted(c.failed.items())[:20]:
        print(f"  order {order_id}: {why}")
    if c.refunds or c.refunds_failed:
        print("  refunds: " + (", ".join(f"{k} {v}" for k, v in sorted(c.refunds.items())) or "none settled")
              + f"; {len(c.refunds_failed)} failed")
    # A row without an id is keyed None: sorted as text.
    for refund_id, why in sorted(c.refunds_failed.items(), key=lambda item: str(item[0]))[:20]:
        held = " (unreadable: an exception is open for a person)" if refund_id in c.refunds_unreadable else ""
        print(f"  refund {refund_id}{held}: {why}")
