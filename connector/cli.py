"""The order-sync command line. Command names, options and exit codes are a public contract:
0 all went well; 1 some orders failed (retried next cycle); 2 bad configuration or credentials.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from connector import __version__, interrupts
from connector.errors import (EXIT_CONFIG, EXIT_FAILURES, ApiError, ConfigError, CredentialsError, DatabaseUnavailable,
                              UsageError)
from connector.logs import LEVELS as LOG_LEVELS

# Our reader went away (`order-sync audit | head`): what a shell reports for `yes | head` (SIGPIPE).
EXIT_BROKEN_PIPE = 128 + 13
log = logging.getLogger("connector.cli")


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--config", default=default, metavar="PATH",
                        help="config file (else $ORDER_SYNC_CONFIG, else ./config.yaml)")
    parser.add_argument("--log-format", choices=["text", "json"], default="text" if top else argparse.SUPPRESS,
                        help="text (default) or json: one JSON object per line")
    parser.add_argument("--log-level", default="INFO" if top else argparse.SUPPRESS, type=str.upper,
                        choices=LOG_LEVELS, metavar="LEVEL",
                        help="DEBUG, INFO (default), WARNING, ERROR or CRITICAL (any case)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="order-sync", description="Mirror BigCommerce orders into Lightspeed Retail X-Series sales.")
    parser.add_argument("--version", action="version", version=f"order-sync {__version__}")
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, *, pair: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p, top=False)
        if pair:
            _pair_option(p)
        return p

    command("sync", "run one sync cycle (exit 0: all mirrored, 1: some orders failed, 2: bad config)")
    command("run", "run the daemon: a sync cycle every sync.interval_seconds until SIGTERM/SIGINT")
    p = command("serve", "serve the BigCommerce webhooks, /healthz, /readyz and /metrics for every pair"
                         " (no polling: workers or `run` poll) until SIGTERM/SIGINT")
    p.add_argument("--host", default=None, help="address to listen on (default: server.host, else 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port to listen on (default: server.port, else 8787)")
    p = command("worker", "run a job worker on PostgreSQL: every pair's syncs, shared with the other workers,"
                          " until SIGTERM/SIGINT")
    p.add_argument("--concurrency", type=_positive, metavar="N",
                   help="jobs at the same time (default: workers.concurrency)")
    p.add_argument("--metrics-port", type=int, metavar="N",
                   help="serve this worker's own /metrics on server.host:N (default: none)")
    p = command("db", "the state database", pair=False)
    db = p.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    _common(db.add_parser("upgrade", help="apply every migration the database lacks (also done at every start)"),
            top=False)
    command("status", "show the cursor, sales per POS state, failed orders and the last cycle")
    p = command("retry-failed", "make failed (and parked) orders due again at the next cycle")
    p.add_argument("--order", type=int, metavar="ID", help="only this BigCommerce order")
    p = command("import-history", "import past orders (refused unless historical_import.enabled: it moves stock)")
    p.add_argument("--since", metavar="DATE",
                   help="orders created from this date (a time without an offset is UTC; default: the store's"
                        " first order)")
    p.add_argument("--until", metavar="DATE",
                   help="orders created up to this date, the whole day for a plain date (a time without an"
                        " offset is UTC; default: where the daemon's cursor started)")
    p.add_argument("--dry-run", action="store_true",
                   help="write nothing; print what would be created and how long the quotas make it take")
    p = command("id-check", "apply an ID-verification event to an order now (the rules and Order Protection apply)")
    p.add_argument("order_id", type=int, metavar="ORDER_ID", help="the BigCommerce order id")
    p.add_argument("event", choices=["started", "submitted", "passed", "failed", "approved", "rejected"],
                   help="started/submitted: in progress; passed/approved: passed; failed/rejected: failed")
    p.add_argument("--check-id", metavar="ID", default=None,
                   help="the check this event belongs to (default: the order's latest check)")
    p = command("exceptions", "list what a person must look at (edits, currencies, refunds…); --resolve closes one")
    p.add_argument("--resolve", type=int, metavar="ID", help="resolve this exception (audited, with who)")
    p = command("reconcile", "compare BigCommerce orders with X-Series sales and report drift;"
                             " --adopt binds existing sales, --fix repairs what is safe")
    p.add_argument("--since", metavar="DATE",
                   help="orders created from this date (a time without an offset is UTC; default: the first)")
    p.add_argument("--until", metavar="DATE",
                   help="orders created up to this date, the whole day for a plain date (a time without an"
                        " offset is UTC; default: now)")
    p.add_argument("--adopt", action="store_true", help="bind sales that exist but the store does not know")
    p.add_argument("--fix", action="store_true",
                   help="mirror missing orders (not those from before go-live unless historical_import.enabled:"
                        " see import-history), void closed sales that should be voided; the rest become exceptions")
    p = command("webhooks", "BigCommerce webhooks of the store pairs", pair=False)
    hooks = p.add_subparsers(dest="webhooks_command", required=True, metavar="WEBHOOKS_COMMAND")
    register = hooks.add_parser("register", help="create or set right the order webhooks (idempotent)")
    _common(register, top=False)
    _pair_option(register)
    register.add_argument("--url", required=True, metavar="BASE",
                          help="public HTTPS base URL of `order-sync serve`/`run` (…/webhooks/bigcommerce/PAIR)")
    p = command("audit", "show the audit log: every write and every decision not to write")
    p.add_argument("--order", type=int, metavar="ID", help="only this BigCommerce order (all its entries)")
    p.add_argument("--limit", type=_positive, default=100, metavar="N", help="the last N entries (default 100)")
    p = command("console", "the operator console (served by run and serve when console.enabled)", pair=False)
    console = p.add_subparsers(dest="console_command", required=True, metavar="CONSOLE_COMMAND")
    hashing = console.add_parser("hash-password", help="print the salted scrypt hash of a password for console.users")
    _common(hashing, top=False)
    hashing.add_argument("--password", metavar="P", default=None,
                         help="the password (default: read from standard input, so it stays out of the shell history)")
    p = command("demo", "run order-sync against built-in simulators of both platforms (no credentials)", pair=False)
    p.add_argument("--orders", type=int, default=40, help="orders in the simulated store (default 40)")
    p.add_argument("--seed", type=int, default=7, help="random seed of the simulated store")
    p.add_argument("--db", default=None, metavar="PATH", help="SQLite file (default: a temporary one)")
    p = command("sandbox", "the simulators of BigCommerce and X-Series", pair=False)
    sandbox = p.add_subparsers(dest="sandbox_command", required=True, metavar="SANDBOX_COMMAND")
    serve = sandbox.add_parser("serve", help="serve both simulators on localhost")
    _common(serve, top=False)  # README: every command takes --log-level and --log-format
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--orders", type=int, default=50, help="seed the store with this many orders")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--bc-quota", type=int, default=150, help="BigCommerce requests per window")
    serve.add_argument("--bc-window-ms", type=int, default=30_000)
    serve.add_argument("--xs-window-seconds", type=float, default=300.0)
    serve.add_argument("--xs-registers", type=int, default=1, help="X-Series quota: 300 × registers + 50 per window")
    serve.add_argument("--xs-rate-limit", type=int, default=None, help="override the X-Series quota per window")
    serve.add_argument("--history-days", type=float, default=2.0, help="seeded orders spread over this many past days")
    for fault in ("5xx", "429", "timeout", "lost-response"):
        serve.add_argument(f"--fault-{fault}", type=float, default=0.0)
    return parser


def _pair_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pair", metavar="NAME", default=None,
                        help="only this store pair (default: every pair of the configuration)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from connector.logs import setup_logging

    setup_logging(args.log_format, args.log_level)
    try:
        code = _dispatch(args)
        # Flushed here, not at interpreter exit, so a closed pipe is met inside this try.
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _reader_gone()
    except STOPPING_ERRORS as exc:
        return _failed(args, getattr(args, "settings", None), exc)
    except KeyboardInterrupt:
        # Ctrl-C outside a command's event loop (config, status, audit): nothing was in hand.
        return interrupts.EXIT_SIGINT


# What stops a command with a message and an exit code (_failed), not a traceback.
STOPPING_ERRORS = (ConfigError, CredentialsError, ApiError, DatabaseUnavailable)


def _failed(args: argparse.Namespace, settings, exc: Exception, prefix: str = "") -> int:
    """Print why the command stopped (a refused token by the pair's key and variable; a command asking for
    what cannot be, as it is) and its exit code: a person must fix something (2); an API down loses nothing (1)."""
    from connector.config import describe_failure

    said = str(exc) if isinstance(exc, UsageError) else describe_failure(settings, exc)
    _error(args, "order-sync: " + prefix + said)
    return EXIT_CONFIG if isinstance(exc, (ConfigError, CredentialsError)) else EXIT_FAILURES


def _reader_gone() -> int:
    """`| head` stopped reading: end quietly. Python would flush the rest of stdout at exit into the
    closed pipe and print "Exception ignored … BrokenPipeError"; devnull takes that flush instead."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured in tests)
        pass
    return EXIT_BROKEN_PIPE


