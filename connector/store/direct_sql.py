"""The order path's statements, run straight on the database driver.

Why: an import runs a dozen statements per order, and SQLAlchemy's per-execute machinery (pool
checkout, cache-key generation, parameter construction, result proxies) cost about 40 µs each —
most of the connector's CPU per order (issue 6: ≤ 1 ms per order). Here each statement is a Core
statement compiled ONCE for the engine's dialect; executing it is one driver call. The SQL is the
same SQLAlchemy would send, and values go through the same type processors (UTCDateTime stores
naive UTC, booleans, …), so rows written here and rows read through SQLAlchemy are identical.

Connections: one driver connection per thread, detached from the pool (it keeps the pool's
connect-time setup: WAL and busy_timeout on SQLite) and in autocommit mode, so a read never leaves
a transaction open. Multi-statement writes run in `transaction()`: BEGIN IMMEDIATE on SQLite (the
write lock is taken up front and waited for under busy_timeout, instead of failing on upgrade),
one transaction block on PostgreSQL. A connection that errors at the connection level is dropped
and a new one is opened on next use (a PostgreSQL restart must not kill the daemon).
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Callable

from sqlalchemy import Engine, Table
from sqlalchemy.sql import ClauseElement

from connector.store.types import UTCDateTime


_UTC = timezone.utc


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    tz = value.tzinfo
    if tz is _UTC:  # what the connector passes (clock, parsed dates): no conversion to make
        return value.replace(tzinfo=None)
    if tz is None:
        raise ValueError("naive datetime given to the store; use aware UTC")
    return value.astimezone(_UTC).replace(tzinfo=None)


def _sqlite_datetime_in(value: datetime | None) -> str | None:
    if value is not None and value.tzinfo is _UTC:
        # What the connector passes: the same text without building a naive copy first
        # ('YYYY-MM-DD HH:MM:SS.ffffff+00:00' less its offset).
        return value.isoformat(" ", "microseconds")[:-6]
    naive = _naive_utc(value)
    return None if naive is None else naive.isoformat(" ", "microseconds")


def _aware_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _sqlite_datetime_out(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


class Prepared:
    """A statement compiled once for one dialect, with its values' converters in order."""

    __slots__ = ("sql", "names", "converters", "constants", "positional", "result_converters", "parameters")

    def __init__(self, sql: str, names: list[str], converters: list[Callable | None], constants: dict[str, Any],
                 positional: bool, result_converters: list[Callable | None] | None) -> None:
        self.sql = sql
        self.names = names
        self.converters = converters
        self.constants = constants  # values written into the statement itself (a LIMIT, a False)
        self.positional = positional
        self.result_converters = result_converters
        # values (a dict by column name) → the driver's parameters (a tuple, or a dict by name).
        self.parameters: Callable[[dict[str, Any]], tuple | dict] = _parameter_builder(
            names, converters, constants, positional)

    def row(self, raw: Sequence | None) -> tuple | None:
        if raw is None or self.result_converters is None:
            return raw
        return tuple(conv(v) if conv is not None else v for v, conv in zip(raw, self.result_converters))


def _parameter_builder(names: list[str], converters: list[Callable | None], constants: dict[str, Any],
                       positional: bool) -> Callable[[dict[str, Any]], tuple | dict]:
    """One function per statement that builds its parameters in a single expression, e.g.
    `lambda v: (v['key'], v['owner'], _c2(v['expires_at']))`.

    Why generated: an order runs about fifteen statements, and a loop over names and converters
    cost more than the statement's own execution (about 10 µs for the binding upsert on the
    benchmark machine, half of it the loop). The function does exactly what the loop did: each
    value by name, through its converter if it has one; a constant unless the caller gives one.
    test_direct_sql checks both give the same parameters."""
    scope: dict[str, Any] = {}
    items = []
    for i, (name, conv) in enumerate(zip(names, converters)):
        if name in constants:
            scope[f"_k{i}"] = constants[name]
            value = f"v.get({name!r}, _k{i})"
        else:
            value = f"v[{name!r}]"
        if conv is not None:
            scope[f"_c{i}"] = conv
            value = f"_c{i}({value})"
        items.append(value if positional else f"{name!r}: {value}")
    body = f"({', '.join(items)},)" if positional and items else "()" if positional else f"{{{', '.join(items)}}}"
    return eval(f"lambda v: {body}", scope)  # noqa: S307 - built from compiled column names only


