"""The Store: every read and write of order-sync's durable state, one short transaction each.

The order path runs thousands of times per import, so its statements are compiled once and run
straight on the driver (connector.store.direct_sql), not through ORM sessions: a binding write is
one INSERT … ON CONFLICT DO UPDATE (atomic on SQLite and PostgreSQL, so two processes writing the
same row never collide), and the bind after a sale write, its audit entry, the clearing of a
failure and the release of the order's lease share one transaction. Product and customer bindings
never change once written, so their ids (only the ids: an import binds tens of thousands) are
cached in memory after the first read. Everything else goes through SQLAlchemy.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from connector.clock import SYSTEM_CLOCK, Clock
from connector.store.db import make_engine
from connector.store.direct_sql import DirectSql, Prepared
from connector.store.group_commit import GroupCommit, Write
from connector.store.leases import RELEASE, LeaseHandle, Leases
from connector.store.migrations import migrate
from connector.store.tables import (
    AuditEntry,
    CustomerBinding,
    CycleRun,
    FailedOrder,
    IndexCursor,
    OrderBinding,
    OrderBindingRow,
    ProductBinding,
    SyncCursor,
    XsCustomer,
    XsProduct,
)

# Statements of the order path, built once (their compiled form is cached by SQLAlchemy).
_AUDIT_INSERT = insert(AuditEntry.__table__)
_FAILURE_DELETE = delete(FailedOrder.__table__).where(FailedOrder.__table__.c.bc_order_id == bindparam("order_id"))
_BINDING_SELECT = core_select(OrderBinding.__table__).where(
    OrderBinding.__table__.c.bc_order_id == bindparam("order_id"))
_PRODUCT_ID_SELECT = core_select(ProductBinding.__table__.c.xs_product_id).where(
    ProductBinding.__table__.c.key == bindparam("key"))
_CUSTOMER_ID_SELECT = core_select(CustomerBinding.__table__.c.xs_customer_id).where(
    CustomerBinding.__table__.c.email_key == bindparam("key"))
# The oldest live product / customer with that key (versions grow: the first one made wins;
# the id settles a tie, so every process picks the same one).
_INDEXED_PRODUCT_ID = core_select(XsProduct.__table__.c.id).where(
    XsProduct.__table__.c.sku_key == bindparam("key"), XsProduct.__table__.c.deleted == False,  # noqa: E712
).order_by(XsProduct.__table__.c.version, XsProduct.__table__.c.id).limit(1)
_INDEXED_CUSTOMER_ID = core_select(XsCustomer.__table__.c.id).where(
    XsCustomer.__table__.c.email_key == bindparam("key"), XsCustomer.__table__.c.deleted == False,  # noqa: E712
).order_by(XsCustomer.__table__.c.version, XsCustomer.__table__.c.id).limit(1)
_AUDIT_COLUMNS = ("at", "platform", "action", "bc_order_id", "target_id", "reason", "before", "after", "detail")

# json.dumps(detail, default=str, sort_keys=True), without building an encoder for every entry
# (json.dumps makes a new one whenever it is given options; the order path writes two entries).
_detail_json = json.JSONEncoder(default=str, sort_keys=True).encode

ORDERS_CURSOR = "orders"
# Where the daemon's cursor started: the historical import's default upper bound.
ORDERS_START_CURSOR = "orders_start"


class Store:
    def __init__(self, engine: Engine, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.engine = engine
        self.clock = clock
        self.sql = DirectSql(engine)
        # The order path's writes, committed together across the orders in flight (group_commit).
        self.group = GroupCommit(self.sql)
        self.leases = Leases(engine, clock=clock, sql=self.sql, group=self.group)
        self._q = _OrderPathStatements(self.sql)
        # Bounded: an import binds tens of thousands of products and customers.
        self._product_ids: _Lru = _Lru(20_000)
        self._customer_ids: _Lru = _Lru(20_000)

    @classmethod
    def open(cls, database_url: str, *, clock: Clock = SYSTEM_CLOCK) -> "Store":
        engine = make_engine(database_url)
        migrate(engine)
        return cls(engine, clock=clock)

    def close(self) -> None:
        self.sql.close()
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # ---- order bindings -------------------------------------------------------------------
    def order_binding(self, bc_order_id: int) -> OrderBindingRow | None:
        row = self.sql.one(self._q.binding_select, {"order_id": bc_order_id})
        return OrderBindingRow(**dict(zip(self._q.binding_columns, row))) if row is not None else None

    def order_bindings(self, ids: Iterable[int]) -> dict[int, OrderBinding]:
        ids = list(ids)
        if not ids:
            return {}
        result: dict[int, OrderBinding] = {}
        with self.session() as s:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                for row in s.exec(select(OrderBinding).where(OrderBinding.bc_order_id.in_(chunk))):
                    result[row.bc_order_id] = row
        return result

    def save_order_binding(self, binding: OrderBindingRow | OrderBinding) -> OrderBindingRow | OrderBinding:
        binding.updated_at = self.clock.now()
        self.sql.run(self._q.binding_upsert, self._q.binding_values(binding))
        return binding

    async def commit_order_binding(self, binding: OrderBindingRow) -> OrderBindingRow:
        """save_order_binding, committed with the other orders' writes of this turn (group_commit);
        returns once it is durable (a pending binding must be, before its sale is sent)."""
        binding.updated_at = self.clock.now()
        values = self._q.binding_values(binding)
        upsert = self._q.binding_upsert
        await self.group.commit(Write(lambda sql: sql.run(upsert, values)))
        return binding

    def settle_order(self, binding: OrderBindingRow | OrderBinding, *, audit: dict[str, Any] | None,
                     lease: LeaseHandle | None = None) -> OrderBindingRow | OrderBinding:
        """After a decision or a write: the binding, its audit entry, the end of any failure of the
        order and the release of its lease, in one transaction (all or none)."""
        self.group.now(self._settlement(binding, audit, lease))
        return binding

    async def commit_settlement(self, binding: OrderBindingRow, *, audit: dict[str, Any] | None,
                                lease: LeaseHandle | None = None) -> OrderBindingRow:
        """settle_order, committed with the other orders' writes of this turn (group_commit)."""
        await self.group.commit(self._settlement(binding, audit, lease))
        return binding

    def _settlement(self, binding: OrderBindingRow | OrderBinding, audit: dict[str, Any] | None,
                    lease: LeaseHandle | None) -> Write[None]:
        binding.updated_at = self.clock.now()
        q = self._q
        values = q.binding_values(binding)
        audit_values = self._audit_values(**audit) if audit is not None else None
        failure = {"order_id": binding.bc_order_id}

        def apply(sql: DirectSql) -> None:
            sql.run(q.binding_upsert, values)
            if audit_values is not None:
                sql.run(q.audit_insert, audit_values)
            sql.run(q.failure_delete, failure)
            self._release_in(sql, lease)

        return Write(apply, self._released_after(lease))

    def _release_in(self, sql: DirectSql, lease: LeaseHandle | None) -> None:
        """The release of the lease that guarded a piece of work, in the transaction ending it."""
        if lease is not None:
            sql.run(self._q.lease_release, {"key": lease.key, "owner": lease.owner})

    @staticmethod
    def _released_after(lease: LeaseHandle | None) -> Callable[[Any], None] | None:
        """The lease counts as released only once the transaction that deleted it committed."""
        if lease is None:
            return None

        def released(_: Any) -> None:
            lease.released = True

        return released

    def count_bindings_by_state(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.exec(select(OrderBinding.pos_state, func.count()).group_by(OrderBinding.pos_state)).all()
        return {state: count for state, count in rows}

    def pending_bindings(self) -> list[OrderBinding]:
        with self.session() as s:
            return list(s.exec(select(OrderBinding).where(OrderBinding.pending_state.is_not(None))))

    # ---- product / customer bindings and the X-Series indexes ------------------------------
    def product_id(self, key: str) -> str | None:
        """The X-Series product bound to a line key, or None (cached once bound: never changes)."""
        cached = self._product_ids.get(key)
        if cached is not None:
            return cached
        row = self.sql.one(self._q.product_id_select, {"key": key})
        if row is not None:
            self._product_ids[key] = row[0]
            return row[0]
        return None

    def product_binding(self, key: str) -> ProductBinding | None:
        with self.session() as s:
            return s.get(ProductBinding, key)

    def product_bindings(self) -> list[ProductBinding]:
        with self.session() as s:
            return list(s.exec(select(ProductBinding)))

    def bind_product(self, key: str, xs_product_id: str, sku: str, *, created: bool) -> None:
        self.group.now(self._product_binding(key, xs_product_id, sku, created=created))

    async def commit_product_binding(self, key: str, xs_product_id: str, sku: str, *, created: bool) -> None:
        await self.group.commit(self._product_binding(key, xs_product_id, sku, created=created))

    def _product_binding(self, key: str, xs_product_id: str, sku: str, *, created: bool) -> Write[None]:
        upsert = self._q.product_binding_upsert
        values = {"key": key, "xs_product_id": xs_product_id, "sku": sku, "created": created,
                  "created_at": self.clock.now()}
        return Write(lambda sql: sql.run(upsert, values), self._cache(self._product_ids, key, xs_product_id))

    def bind_new_product(self, key: str, xs_product_id: str, sku: str, name: str, *, audit: dict[str, Any],
                         lease: LeaseHandle | None = None) -> None:
        """A product order-sync just created: its index row, its binding, its audit entry and the
        release of its creation lease, in one transaction (another process's index refresh may be
        indexing it at the same moment)."""
        self.group.now(self._new_product(key, xs_product_id, sku, name, audit, lease))

    async def commit_new_product(self, key: str, xs_product_id: str, sku: str, name: str, *,
                                 audit: dict[str, Any], lease: LeaseHandle | None = None) -> None:
        await self.group.commit(self._new_product(key, xs_product_id, sku, name, audit, lease))

    def _new_product(self, key: str, xs_product_id: str, sku: str, name: str, audit: dict[str, Any],
                     lease: LeaseHandle | None) -> Write[None]:
        q = self._q
        return self._new_object(
            q.product_index_upsert,
            {"id": xs_product_id, "sku_key": sku.strip().casefold(), "name": name, "version": 0, "deleted": False},
            q.product_binding_upsert,
            {"key": key, "xs_product_id": xs_product_id, "sku": sku, "created": True, "created_at": self.clock.now()},
            audit, lease, self._cache(self._product_ids, key, xs_product_id))

    def bind_new_customer(self, email_key: str, xs_customer_id: str, *, audit: dict[str, Any],
                          lease: LeaseHandle | None = None) -> None:
        self.group.now(self._new_customer(email_key, xs_customer_id, audit, lease))

    async def commit_new_customer(self, email_key: str, xs_customer_id: str, *, audit: dict[str, Any],
                                  lease: LeaseHandle | None = None) -> None:
        await self.group.commit(self._new_customer(email_key, xs_customer_id, audit, lease))

    def _new_customer(self, email_key: str, xs_customer_id: str, audit: dict[str, Any],
                      lease: LeaseHandle | None) -> Write[None]:
        q = self._q
        return self._new_object(
            q.customer_index_upsert, {"id": xs_customer_id, "email_key": email_key, "version": 0, "deleted": False},
            q.customer_binding_upsert,
            {"email_key": email_key, "xs_customer_id": xs_customer_id, "created": True,
             "created_at": self.clock.now()},
            audit, lease, self._cache(self._customer_ids, email_key, xs_customer_id))

    def _new_object(self, index_upsert: Prepared, index_row: dict[str, Any], binding_upsert: Prepared,
                    binding_row: dict[str, Any], audit: dict[str, Any], lease: LeaseHandle | None,
                    cache: Callable[[Any], None]) -> Write[None]:
        """An object order-sync just created in X-Series: its index row, its binding, its audit entry
        and the release of its creation lease, in one transaction; cached once committed."""
        audit_values = self._audit_values(**audit)
        audit_insert = self._q.audit_insert

        def apply(sql: DirectSql) -> None:
            sql.run(index_upsert, index_row)
            sql.run(binding_upsert, binding_row)
            sql.run(audit_insert, audit_values)
            self._release_in(sql, lease)

        return Write(apply, self._then(self._released_after(lease), cache))

    @staticmethod
    def _cache(ids: "_Lru", key: str, xs_id: str) -> Callable[[Any], None]:
        """Remember a binding's id once its write is committed (bindings never change)."""
        def cache(_: Any) -> None:
            ids[key] = xs_id

        return cache

    @staticmethod
    def _then(*steps: Callable[[Any], None] | None) -> Callable[[Any], None]:
        def run(result: Any) -> None:
            for step in steps:
                if step is not None:
                    step(result)

        return run

    def customer_id(self, email_key: str) -> str | None:
        """The X-Series customer bound to a casefolded e-mail, or None (cached once bound)."""
        cached = self._customer_ids.get(email_key)
        if cached is not None:
            return cached
        row = self.sql.one(self._q.customer_id_select, {"key": email_key})
        if row is not None:
            self._customer_ids[email_key] = row[0]
            return row[0]
        return None

    def customer_binding(self, email_key: str) -> CustomerBinding | None:
        with self.session() as s:
            return s.get(CustomerBinding, email_key)

    def bind_customer(self, email_key: str, xs_customer_id: str, *, created: bool) -> None:
        self.group.now(self._customer_binding(email_key, xs_customer_id, created=created))

    async def commit_customer_binding(self, email_key: str, xs_customer_id: str, *, created: bool) -> None:
        await self.group.commit(self._customer_binding(email_key, xs_customer_id, created=created))

    def _customer_binding(self, email_key: str, xs_customer_id: str, *, created: bool) -> Write[None]:
        upsert = self._q.customer_binding_upsert
        values = {"email_key": email_key, "xs_customer_id": xs_customer_id, "created": created,
                  "created_at": self.clock.now()}
        return Write(lambda sql: sql.run(upsert, values), self._cache(self._customer_ids, email_key, xs_customer_id))

    def indexed_product_id(self, sku: str) -> str | None:
        """The X-Series product with this SKU in the local index (case and spaces ignored)."""
        row = self.sql.one(self._q.indexed_product_id, {"key": sku.strip().casefold()})
        return row[0] if row is not None else None

    def indexed_customer_id(self, email: str) -> str | None:
        row = self.sql.one(self._q.indexed_customer_id, {"key": email.strip().casefold()})
        return row[0] if row is not None else None

    def find_indexed_product(self, sku: str) -> XsProduct | None:
        key = sku.strip().casefold()
        with self.session() as s:
            return s.exec(
                select(XsProduct).where(XsProduct.sku_key == key, XsProduct.deleted == False)  # noqa: E712
                .order_by(XsProduct.version)
            ).first()

    def upsert_indexed_products(self, rows: Iterable[XsProduct | dict[str, Any]]) -> None:
        """Index rows (XsProduct, or plain dicts of its columns: a catalogue has thousands)."""
        self._upsert_many(self._q.product_index_upsert, XsProduct, rows)

    def upsert_indexed_customers(self, rows: Iterable[XsCustomer | dict[str, Any]]) -> None:
        self._upsert_many(self._q.customer_index_upsert, XsCustomer, rows)

    def _upsert_many(self, prepared: Prepared, model: type[SQLModel], rows: Iterable[Any]) -> None:
        names = [c.name for c in model.__table__.columns]
        values = [row if isinstance(row, dict) else {n: getattr(row, n) for n in names} for row in rows]
        if values:
            with self.sql.transaction():
                self.sql.run_many(prepared, values)

    def index_version(self, name: str) -> int:
        with self.session() as s:
            row = s.get(IndexCursor, name)
            return row.version if row else 0

    def set_index_version(self, name: str, version: int) -> None:
        with self.engine.begin() as conn:
            self._upsert(conn, IndexCursor, [IndexCursor(name=name, version=version)],
                         only_if_greater="version")

    # ---- the sync cursor ----------------------------------------------------------------
    def cursor(self, name: str = ORDERS_CURSOR) -> datetime | None:
        with self.session() as s:
            row = s.get(SyncCursor, name)
            return row.value if row else None

    def set_cursor(self, value: datetime, name: str = ORDERS_CURSOR) -> None:
        """Move the cursor forward only — atomically, so a concurrent process that settled further
        wins. The first value of the orders cursor is also kept as where the daemon started."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            if name == ORDERS_CURSOR:
                self._upsert(conn, SyncCursor, [SyncCursor(name=ORDERS_START_CURSOR, value=value, updated_at=now)],
                             keep_existing=True)
            self._upsert(conn, SyncCursor, [SyncCursor(name=name, value=value, updated_at=now)],
                         only_if_greater="value")

    # ---- failed orders --------------------------------------------------------------------
    def record_failure(self, bc_order_id: int, *, step: str, reason: str, permanent: bool,
                       max_attempts: int, base_delay: timedelta = timedelta(minutes=1)) -> FailedOrder:
        # Read-modify-write (attempts grow): two processes failing the same new order at once
        # collide on the key; the loser reads the winner's row and counts on from it.
        for attempt in range(3):
            try:
                return self._record_failure(bc_order_id, step=step, reason=reason, permanent=permanent,
                                            max_attempts=max_attempts, base_delay=base_delay)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _record_failure(self, bc_order_id: int, *, step: str, reason: str, permanent: bool,
                        max_attempts: int, base_delay: timedelta) -> FailedOrder:
        now = self.clock.now()
        with self.session() as s:
            row = s.get(FailedOrder, bc_order_id)
            if row is None:
                row = FailedOrder(bc_order_id=bc_order_id, step=step, reason=reason, attempts=0,
                                  next_attempt_at=now, first_failed_at=now, last_failed_at=now)
            row.attempts += 1
            row.step, row.reason, row.permanent = step, reason, permanent
            row.last_failed_at = now
            row.parked = permanent or row.attempts >= max_attempts
            # The first retry is due at the next cycle; then 1, 2, 4… minutes, capped at 6 hours.
            delay = timedelta(0) if row.attempts == 1 else base_delay * (2 ** (row.attempts - 2))
            row.next_attempt_at = now + min(delay, timedelta(hours=6))
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def clear_failure(self, bc_order_id: int) -> None:
        self.sql.run(self._q.failure_delete, {"order_id": bc_order_id})

    def failures(self) -> list[FailedOrder]:
        with self.session() as s:
            return list(s.exec(select(FailedOrder).order_by(FailedOrder.bc_order_id)))

    def due_failures(self) -> list[FailedOrder]:
        now = self.clock.now()
        with self.session() as s:
            return list(s.exec(
                select(FailedOrder).where(FailedOrder.parked == False, FailedOrder.next_attempt_at <= now)  # noqa: E712
                .order_by(FailedOrder.bc_order_id)
            ))

    def unpark(self, bc_order_id: int | None = None) -> int:
        """Make parked failures due again (retry-failed). Returns how many."""
        now = self.clock.now()
        with self.session() as s:
            query = select(FailedOrder)
            if bc_order_id is not None:
                query = query.where(FailedOrder.bc_order_id == bc_order_id)
            rows = list(s.exec(query))
            for row in rows:
                row.parked = False
                row.attempts = 0
                # Due at the daemon's next cycle even when this command runs on a host whose clock
                # is ahead of the daemon's: never later than when the daemon itself last failed it.
                row.next_attempt_at = min(now, row.last_failed_at)
                s.add(row)
            s.commit()
            return len(rows)

    # ---- audit ----------------------------------------------------------------------------
    def audit(self, *, platform: str, action: str, bc_order_id: int | None = None, target_id: str | None = None,
              reason: str = "", before: Any = None, after: Any = None, detail: Any = None) -> None:
        values = self._audit_values(platform=platform, action=action, bc_order_id=bc_order_id,
                                    target_id=target_id, reason=reason, before=before, after=after, detail=detail)
        self.sql.run(self._q.audit_insert, values)

    def _audit_values(self, *, platform: str, action: str, bc_order_id: int | None = None,
                      target_id: str | None = None, reason: str = "", before: Any = None, after: Any = None,
                      detail: Any = None) -> dict[str, Any]:
        return {
            "at": self.clock.now(), "platform": platform, "action": action, "bc_order_id": bc_order_id,
            "target_id": target_id, "reason": reason,
            "before": None if before is None else str(before), "after": None if after is None else str(after),
            "detail": None if detail is None else _detail_json(detail),
        }

    def audit_entries(self, bc_order_id: int | None = None, limit: int | None = None) -> list[AuditEntry]:
        with self.session() as s:
            query = select(AuditEntry)
            if bc_order_id is not None:
                query = query.where(AuditEntry.bc_order_id == bc_order_id)
            query = query.order_by(AuditEntry.id.desc() if limit else AuditEntry.id)
            if limit:
                query = query.limit(limit)
            rows = list(s.exec(query))
        return list(reversed(rows)) if limit else rows

    def count_audit(self, platform: str | None = None, action: str | None = None) -> int:
        with self.session() as s:
            query = select(func.count()).select_from(AuditEntry)
            if platform:
                query = query.where(AuditEntry.platform == platform)
            if action:
                query = query.where(AuditEntry.action == action)
            return int(s.exec(query).one())

    # ---- cycles ---------------------------------------------------------------------------
    def start_cycle(self, kind: str, window_start: datetime | None, window_end: datetime | None) -> int:
        with self.session() as s:
            run = CycleRun(kind=kind, started_at=self.clock.now(), window_start=window_start,
                           window_end=window_end)
            s.add(run)
            s.commit()
            s.refresh(run)
            return run.id

    def finish_cycle(self, run_id: int, *, seen: int, written: int, failed: int, outcome: str) -> None:
        with self.session() as s:
            run = s.get(CycleRun, run_id)
            run.finished_at = self.clock.now()
            run.orders_seen, run.orders_written, run.orders_failed = seen, written, failed
            run.outcome = outcome
            s.add(run)
            s.commit()

    def last_cycle(self, kind: str = "sync") -> CycleRun | None:
        with self.session() as s:
            return s.exec(
                select(CycleRun).where(CycleRun.kind == kind).order_by(CycleRun.id.desc())
            ).first()

    # ---- upserts --------------------------------------------------------------------------
    def _upsert(self, conn: Connection, model: type[SQLModel], rows: list[SQLModel], *,
                only_if_greater: str | None = None, keep_existing: bool = False) -> None:
        """INSERT … ON CONFLICT (primary key) DO UPDATE: one atomic statement on both databases.

        only_if_greater: update only when that column grows (cursors never move back).
        keep_existing: insert if absent, never update."""
        if not rows:
            return
        table = model.__table__
        names = [c.name for c in table.columns if not (c.primary_key and c.autoincrement is True)]
        stmt = _upsert_statement(conn.dialect.name, table, tuple(names), only_if_greater, keep_existing)
        conn.execute(stmt, [{n: getattr(r, n) for n in names} for r in rows])


@functools.lru_cache(maxsize=64)
def _upsert_statement(dialect: str, table, names: tuple[str, ...], only_if_greater: str | None,
                      keep_existing: bool):
    """Built once per table and shape, then executed with parameters: SQLAlchemy caches the
    compiled form, which matters on the order path (compiling an upsert costs more than running it)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(table)
    keys = [c.name for c in table.primary_key.columns]
    if keep_existing:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    where = table.c[only_if_greater] < stmt.excluded[only_if_greater] if only_if_greater else None
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={n: stmt.excluded[n] for n in names if n not in keys}, where=where,
    )


