"""Leases: expiring locks shared by every process on the database, plus an in-process lock.

Used for "one writer per order" and single-flight creation per SKU and per e-mail. The same code
works on SQLite and PostgreSQL: taking a lease is one atomic UPDATE (free or expired or already
ours) or one INSERT (new key); losing the race is a primary-key violation. A process killed while
holding a lease loses it when it expires, so nothing stays locked forever.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import AsyncIterator

from sqlalchemy import Engine, bindparam, delete, or_
from sqlalchemy.exc import IntegrityError, OperationalError

from connector.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("connector.store")
from connector.store.tables import Lease


class LeaseHandle:
    """A held lease. `released` is set when a store transaction already deleted it (the write
    that ends an order's work releases its lease in the same transaction)."""

    __slots__ = ("key", "owner", "released")

    def __init__(self, key: str, owner: str) -> None:
        self.key, self.owner, self.released = key, owner, False


class LeaseTimeout(Exception):
    """A lease could not be taken in time (another process holds it)."""


class Leases:
    def __init__(self, engine: Engine, *, clock: Clock = SYSTEM_CLOCK, ttl_seconds: float = 120.0) -> None:
        self.engine = engine
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # In-process lock per key, dropped when nobody holds or waits for it (an import touches
        # hundreds of thousands of keys; keeping their locks would grow memory without bound).
        self._local: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def try_acquire(self, key: str) -> bool:
        """One atomic statement: insert the lease, or take it over when it expired or is ours."""
        now = self.clock.now()
        try:
            with self.engine.begin() as conn:
                # RETURNING, not rowcount: psycopg reports no rowcount for an upsert.
                row = conn.execute(_acquire_statement(conn.dialect.name), {
                    "key": key, "owner": self.owner, "expires_at": now + self.ttl, "now": now,
                }).first()
                return row is not None
        except IntegrityError:
            return False
        except OperationalError as exc:  # SQLite "database is locked" after busy_timeout
            if "locked" in str(exc).lower():
                return False
            raise

    def release(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(RELEASE, {"key": key, "owner": self.owner})

    @asynccontextmanager
    async def hold(self, key: str, *, wait_seconds: float = 300.0) -> AsyncIterator[LeaseHandle]:
        """Hold `key` across processes (and tasks of this process) for the block's duration."""
        lock = self._local.get(key)
        if lock is None:
            lock = self._local[key] = asyncio.Lock()
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                async with self._hold_across_processes(key, wait_seconds) as handle:
                    yield handle
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._local[key]

    @asynccontextmanager
    async def _hold_across_processes(self, key: str, wait_seconds: float) -> AsyncIterator[LeaseHandle]:
        waited = 0.0
        delay = 0.02
        while not self.try_acquire(key):
            if waited >= wait_seconds:
                raise LeaseTimeout(f"{key} is held by another process")
            # Real sleep: the other holder is another process, not our simulated clock.
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.5)
        # Renew while held: a sale write can wait out a 5-minute X-Series quota window, longer
        # than the lease lives, and a lease that lapsed mid-write would let another process
        # decide the write never happened. A process that dies stops renewing, and its
        # leases lapse within ttl.
        keeper = asyncio.create_task(self._keep(key))
        handle = LeaseHandle(key, self.owner)
        try:
            yield handle
        finally:
            keeper.cancel()
            if not handle.released:
                self.release(key)

    async def _keep(self, key: str) -> None:
        interval = max(self.ttl.total_seconds() / 4, 0.05)
        while True:
            await asyncio.sleep(interval)  # real time: the holder's liveness, not simulated time
            try:
                if not self.try_acquire(key):
                    log.error("lease %s was taken over by another process while held", key)
                    return
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