class DirectSql:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._local = threading.local()
        self._all: list[Any] = []  # every thread's connection, closed by close()
        self._lock = threading.Lock()
        dbapi = engine.dialect.loaded_dbapi
        # A dropped connection (server restart, network): reconnect on next use.
        self._connection_errors = (dbapi.OperationalError, dbapi.InterfaceError)

    # ---- statements ---------------------------------------------------------------------------
    def prepare(self, statement: ClauseElement, *, column_keys: Sequence[str] | None = None,
                result_table: Table | None = None) -> Prepared:
        """Compile `statement` for this engine. result_table: the statement selects all of that
        table's columns, to be converted back to Python values with their column types."""
        compiled = statement.compile(dialect=self.dialect,
                                     column_keys=list(column_keys) if column_keys is not None else None)
        positional = bool(compiled.positional)
        names = list(compiled.positiontup) if positional else list(compiled.bind_names.values())
        binds = {compiled.bind_names[b]: b for b in compiled.binds.values()}
        converters = [self._bind_converter(binds[n].type) for n in names]
        constants = {n: binds[n].effective_value for n in names if not binds[n].required}
        result_converters = None
        if result_table is not None:
            result_converters = [self._result_converter(c.type) for c in result_table.columns]
        return Prepared(compiled.string, names, converters, constants, positional, result_converters)

    def _bind_converter(self, type_) -> Callable | None:
        if isinstance(type_, UTCDateTime):
            # The same value SQLAlchemy stores (naive UTC; on SQLite its text form
            # 'YYYY-MM-DD HH:MM:SS.ffffff'), in one step rather than its chain of two processors:
            # an order writes a dozen datetimes. test_direct_sql checks both read the same.
            return _sqlite_datetime_in if self.is_sqlite else _naive_utc
        return type_.dialect_impl(self.dialect).bind_processor(self.dialect)

    def _result_converter(self, type_) -> Callable | None:
        if isinstance(type_, UTCDateTime):
            return _sqlite_datetime_out if self.is_sqlite else _aware_utc
        return type_.dialect_impl(self.dialect).result_processor(self.dialect, None)

    # ---- execution ----------------------------------------------------------------------------
    def one(self, prepared: Prepared, values: dict[str, Any]) -> tuple | None:
        """Run a statement and return its first row (converted), or None."""
        cursor = self._execute(prepared, values)
        try:
            return prepared.row(cursor.fetchone()) if cursor.description else None
        finally:
            cursor.close()

    def run(self, prepared: Prepared, values: dict[str, Any]) -> None:
        self._execute(prepared, values).close()

    def run_many(self, prepared: Prepared, rows: Sequence[dict[str, Any]]) -> None:
        """One statement over many rows (an index page): one driver call."""
        conn = self._connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.executemany(prepared.sql, [prepared.parameters(row) for row in rows])
            finally:
                cursor.close()
        except self._connection_errors:
            self._drop_if_broken(conn)
            raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements run inside the block commit together, or none does."""
        conn = self._connection()
        try:
            if self.is_sqlite:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                with conn.transaction():
                    yield
        except self._connection_errors:
            self._drop_if_broken(conn)
            raise

    def _execute(self, prepared: Prepared, values: dict[str, Any]):
        conn = self._connection()
        try:
            return conn.execute(prepared.sql, prepared.parameters(values))
        except self._connection_errors:
            self._drop_if_broken(conn)
            raise

    # ---- connections ----------------------------------------------------------------------------
    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _open(self):
        fairy = self.engine.raw_connection()
        conn = fairy.driver_connection
        fairy.detach()  # ours for good; still set up by the pool's connect events (pragmas)
        if self.is_sqlite:
            conn.isolation_level = None  # autocommit; transactions are explicit (BEGIN IMMEDIATE)
        else:
            conn.autocommit = True
        with self._lock:
            self._all.append(conn)
        return conn

    def _drop_if_broken(self, conn) -> None:
        # SQLite errors ("database is locked" and the like) leave its connection usable; a
        # PostgreSQL connection that lost its server is marked closed/broken by psycopg.
        if not self.is_sqlite and (conn.closed or conn.broken):
            self._forget(conn)

    def _forget(self, conn) -> None:
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - already broken
            pass

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing at shutdown; nothing left to protect
                pass
        self._local = threading.local()
