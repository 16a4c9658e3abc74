"""Leases: expiring locks shared by every process on the database, plus an in-process lock.

Used for "one writer per order" and single-flight creation per SKU and per e-mail. The same code
works on SQLite and PostgreSQL: taking a lease is one atomic INSERT … ON CONFLICT DO UPDATE that
only takes a row that is free, expired or already ours (losing a race is a primary-key violation).
A process killed while holding a lease loses it when it expires, so nothing stays locked forever.
The statements run straight on the driver (connector.store.direct_sql): every order takes one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import uuid
from datetime import timedelta

from sqlalchemy import Engine, bindparam, delete, or_

from connector.clock import SYSTEM_CLOCK, Clock
from connector.event_loop import running_loop
from connector.store.direct_sql import DirectSql
from connector.store.group_commit import GroupCommit, Write

from connector.store.tables import Lease

log = logging.getLogger("connector.store")


class LeaseHandle:
    """A held lease. `released` is set when a store transaction already deleted it (the write
    that ends an order's work releases its lease in the same transaction)."""

    __slots__ = ("key", "owner", "released")

    def __init__(self, key: str, owner: str) -> None:
        self.key, self.owner, self.released = key, owner, False


class _Holding:
    """The context of Leases.hold: the in-process lock for the key (dropped when nobody holds or
    waits for it), then the lease itself. A class rather than @asynccontextmanager: every order
    takes one, and the generator machinery cost more than the lease's own statement."""

    __slots__ = ("leases", "key", "wait_seconds", "lock", "handle")

    def __init__(self, leases: "Leases", key: str, wait_seconds: float) -> None:
        self.leases, self.key, self.wait_seconds = leases, key, wait_seconds
        self.lock: asyncio.Lock | None = None
        self.handle: LeaseHandle | None = None

    async def __aenter__(self) -> LeaseHandle:
        leases, key = self.leases, self.key
        lock = leases._local.get(key)
        if lock is None:
            lock = leases._local[key] = asyncio.Lock()
        leases._users[key] = leases._users.get(key, 0) + 1
        self.lock = lock
        try:
            await lock.acquire()
        except BaseException:
            self._forget_lock()
            raise
        try:
            self.handle = await leases._take(key, self.wait_seconds)
        except BaseException:
            lock.release()
            self._forget_lock()
            raise
        return self.handle

    async def __aexit__(self, *exc: object) -> None:
        try:
            self.leases._give_back(self.handle)
        finally:
            self.lock.release()
            self._forget_lock()

    def _forget_lock(self) -> None:
        users = self.leases._users
        users[self.key] -= 1
        if not users[self.key]:
            del users[self.key], self.leases._local[self.key]


class LeaseTimeout(Exception):
    """A lease could not be taken in time (another process holds it)."""


class Leases:
    def __init__(self, engine: Engine, *, clock: Clock = SYSTEM_CLOCK, ttl_seconds: float = 120.0,
                 sql: DirectSql | None = None, group: GroupCommit | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.sql = sql or DirectSql(engine)
        # Leases taken by tasks (hold) commit with the other writes of their turn of the loop.
        self.group = group or GroupCommit(self.sql)
        self._acquire = self.sql.prepare(_acquire_statement(engine.dialect.name))
        self._release = self.sql.prepare(RELEASE)
        dbapi = engine.dialect.loaded_dbapi
        self._lost_race, self._locked = dbapi.IntegrityError, dbapi.OperationalError
        # In-process lock per key, dropped when nobody holds or waits for it (an import touches
        # hundreds of thousands of keys; keeping their locks would grow memory without bound).
        self._local: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        # Leases held across processes right now, renewed together by one task (see _renew).
        self._held: dict[str, LeaseHandle] = {}
        self._renewer: asyncio.Task | None = None

    def try_acquire(self, key: str) -> bool:
        """One atomic statement: insert the lease, or take it over when it expired or is ours."""
        try:
            return self._acquiring(key).apply(self.sql)
        except Exception as exc:  # noqa: BLE001 - sorted by _lost
            if self._lost(exc):
                return False
            raise

    async def acquire(self, key: str) -> bool:
        """try_acquire, committed with the other writes of this turn of the loop (group_commit)."""
        try:
            return await self.group.commit(self._acquiring(key))
        except Exception as exc:  # noqa: BLE001 - sorted by _lost
            if self._lost(exc):
                return False
            raise

    def _acquiring(self, key: str) -> Write[bool]:
        now = self.clock.now()
        values = {"key": key, "owner": self.owner, "expires_at": now + self.ttl, "now": now}
        acquire = self._acquire
        # RETURNING, not rowcount: psycopg reports no rowcount for an upsert.
        return Write(lambda sql: sql.one(acquire, values) is not None)

    def _lost(self, exc: Exception) -> bool:
        """A lease another process holds or just took: a lost race, or SQLite "database is locked"
        after busy_timeout. Anything else is a real error."""
        if isinstance(exc, self._lost_race):
            return True
        return isinstance(exc, self._locked) and "locked" in str(exc).lower()

    def release(self, key: str) -> None:
        self.sql.run(self._release, {"key": key, "owner": self.owner})

    def release_statement(self):
        """The prepared release, for a store transaction that ends an order's work with it."""
        return self._release

    def hold(self, key: str, *, wait_seconds: float = 300.0) -> "_Holding":
        """`async with leases.hold(key) as handle:` — hold `key` across processes (and tasks of
        this process) for the block's duration."""
        return _Holding(self, key, wait_seconds)

    async def _take(self, key: str, wait_seconds: float) -> LeaseHandle:
        waited = 0.0
        delay = 0.02
        while not await self.acquire(key):
            if waited >= wait_seconds:
                raise LeaseTimeout(f"{key} is held by another process")
            # Real sleep: the other holder is another process, not our simulated clock.
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.5)
        handle = LeaseHandle(key, self.owner)
        self._held[key] = handle
        self._ensure_renewer()
        return handle

    def _give_back(self, handle: LeaseHandle) -> None:
        del self._held[handle.key]
        if not handle.released:
            self.release(handle.key)

    def _ensure_renewer(self) -> None:
        renewer = self._renewer
        loop = running_loop(renewer.get_loop() if renewer is not None else None)
        if renewer is None or renewer.done() or renewer.get_loop() is not loop:
            self._renewer = loop.create_task(self._renew())

    async def _renew(self) -> None:
        """Renew every held lease each quarter of the ttl: a sale write can wait out a 5-minute
        X-Series quota window, longer than a lease lives, and a lease that lapsed mid-write would
        let another process decide the write never happened. A process that dies stops renewing,
        and its leases lapse within ttl. One task for all leases: an import holds thousands a
        minute, and a task per lease cost more CPU than the lease itself. Stops when none is held."""
        interval = max(self.ttl.total_seconds() / 4, 0.05)
        while self._held:
            await asyncio.sleep(interval)  # real time: the holder's liveness, not simulated time
            for key, handle in list(self._held.items()):
                if handle.released or self._held.get(key) is not handle:
                    continue
                try:
                    if not self.try_acquire(key):
                        log.error("lease %s was taken over by another process while held", key)
                except Exception:  # noqa: BLE001 - a failed renewal is retried at the next interval
                    log.warning("lease %s: renewal failed; trying again", key, exc_info=True)


_TABLE = Lease.__table__
RELEASE = delete(_TABLE).where(_TABLE.c.key == bindparam("key"), _TABLE.c.owner == bindparam("owner"))


@functools.lru_cache(maxsize=4)
def _acquire_statement(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(_TABLE)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={"owner": stmt.excluded.owner, "expires_at": stmt.excluded.expires_at},
        where=or_(_TABLE.c.expires_at < bindparam("now", type_=_TABLE.c.expires_at.type),
                  _TABLE.c.owner == stmt.excluded.owner),
    )
    return stmt.returning(_TABLE.c.key)
