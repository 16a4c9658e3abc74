"""The Store: every read and write of order-sync's durable state, one short transaction each.

A binding write is one INSERT … ON CONFLICT DO UPDATE (atomic on SQLite and PostgreSQL, so two
processes writing the same row never collide), and the bind after a sale write, its audit entry,
the clearing of a failure and the release of the order's lease share one transaction. Product and
customer bindings never change once written, so their ids are cached in memory after the first
read (only the ids, and a bounded number: an import binds tens of thousands).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
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
from connector.store.db import dialect_insert, make_engine
from connector.store.exceptions import ExceptionBook
from connector.store.journal import AUDIT_INSERT, FAILURE_DELETE, Journal
from connector.store.leases import RELEASE, LeaseHandle, Leases
from connector.store.lookups import CUSTOMER_LOOKUP, DELETED_AMONG, PRODUCT_LOOKUP, Lookup, oldest_live
from connector.store.migrations import migrate
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
_PRODUCT_ID_SELECT = core_select(ProductBinding.xs_product_id).where(
    ProductBinding.pair == bindparam("pair"), ProductBinding.key == bindparam("key"))
_CUSTOMER_ID_SELECT = core_select(CustomerBinding.xs_customer_id).where(
    CustomerBinding.pair == bindparam("pair"), CustomerBinding.email_key == bindparam("key"))


_INDEXED_PRODUCT_ID = oldest_live(XsProduct, XsProduct.sku_key)
_INDEXED_CUSTOMER_ID = oldest_live(XsCustomer, XsCustomer.email_key)
# The bindings of a page of orders, read in one statement before they are mirrored.
_BINDINGS_OF = core_select(_BINDINGS).where(_BINDINGS.c.pair == bindparam("pair"),
                                            _BINDINGS.c.bc_order_id.in_(bindparam("ids", expanding=True)))

ORDERS_CURSOR = "orders"
# Where the daemon's cursor started: the historical import's default upper bound.
ORDERS_START_CURSOR = "orders_start"


class Store(Journal, ExceptionBook, RefundBook):
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
                     lease: LeaseHandle | None = None) -> OrderBinding:
        """After a decision or a write: the binding, its audit entry, the end of any failure of the
        order and the release of its lease, in one transaction (all or none)."""
        binding.updated_at = self.clock.now()
        with self._ending_work(audit, lease) as conn:
            conn.execute(self._upserts["order_binding"], self._binding_values(binding))
            conn.execute(FAILURE_DELETE, {"pair": self.pair, "order_id": binding.bc_order_id})
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

    def pending_bindings(self) -> list[OrderBinding]:
        with self.session() as s:
            return list(s.exec(select(OrderBinding).where(OrderBinding.pair == self.pair,
                                                          OrderBinding.pending_state.is_not(None))))

    # ---- product / customer bindings and the X-Series indexes ------------------------------
    def product_id(self, key: str) -> str | None:
        """The X-Series product bound to a line key, or None (cached once bound: never changes)."""
        return self._bound_id(self._product_ids, _PRODUCT_ID_SELECT, key)

    def customer_id(self, email_key: str) -> str | None:
        """The X-Series customer bound to a casefolded e-mail, or None (cached once bound)."""
        return self._bound_id(self._customer_ids, _CUSTOMER_ID_SELECT, email_key)

    def _bound_id(self, cache: "_Lru", statement, key: str) -> str | None:
        cached = cache.get(key)
        if cached is None:
            row = self.db.first(statement, {"pair": self.pair, "key": key})
            if row is not None:
                cached = cache[key] = row[0]
        return cached

    def product_binding(self, key: str) -> ProductBinding | None:
        with self.session() as s:
            return s.get(ProductBinding, (self.pair, key))

    def product_bindings(self) -> list[ProductBinding]:
        with self.session() as s:
            return list(s.exec(select(ProductBinding).where(ProductBinding.pair == self.pair)))

    def customer_binding(self, email_key: str) -> CustomerBinding | None:
        with self.session() as s:
            return s.get(CustomerBinding, (self.pair, email_key))

    def bind_product(self, key: str, xs_product_id: str, sku: str, *, created: bool,
                     name: str | None = None, audit: dict[str, Any] | None = None,
                     lease: LeaseHandle | None = None) -> None:
        """Bind a line key to a product. One order-sync just created (`name` and `audit` given) also
        gets its index row, its audit entry and the release of its creation lease, in the same
        transaction (another process's index refresh may be indexing it at the same moment)."""
        index_row = None if name is None else {
            "pair": self.pair, "id": xs_product_id, "sku_key": sku.strip().casefold(), "name": name, "version": 0, "deleted": False}
        self._bind("xs_product", index_row, "product_binding", {
            "pair": self.pair, "key": key, "xs_product_id": xs_product_id, "sku": sku, "created": created,
            "created_at": self.clock.now()}, audit, lease)
        self._product_ids[key] = xs_product_id

    def bind_customer(self, email_key: str, xs_customer_id: str, *, created: bool,
                      audit: dict[str, Any] | None = None, lease: LeaseHandle | None = None) -> None:
        """Bind an e-mail to a customer; one order-sync just created as in bind_product."""
        index_row = None if audit is None else {
            "pair": self.pair, "id": xs_customer_id, "email_key": email_key, "version": 0, "deleted": False}
        self._bind("xs_customer", index_row, "customer_binding", {
            "pair": self.pair, "email_key": email_key, "xs_customer_id": xs_customer_id, "created": created,
            "created_at": self.clock.now()}, audit, lease)
        self._customer_ids[email_key] = xs_customer_id

    def _bind(self, index: str, index_row: dict[str, Any] | None, binding: str, binding_row: dict[str, Any],
              audit: dict[str, Any] | None, lease: LeaseHandle | None) -> None:
        with self._ending_work(audit, lease) as conn:
            if index_row is not None:
                conn.execute(self._upserts[index], index_row)
            conn.execute(self._upserts[binding], binding_row)

    def product_lookup(self, key: str, sku: str) -> Lookup:
        """A line key's binding, whether it is deleted, and the indexed product with its SKU."""
        row = self.db.first(PRODUCT_LOOKUP, {"pair": self.pair, "key": key, "index_key": sku.strip().casefold()})
        if row.bound is not None:
            self._product_ids[key] = row.bound
        return Lookup(row.bound, bool(row.deleted), row.indexed)

    def customer_lookup(self, email_key: str) -> Lookup:
        """An e-mail's binding, whether it is deleted, and the indexed customer with the e-mail."""
        row = self.db.first(CUSTOMER_LOOKUP, {"pair": self.pair, "key": email_key,
                                               "index_key": email_key.strip().casefold()})
        if row.bound is not None:
            self._customer_ids[email_key] = row.bound
        return Lookup(row.bound, bool(row.deleted), row.indexed)

    def live_cached(self, product_keys: Iterable[str], email_key: str | None) -> tuple[dict[str, str], str | None]:
        """The ids of these keys bound in this process's cache, less those the index knows as deleted
        in X-Series: (product key → id, the customer's id or None). One statement for an order's
        products and customer, none when nothing is cached; a key left out is looked up afresh."""
        products = {key: found for key in product_keys if (found := self._product_ids.get(key)) is not None}
        customer = self._customer_ids.get(email_key) if email_key else None
        if not products and customer is None:
            return products, customer
        deleted = {(row.kind, row.id) for row in self.db.all(DELETED_AMONG, {
            "pair": self.pair, "products": list(set(products.values())),
            "customers": [customer] if customer is not None else []})}
        return ({key: found for key, found in products.items() if ("products", found) not in deleted},
                None if ("customers", customer) in deleted else customer)

    def indexed_product_id(self, sku: str) -> str | None:
        """The X-Series product with this SKU in the local index (case and spaces ignored)."""
        row = self.db.first(_INDEXED_PRODUCT_ID, {"pair": self.pair, "key": sku.strip().casefold()})
        return row[0] if row is not None else None

    def indexed_customer_id(self, email: str) -> str | None:
        row = self.db.first(_INDEXED_CUSTOMER_ID, {"pair": self.pair, "key": email.strip().casefold()})
        return row[0] if row is not None else None

    def upsert_indexed_products(self, rows: list[dict[str, Any]]) -> None:
        """Index rows, as dicts of the table's columns (plain dicts: a catalogue has thousands)."""
        self._upsert_many("xs_product", rows)

    def upsert_indexed_customers(self, rows: list[dict[str, Any]]) -> None:
        self._upsert_many("xs_customer", rows)

    def _upsert_many(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self.db.begin() as conn:
                conn.execute(self._upserts[table], [{**row, "pair": self.pair} for row in rows])

    def index_version(self, name: str) -> int:
        with self.session() as s:
            row = s.get(IndexCursor, (self.pair, name))
            return row.version if row else 0

    def set_index_version(self, name: str, version: int) -> None:
        with self.db.begin() as conn:
            _upsert(conn, IndexCursor, {"pair": self.pair, "name": name, "version": version},
                    only_if_greater="version")

    # ---- the sync cursor ----------------------------------------------------------------
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




class _Lru(OrderedDict):
    """A dict that forgets its least recently used entries beyond `size`."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get(self, key, default=None):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)
