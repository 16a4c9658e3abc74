"""Leases: expiring locks shared by every process on the database, plus an in-process lock.

Used for "one writer per order" and single-flight creation per SKU and per e-mail. The same code
works on SQLite and PostgreSQL: taking a lease is one atomic INSERT … ON CONFLICT DO UPDATE that
only takes a row that is free, expired or already ours (losing a race is a primary-key violation).
A process killed while holding a lease loses it when it expires, so nothing stays locked forever.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, delete, or_, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from connector.clock import SYSTEM_CLOCK, Clock
from connector.errors import OrderSyncError
from connector.store.connections import ThreadConnections
from connector.store.db import dialect_insert
from connector.store.tables import Lease

log = logging.getLogger("connector.store")


class LeaseHandle:
    """A held lease. `released` is set when a store transaction already deleted it (the write
    that ends an order's work releases its lease in the same transaction). `renewed_at`: when it
    was last taken or renewed (it lives until then + ttl); `lost`: another process took it over."""

    __slots__ = ("key", "owner", "released", "renewed_at", "lost")

    def __init__(self, key: str, owner: str, renewed_at: datetime) -> None:
        self.key, self.owner, self.released = key, owner, False
        self.renewed_at, self.lost = renewed_at, False


class LeaseTimeout(Exception):
    """A lease could not be taken in time (another process holds it)."""


class LeaseLost(OrderSyncError):
    """A write was not sent: its lease may have lapsed (renewals failed) or was taken over, and
    another process may have done the work meanwhile. The work is retried later."""


# How long a lease lives unrenewed. Longer than the most a write may still need when it is sent (its
# attempt deadline, 120 s, plus sync.lost_write_settle_seconds, at most 90 s: Leases.confirm), with
# room for a renewal: a lapsed holder's write can no longer land unseen when another takes over.
# A process killed while holding leases holds them up for this long.
TTL_SECONDS = 240.0


class Leases:
    def __init__(self, engine: Engine, *, clock: Clock = SYSTEM_CLOCK, ttl_seconds: float = TTL_SECONDS,
                 db: ThreadConnections | None = None, pair: str = "default") -> None:
        self.engine = engine
        # Keys are the pair's: "north/order:12" and "south/order:12" are two leases.
        self.prefix = f"{pair}/"
        self.db = db or ThreadConnections(engine)
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._acquire = _acquire_statement(engine.dialect.name)
        # In-process lock per key, dropped when nobody holds or waits for it (an import touches
        # hundreds of thousands of keys; keeping their locks would grow memory without bound).
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Leases held across processes right now, renewed together by one task (see _renew).
        self._held: dict[str, LeaseHandle] = {}
        self._renewer: asyncio.Task | None = None

    def try_acquire(self, key: str) -> bool:
        """One atomic statement: insert the lease, or take it over when it expired or is ours.
        `key` is the pair's (held leases are renewed by their full key, already the pair's)."""
        if not key.startswith(self.prefix):
            key = self.prefix + key
        now = self.clock.now()
        values = {"key": key, "owner": self.owner, "expires_at": now + self.ttl, "now": now}
        try:
            with self.db.begin() as conn:
                # RETURNING, not rowcount: psycopg reports no rowcount for an upsert.
                return conn.execute(self._acquire, values).first() is not None
        except IntegrityError:  # another process took it between our look and our insert
            return False
        except OperationalError as exc:  # SQLite "database is locked" after busy_timeout
            if "locked" in str(exc).lower():
                return False
            raise

    def release(self, key: str) -> None:
        if not key.startswith(self.prefix):
            key = self.prefix + key
        with self.db.begin() as conn:
            conn.execute(RELEASE, {"key": key, "owner": self.owner})

    @asynccontextmanager
    async def hold(self, key: str, *, wait_seconds: float = 300.0) -> AsyncIterator[LeaseHandle]:
        """`async with leases.hold(key) as handle:` — hold `key` across processes (and tasks of
        this process) for the block's duration."""
        key = self.prefix + key
        # Each holder and waiter keeps a reference to the lock: it is dropped with the last of them.
        lock = self._local.get(key)
        if lock is None:
            lock = self._local[key] = asyncio.Lock()
        async with lock:
            handle = await self._take(key, wait_seconds)
            try:
                yield handle
            finally:
                del self._held[key]
                if not handle.released:  # the transaction that ended the work released it
                    self.release(key)

    async def _take(self, key: str, wait_seconds: float) -> LeaseHandle:
        waited = 0.0
        delay = 0.02
        while not self.try_acquire(key):
            if waited >= wait_seconds:
                raise LeaseTimeout(f"{key} is held by another process")
            # Real sleep: the other holder is another process, not our simulated clock.
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.5)
        handle = LeaseHandle(key, self.owner, self.clock.now())
        self._held[key] = handle
        self._ensure_renewer()
        return handle

    def _ensure_renewer(self) -> None:
        renewer = self._renewer
        loop = asyncio.get_running_loop()
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
            self._renew_held()

    def _renew_held(self) -> None:
        for key, handle in list(self._held.items()):
            if handle.released or handle.lost or self._held.get(key) is not handle:
                continue
            try:
                self._extend(handle)
            except Exception:  # noqa: BLE001 - a failed renewal is retried at the next interval
                log.warning("lease %s: renewal failed; trying again", key, exc_info=True)

    def before_send(self, handle: LeaseHandle, margin: timedelta) -> Callable[[], Awaitable[None]]:
        """confirm() as a write's before_send (the transport runs it after every wait)."""
        async def check() -> None:
            self.confirm(handle, margin)
        return check

    def confirm(self, handle: LeaseHandle, margin: timedelta) -> None:
        """Raises LeaseLost unless `handle` is ours for `margin` more: called right before a write is
        sent (the transport's before_send, after any pacer or quota wait), so a holder whose lease
        lapsed while it waited sends nothing that another process may have written meanwhile. With
        margin = the write's attempt deadline + the lost-write settle time (MirrorDeps.lease_margin), a
        process that takes the lease over looks for the work only once the write can no longer land
        unseen. In memory while renewals keep up; only a lease not renewed for ttl - margin
        (renewals failing) costs a database round trip."""
        if margin >= self.ttl:  # no renewal could cover it: the write would never go out
            raise ValueError(f"a write's lease margin ({margin}) must be shorter than the lease's ttl ({self.ttl})")
        if not handle.lost and self.clock.now() - handle.renewed_at < self.ttl - margin:
            return
        try:
            if not handle.lost and self._extend(handle):
                return
        except DBAPIError as exc:  # the database does not answer: not known to be ours, nothing is sent
            log.warning("lease %s could not be renewed before a write: %s", handle.key, exc)
        handle.lost = True
        raise LeaseLost(f"lease {handle.key} not renewed since {handle.renewed_at:%H:%M:%S} UTC, maybe taken over:"
                        " the write was not sent (tried again later)")

    def _extend(self, handle: LeaseHandle) -> bool:
        """Renew `handle` if it is still ours (expired or not: nobody took it meanwhile), never take
        it back once another process took it (and maybe released it, its work done): False, lost."""
        now = self.clock.now()
        with self.db.begin() as conn:
            renewed = conn.execute(EXTEND, {"k": handle.key, "o": handle.owner, "until": now + self.ttl}).rowcount == 1
        if renewed:
            handle.renewed_at = now
        else:
            handle.lost = True
            log.error("lease %s was taken over by another process while held", handle.key)
        return renewed


_TABLE = Lease.__table__
RELEASE = delete(_TABLE).where(_TABLE.c.key == bindparam("key"), _TABLE.c.owner == bindparam("owner"))
# Other names than the columns': an UPDATE reserves those for its SET clause.
EXTEND = (update(_TABLE).where(_TABLE.c.key == bindparam("k"), _TABLE.c.owner == bindparam("o"))
          .values(expires_at=bindparam("until")))


@functools.lru_cache(maxsize=4)
def _acquire_statement(dialect: str):
    stmt = dialect_insert(dialect)(_TABLE)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={"owner": stmt.excluded.owner, "expires_at": stmt.excluded.expires_at},
        where=or_(_TABLE.c.expires_at < bindparam("now", type_=_TABLE.c.expires_at.type),
                  _TABLE.c.owner == stmt.excluded.owner),
    )
    return stmt.returning(_TABLE.c.key)