class _OrderPathStatements:
    """The order path's statements, compiled once for the store's database."""

    def __init__(self, sql: DirectSql) -> None:
        dialect = sql.dialect.name
        binding = OrderBinding.__table__
        self.binding_columns = tuple(c.name for c in binding.columns)
        self.binding_select = sql.prepare(_BINDING_SELECT, result_table=binding)
        self.binding_upsert = _prepared_upsert(sql, dialect, binding)
        self.audit_insert = sql.prepare(_AUDIT_INSERT, column_keys=_AUDIT_COLUMNS)
        self.failure_delete = sql.prepare(_FAILURE_DELETE)
        self.lease_release = sql.prepare(RELEASE)
        self.product_id_select = sql.prepare(_PRODUCT_ID_SELECT)
        self.customer_id_select = sql.prepare(_CUSTOMER_ID_SELECT)
        self.indexed_product_id = sql.prepare(_INDEXED_PRODUCT_ID)
        self.indexed_customer_id = sql.prepare(_INDEXED_CUSTOMER_ID)
        self.product_binding_upsert = _prepared_upsert(sql, dialect, ProductBinding.__table__)
        self.customer_binding_upsert = _prepared_upsert(sql, dialect, CustomerBinding.__table__)
        self.product_index_upsert = _prepared_upsert(sql, dialect, XsProduct.__table__)
        self.customer_index_upsert = _prepared_upsert(sql, dialect, XsCustomer.__table__)

    def binding_values(self, binding: OrderBindingRow | OrderBinding) -> dict[str, Any]:
        return {n: getattr(binding, n) for n in self.binding_columns}


def _prepared_upsert(sql: DirectSql, dialect: str, table) -> Prepared:
    names = tuple(c.name for c in table.columns)
    return sql.prepare(_upsert_statement(dialect, table, names, None, False), column_keys=names)


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
