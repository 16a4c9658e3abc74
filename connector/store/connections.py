"""Each thread's own two connections to the store: one in autocommit for reads, one for writes.

Why: an order makes about a dozen statements, and a pool checkout per statement cost as much as the
statement itself (about 25 µs of SQLAlchemy's connection set-up and reset on the benchmark machine,
against issue 14's 3 ms budget per order). These are the engine's own Connections, used through
SQLAlchemy's public API. Reads run in autocommit, so no transaction stays open between them; each
write block is one transaction. A connection that fails is closed and replaced on its next use (a
PostgreSQL restart must not stick).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Result, Row


class ThreadConnections:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Connection] = []

    def first(self, statement: Any, values: dict[str, Any]) -> Row | None:
        """The first row a read returns, or None."""
        return self._read(statement, values, Result.first)

    def all(self, statement: Any, values: dict[str, Any]) -> list[Row]:
        """Every row a read returns."""
        return self._read(statement, values, Result.all)

    def _read(self, statement: Any, values: dict[str, Any], rows: Callable[[Result], Any]) -> Any:
        conn = self._connection("reader")
        try:
            return rows(conn.execute(statement, values))
        except Exception:
            self._drop("reader", conn)
            raise

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """`with connections.begin() as conn:` — the statements in the block commit together."""
        conn = self._connection("writer")
        try:
            with conn.begin():
                yield conn
        except Exception:
            self._drop("writer", conn)
            raise

    def _connection(self, role: str) -> Connection:
        conn = getattr(self._local, role, None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect()
            if role == "reader":
                conn.execution_options(isolation_level="AUTOCOMMIT")
            setattr(self._local, role, conn)
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop(self, role: str, conn: Connection) -> None:
        setattr(self._local, role, None)
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
