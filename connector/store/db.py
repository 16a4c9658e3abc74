"""Engine creation for the embedded default (SQLite, WAL) and PostgreSQL."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Iterator
from urllib.parse import unquote_plus

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import create_engine

from connector.errors import ConfigError, DatabaseUnavailable


# Where the URL does not parse, user:PASSWORD@ in the authority (up to its last @), and always libpq's
# password=PASSWORD among the query parameters (SQLAlchemy's URL hides only the first).
_USERINFO_PASSWORD = re.compile(r"([^:/?#\s]+://[^/?#@:]*:)([^/?#]*)@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)


def _parsed(database_url: str) -> URL | None:
    """The URL as SQLAlchemy reads it to connect: its password may hold / ? # (a pattern stops there)."""
    try:
        return make_url(database_url.strip())
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number (p@ss:w0rd@host)
        return None


def shown(database_url: str) -> str:
    """The URL as messages may show it: its password starred, given either way
    (postgresql://user:PASSWORD@host or ?password=PASSWORD)."""
    parsed = _parsed(database_url)
    text = parsed.render_as_string(hide_password=True) if parsed is not None else database_url
    # Again by the pattern: a password holding an @ (p@ss) leaves SQLAlchemy the part after it.
    return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1***@", text))


def database_passwords(database_url: str) -> list[str]:
    """The URL's password(s), as written and decoded, for the log filters' list of secrets."""
    found = [m.group(2) for m in (_USERINFO_PASSWORD.search(database_url),) if m]
    found += [m.group(2) for m in _QUERY_PASSWORD.finditer(database_url)]
    parsed = _parsed(database_url)
    found += [parsed.password] if parsed is not None and parsed.password else []
    return list(dict.fromkeys(v for raw in found if raw for v in (raw, unquote_plus(raw))))


def make_engine(database_url: str) -> Engine:
    url = database_url.strip()
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we install; plain postgresql:// would ask for psycopg2.
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///") or ":memory:" in url or "mode=memory" in url:
            # Bindings are what stops a restarted connector from creating every sale again.
            raise ConfigError(f"database_url {shown(database_url)!r}: an in-memory database forgets which orders "
                              "are mirrored when the process ends; use a file, sqlite:///PATH")
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            # WAL lets the status command and a second process read while a cycle writes;
            # busy_timeout makes concurrent writers wait instead of failing.
            cursor.execute("PRAGMA busy_timeout=60000")
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if url.startswith("postgresql+"):
        if _parsed(url) is None:  # said here, its password starred, not in create_engine's traceback
            raise ConfigError(f"database_url {shown(database_url)!r} does not parse (a port that is not a number?"
                              " characters such as @ : / in the password are written %40 %3A %2F)")
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise ConfigError(f"database_url {shown(database_url)!r}: use sqlite:///PATH or postgresql://HOST/DB")


# What PostgreSQL answers when it is up but refuses this URL (a database, a role, a password, an
# address it does not let in): a person must fix database_url. Anything else (refused connection,
# timeout, a name that does not resolve, a server starting up) is a server that does not answer.
# libpq gives these as text only: no SQLSTATE comes with a failed connection.
_REFUSED = ("does not exist", "authentication failed", "password", "no pg_hba.conf entry", "permission denied")


@contextlib.contextmanager
def opening(database_url: str) -> Iterator[None]:
    """Around the first use of a database: one that cannot be opened stops the command with one line
    naming database_url (password starred), not a driver's traceback. A SQLite file that cannot be
    opened (its folder missing or not writable) and a PostgreSQL refusal are configuration errors
    (exit 2); a server that does not answer is like an API that is down (exit 1)."""
    try:
        yield
    except OperationalError as exc:
        reason = (str(exc.orig).strip().splitlines() or ["unknown error"])[0]
        reason = reason.removeprefix("connection failed: ")
        where = f"database_url {shown(database_url)!r}"
        if database_url.strip().startswith("sqlite"):
            if "locked" in reason:  # another process holds it past busy_timeout: a moment, not the file
                raise DatabaseUnavailable(f"{where}: the SQLite file stays locked ({reason})") from None
            raise ConfigError(f"{where}: cannot open the SQLite file ({reason}); its folder must exist and"
                              " be writable") from None
        if any(words in reason for words in _REFUSED):
            raise ConfigError(f"{where}: PostgreSQL refused it: {reason}") from None
        raise DatabaseUnavailable(f"{where}: PostgreSQL does not answer ({reason})") from None


def dialect_insert(dialect: str):
    """The INSERT construct with ON CONFLICT for the database (SQLAlchemy has one per dialect)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL (once: the mode is stored in the file). Two processes switching a
    fresh file at the same instant deadlock on the lock it needs, and SQLite answers one of them
    "database is locked" at once, without waiting out busy_timeout: that one looks again."""
    for attempt in range(200):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or attempt == 199:
                raise
            time.sleep(0.05)
