"""Engine creation for the embedded default (SQLite, WAL) and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, event
from sqlmodel import create_engine

from connector.errors import ConfigError


def make_engine(database_url: str) -> Engine:
    url = database_url.strip()
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we install; plain postgresql:// would ask for psycopg2.
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            # WAL lets the status command and a second process read while a cycle writes;
            # busy_timeout makes concurrent writers wait instead of failing.
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":  # switching needs a lock
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if url.startswith("postgresql+"):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise ConfigError(f"database_url {database_url!r}: use sqlite:///PATH or postgresql://HOST/DB")
