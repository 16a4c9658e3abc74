"""The Store: every read and write of order-sync's durable state, one short transaction each.

A binding write is one INSERT … ON CONFLICT DO UPDATE (atomic on SQLite and PostgreSQL, so two
processes writing the same row never collide), and the bind after a sale write, its audit entry,
the clearing of a failure and the release of the order's lease share one transaction. Product and
customer bindings never change once written, so their ids are cached in memory after the first
read (only the ids, and a bounded number: an import binds tens of thousands).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import Connection, Engine, bindparam, func
from sqlalchemy import select as core_select
from sqlmodel import Session, SQLModel, select

from connector.clock import SYSTEM_CLOCK, Clock
from connector.config import DEFAULT_PAIR
from connector.store.connections import ThreadConnections
from connector.store.db import dialect_insert, make_engine, opening
from connector.store.exceptions import ExceptionBook
from connector.store.journal import AUDIT_INSERT, FAILURE_END, Journal
from connector.store.leases import RELEASE, LeaseHandle, Leases
from connector.store.migrations import migrate
from connector.store.product_customer_bindings import ProductCustomerBook, _Lru
from connector.store.refund_bindings import RefundBook
from connector.store.tables import (
    CustomerBinding,
    IndexCursor,
    OrderBinding,
    ProductBinding,
    SyncCursor,
    XsCustomer,
    XsProduct,
)

_BINDINGS = OrderBinding.__table__
_BINDING_COLUMNS = tuple(c.name for c in _BINDINGS.columns)
# Every statement names its pair (bound as :pair): a Store reads and writes only its own pair's rows.
_BINDING_SELECT = core_select(_BINDINGS).where(_BINDINGS.c.pair == bindparam("pair"),
                                               _BINDINGS.c.bc_order_id == bindparam("order_id"))
# The bindings of a page of orders, read in one statement before they are mirrored.
_BINDINGS_OF = core_select(_BINDINGS).where(_BINDINGS.c.pair == bindparam("pair"),
                                            _BINDINGS.c.bc_order_id.in_(bindparam("ids", expanding=True)))

ORDERS_CURSOR = "orders"
# Where the daemon's cursor started: the historical import's default upper bound.
ORDERS_START_CURSOR = "orders_start"


class Store(Journal, ExceptionBook, RefundBook, ProductCustomerBook):
    """One store pair's state (`pair`): every row it reads or writes carries the pair's name. The
    pairs of a process share one engine and its connections (for_pair)."""

    def __init__(self, engine: Engine, *, clock: Clock = SYSTEM_CLOCK, pair: str = DEFAULT_PAIR,
                 db: ThreadConnections | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.pair = pair
        # Each thread's own connections for the order path's statements.
        self.db = db or ThreadConnections(engine)
        self.leases = Leases(engine, clock=clock, db=self.db, pair=pair)
        dialect = engine.dialect.name
        self._upserts = {table.name: _upsert_statement(dialect, table, tuple(c.name for c in table.columns))
                         for table in (_BINDINGS, ProductBinding.__table__, CustomerBinding.__table__,
                                       XsProduct.__table__, XsCustomer.__table__)}
        # Bounded: an import binds tens of thousands of products and customers.
        self._product_ids: _Lru = _Lru(20_000)
        self._customer_ids: _Lru = _Lru(20_000)

    @classmethod
    def open(cls, database_url: str, *, clock: Clock = SYSTEM_CLOCK, pair: str = DEFAULT_PAIR) -> "Store":
        engine = make_engine(database_url)
        with opening(database_url):
            migrate(engine)
        return cls(engine, clock=clock, pair=pair)

    def for_pair(self, pair: str) -> "Store":
        """Another pair's store on the same engine and connections (close() only the first)."""
        return self if pair == self.pair else Store(self.engine, clock=self.clock, pair=pair, db=self.db)

    def close(self) -> None:
        self.db.close()
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # ---- order bindings -------------------------------------------------------------------
    def order_binding(self, bc_order_id: int) -> OrderBinding | None:
        row = self.db.first(_BINDING_SELECT, {"pair": self.pair, "order_id": bc_order_id})
        return OrderBinding(**row._asdict()) if row is not None else None

    def order_bindings(self, ids: Iterable[int]) -> dict[int, OrderBinding]:
        """The bindings of these orders (absent: none), one statement per 500."""
        ids = list(ids)
        result: dict[int, OrderBinding] = {}
        for start in range(0, len(ids), 500):
            for row in self.db.all(_BINDINGS_OF, {"pair": self.pair, "ids": ids[start:start + 500]}):
                result[row.bc_order_id] = OrderBinding(**row._asdict())
        return result

    def save_order_binding(self, binding: OrderBinding) -> OrderBinding:
        """Write the binding, durably, before returning (a pending binding must be on disk before
        its sale is sent)."""
        binding.updated_at = self.clock.now()
        with self.db.begin() as conn:
            conn.execute(self._upserts["order_binding"], self._binding_values(binding))
        return binding

    def settle_order(self, binding: OrderBinding, *, audit: dict[str, Any] | None,
                     lease: LeaseHandle | None = None,
                     owed_over: tuple[str, str] | None = None) -> OrderBinding:
        """After a decision or a write: the binding, its audit entry, the end of any failure of the
        order (and of the mapping exceptions it opened) and the release of its lease, in one
        transaction (all or none). owed_over (a sale's invoice and why, given only when that sale was
        on account: the ordinary order costs no statement more): its settle exceptions are over too."""
        binding.updated_at = self.clock.now()
        with self._ending_work(audit, lease) as conn:
            conn.execute(self._upserts["order_binding"], self._binding_values(binding))
            if owed_over is not None:
                self.resolve_settle_exceptions(conn, binding.bc_order_id, *owed_over)
            failed = conn.execute(FAILURE_END, {"pair": self.pair, "order_id": binding.bc_order_id}).first()
            if failed is not None:  # only then: the ordinary order costs no statement more
                self.resolve_mapping_exceptions(conn, binding.bc_order_id, failed.first_failed_at)
        return binding

    @contextmanager
    def _ending_work(self, audit: dict[str, Any] | None, lease: LeaseHandle | None) -> Iterator[Connection]:
        """The transaction that ends a piece of work: the block's writes, the audit entry and the
        release of the lease that guarded the work. The lease counts as released only once that
        transaction committed."""
        with self.db.begin() as conn:
            yield conn
            if audit is not None:
                conn.execute(AUDIT_INSERT, self._audit_values(**audit))
            if lease is not None:
                conn.execute(RELEASE, {"key": lease.key, "owner": lease.owner})
        if lease is not None:
            lease.released = True

    def _binding_values(self, binding: OrderBinding) -> dict[str, Any]:
        binding.pair = self.pair
        return {n: getattr(binding, n) for n in _BINDING_COLUMNS}

    def count_bindings_by_state(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.exec(select(OrderBinding.pos_state, func.count()).where(OrderBinding.pair == self.pair)
                          .group_by(OrderBinding.pos_state)).all()
        return {state: count for state, count in rows}

    def other_pairs_with_bindings(self) -> list[str]:
        """The other pairs whose orders this database holds: a pair renamed leaves its state under its
        old name (a single store moving to `pairs:` keeps it by naming its pair `default`)."""
        with self.session() as s:
            return sorted(s.exec(select(OrderBinding.pair).where(OrderBinding.pair != self.pair).distinct()).all())

    def pending_bindings(self) -> list[OrderBinding]:
        with self.session() as s:
            return list(s.exec(select(OrderBinding).where(OrderBinding.pair == self.pair,
                                                          OrderBinding.pending_state.is_not(None))))

    # ---- the X-Series indexes' cursors and the sync cursor -----------------------------
    def index_version(self, name: str) -> int:
        with self.session() as s:
            row = s.get(IndexCursor, (self.pair, name))
            return row.version if row else 0

    def set_index_version(self, name: str, version: int) -> None:
        with self.db.begin() as conn:
            _upsert(conn, IndexCursor, {"pair": self.pair, "name": name, "version": version},
                    only_if_greater="version")

    def cursor(self, name: str = ORDERS_CURSOR) -> datetime | None:
        with self.session() as s:
            row = s.get(SyncCursor, (self.pair, name))
            return row.value if row else None

    def set_cursor(self, value: datetime, name: str = ORDERS_CURSOR) -> None:
        """Move the cursor forward only — atomically, so a concurrent process that settled further
        wins. The first value of the orders cursor is also kept as where the daemon started."""
        now = self.clock.now()
        with self.db.begin() as conn:
            if name == ORDERS_CURSOR:
                _upsert(conn, SyncCursor, {"pair": self.pair, "name": ORDERS_START_CURSOR, "value": value,
                                           "updated_at": now}, keep_existing=True)
            _upsert(conn, SyncCursor, {"pair": self.pair, "name": name, "value": value, "updated_at": now},
                    only_if_greater="value")


def _upsert(conn: Connection, model: type[SQLModel], row: dict[str, Any], **shape: Any) -> None:
    conn.execute(_upsert_statement(conn.dialect.name, model.__table__, tuple(row), **shape), row)


@functools.lru_cache(maxsize=64)
def _upsert_statement(dialect: str, table, names: tuple[str, ...], only_if_greater: str | None = None,
                      keep_existing: bool = False):
    """INSERT … ON CONFLICT (primary key) DO UPDATE: one atomic statement on both databases.

    only_if_greater: update only when that column grows (cursors never move back).
    keep_existing: insert if absent, never update.
    Built once per table and shape, then executed with parameters: SQLAlchemy caches the compiled
    form, which matters on the order path (compiling an upsert costs more than running it)."""
    stmt = dialect_insert(dialect)(table)
    keys = [c.name for c in table.primary_key.columns]
    if keep_existing:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    where = table.c[only_if_greater] < stmt.excluded[only_if_greater] if only_if_greater else None
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={n: stmt.excluded[n] for n in names if n not in keys}, where=where,
    )
