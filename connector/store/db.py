"""Engine creation for the embedded default (SQLite, WAL) and PostgreSQL."""

from __future__ import annotations

import re
import sqlite3
import time

from sqlalchemy import Engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import create_engine

from connector.errors import ConfigError


_PASSWORD = re.compile(r"(//[^/@:]*:)[^/@]*@")


def shown(database_url: str) -> str:
    """The URL as messages may show it: its password (postgresql://user:PASSWORD@host) starred."""
    return _PASSWORD.sub(r"\1***@", database_url)


def database_password(database_url: str) -> str | None:
    """The URL's password, for the log filters' list of secrets."""
    match = re.search(r"//[^/@:]*:([^/@]*)@", database_url)
    return match.group(1) if match and match.group(1) else None


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
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise ConfigError(f"database_url {shown(database_url)!r}: use sqlite:///PATH or postgresql://HOST/DB")


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
