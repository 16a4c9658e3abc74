"""Leases: expiring locks shared by every process on the database, plus an in-process lock.

Used for "one writer per order" and single-flight creation per SKU and per e-mail. The same code
works on SQLite and PostgreSQL: taking a lease is one atomic UPDATE (free or expired or already
ours) or one INSERT (new key); losing the race is a primary-key violation. A process killed while
holding a lease loses it when it expires, so nothing stays locked forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections import defaultdict
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import AsyncIterator

from sqlalchemy import Engine, delete, or_
from sqlalchemy.exc import IntegrityError, OperationalError

from connector.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("connector.store")
from connector.store.tables import Lease


class LeaseTimeout(Exception):
    """A lease could not be taken in time (another process holds it)."""


class Leases:
    def __init__(self, engine: Engine, *, clock: Clock = SYSTEM_CLOCK, ttl_seconds: float = 120.0) -> None:
        self.engine = engine
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._local: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def try_acquire(self, key: str) -> bool:
        """One atomic statement: insert the lease, or take it over when it expired or is ours."""
        now = self.clock.now()
        expires = now + self.ttl
        table = Lease.__table__
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    from sqlalchemy.dialects.postgresql import insert as dialect_insert
                else:
                    from sqlalchemy.dialects.sqlite import insert as dialect_insert
                stmt = dialect_insert(table).values(key=key, owner=self.owner, expires_at=expires)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["key"],
                    set_={"owner": stmt.excluded.owner, "expires_at": stmt.excluded.expires_at},
                    where=or_(table.c.expires_at < now, table.c.owner == self.owner),
                )
                # RETURNING, not rowcount: psycopg reports no rowcount for an upsert.
                return conn.execute(stmt.returning(table.c.key)).first() is not None
        except IntegrityError:
            return False
        except OperationalError as exc:  # SQLite "database is locked" after busy_timeout
            if "locked" in str(exc).lower():
                return False
            raise

    def release(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(Lease).where(Lease.key == key, Lease.owner == self.owner))

    @asynccontextmanager
    async def hold(self, key: str, *, wait_seconds: float = 300.0) -> AsyncIterator[None]:
        """Hold `key` across processes (and tasks of this process) for the block's duration."""
        async with self._local[key]:
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
            try:
                yield
            finally:
                keeper.cancel()
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