def _error(args: argparse.Namespace, message: str) -> None:
    """Why the command stopped: a JSON log line when logs are JSON, else plain text. Never a secret."""
    from connector.logs import redact

    if args.log_format == "json":
        log.error(message)
    else:
        print(redact(message), file=sys.stderr)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from connector.demo import run_demo

        return run_demo(orders=args.orders, seed=args.seed, db_path=args.db)
    if args.command == "console":  # needs no configuration
        return _hash_password(args.password)
    if args.command == "sandbox":
        from connector.sandbox.serve import serve_from_args

        return serve_from_args(args)
    settings = _load(args)
    # Imported together: once the config is read, every command needs the store and the clients.
    from connector import commands
    from connector.history.command import import_history, parse_date_arg
    from connector.idv.commands import id_check, show_audit
    from connector.store.exceptions import pair_of_exception

    if args.command in ("worker", "db"):  # one database for every pair
        from connector.workers import command as workers

        if args.command == "db":
            return workers.db_upgrade(settings)
        return workers.run_worker_command(settings, args.concurrency,
                                          None if args.pair is None else settings.select_pairs(args.pair),
                                          args.metrics_port)
    views = settings.select_pairs(args.pair)
    if args.command == "run":  # one daemon for every pair chosen
        try:
            return commands.run_daemon_command(settings, views)
        except STOPPING_ERRORS as exc:
            view = getattr(exc, "failed_pair", None)  # a pair's start-up stopped it: named as sync names it
            if view is None:
                raise
            return _failed(args, view, exc, f"pair {view.pair}: " if settings.pairs is not None else "")
    if args.command == "serve":  # one server for every pair chosen
        from connector.server.serve import run_serve_command

        return run_serve_command(settings, views, args.host, args.port)
    # Each pair's own run of the command, one after the other; the exit code is the worst of them.
    handlers = {
        "sync": lambda s: interrupts.run(commands.sync_once(s)),
        "status": lambda s: commands.show_status(s),
        "import-history": lambda s: import_history(s, since=args.since, until=args.until, dry_run=args.dry_run),
        "id-check": lambda s: interrupts.run(id_check(s, args.order_id, args.event, args.check_id)),
        "audit": lambda s: show_audit(s, args.order, args.limit),
        "retry-failed": lambda s: commands.retry_failed(s, args.order),
        "exceptions": lambda s: commands.show_exceptions(s, args.resolve),
        "webhooks": lambda s: commands.register_webhooks(s, args.url),
        "reconcile": lambda s: commands.reconcile(s, parse_date_arg(args.since, "since"),
                                                  parse_date_arg(args.until, "until"), adopt=args.adopt, fix=args.fix),
    }
    if args.command == "exceptions" and args.resolve is not None and len(views) > 1:  # ids: one series
        views = [v for v in views if v.pair == pair_of_exception(settings.database_url, args.resolve)] or views[:1]
    # Order numbers are each store's own: a command about one order must be told which store's.
    if args.command == "id-check" and len(views) > 1:
        raise ConfigError("id-check applies an event to one order of one store: give --pair NAME")
    if args.command == "retry-failed" and args.order is not None and len(views) > 1:
        raise ConfigError("retry-failed --order retries one order of one store: give --pair NAME")
    codes = []
    for view in views:
        if settings.pairs is not None:  # several pairs configured: say whose output follows
            print(f"== pair {view.pair} ==", flush=True)
        try:
            codes.append(handlers[args.command](view))
        except STOPPING_ERRORS as exc:
            # One pair's bad token or API down must not keep the command from the pairs after it:
            # its message (naming the pair) and exit code, as main() gives them, then the next pair.
            codes.append(_failed(args, view, exc, f"pair {view.pair}: " if settings.pairs is not None else ""))
        if codes[-1] in (interrupts.EXIT_SIGINT, interrupts.EXIT_SIGTERM):
            break  # stopped by Ctrl-C or SIGTERM: the pairs after it are not started
    return max(codes)


def _hash_password(given: str | None) -> int:
    """`order-sync console hash-password`: the hash alone on the last line; never the password."""
    import getpass

    from connector.console.passwords import hash_password

    if given is not None:
        password = given
    elif sys.stdin is not None and sys.stdin.isatty():
        password = getpass.getpass("password: ")
    else:
        password = (sys.stdin.readline() if sys.stdin is not None else "").rstrip("\r\n")
    if not password:
        raise ConfigError("the password is empty: give it with --password or on standard input")
    print(hash_password(password))
    return 0


def _load(args: argparse.Namespace):
    from connector.config import load_settings, resolve_config_path
    from connector.logs import register_secrets

    settings = load_settings(resolve_config_path(args.config))
    register_secrets(settings.secrets())
    # Kept for the error messages of main(): a refused token is named by its key and variable.
    args.settings = settings
    return settings
