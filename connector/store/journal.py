"""The store's journal: failed orders and their retries, the audit log, and the cycles run.

A mixin of Store (connector.store.repository), which gives it `db`, `clock` and `session()`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, literal, update
from sqlalchemy import case as sa_case
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from connector.logs import redact
from connector.store.tables import AuditEntry, CycleRun, FailedOrder

AUDIT_INSERT = insert(AuditEntry.__table__)
RETRY_ACTION = "retry_requested"  # a person made a failed order due again
FORGET_ACTION = "forget_failure"  # a person resolved the refusal that parked it: mirrored by hand
FAILURE_DELETE = delete(FailedOrder.__table__).where(FailedOrder.__table__.c.pair == bindparam("pair"),
                                                     FailedOrder.__table__.c.bc_order_id == bindparam("order_id"))
# The same, saying when the order first failed if it had (the exceptions that failure opened).
FAILURE_END = FAILURE_DELETE.returning(FailedOrder.__table__.c.first_failed_at)


def keyset_page(query, key, after: Any, limit: int | None):
    """`query` in `key` order: the first `limit` rows (all, without one) after the key `after`."""
    query = query.order_by(key)
    if after is not None:
        query = query.where(key > after)
    return query if limit is None else query.limit(limit)


class Journal:
    # ---- failed orders --------------------------------------------------------------------
    def record_failure(self, bc_order_id: int, *, step: str, reason: str, permanent: bool,
                       max_attempts: int, base_delay: timedelta = timedelta(minutes=1),
                       date_modified: datetime | None = None) -> FailedOrder:
        # Read-modify-write (attempts grow): two processes failing the same new order at once
        # collide on the key; the loser reads the winner's row and counts on from it.
        for attempt in range(3):
            now = self.clock.now()
            try:
                with self.session() as s:
                    row = s.get(FailedOrder, (self.pair, bc_order_id))
                    if row is None:
                        row = FailedOrder(pair=self.pair, bc_order_id=bc_order_id, step=step, reason=reason, attempts=0,
                                          next_attempt_at=now, first_failed_at=now, last_failed_at=now)
                    row.attempts += 1
                    row.step, row.reason, row.permanent = step, reason, permanent
                    row.last_failed_at = now
                    if date_modified is not None:  # unknown (the order could not be read): the last one known
                        row.date_modified = date_modified
                    row.parked = permanent or row.attempts >= max_attempts
                    # The first retry is due at the next cycle; then 1, 2, 4… minutes, capped at 6 hours.
                    delay = timedelta(0) if row.attempts == 1 else base_delay * (2 ** (row.attempts - 2))
                    row.next_attempt_at = now + min(delay, timedelta(hours=6))
                    s.add(row)
                    s.commit()
                    s.refresh(row)
                    return row
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def forget_failure(self, bc_order_id: int) -> None:
        """The order is as it should be (e.g. its change was reverted): out of the failed queue."""
        with self.engine.begin() as conn:
            conn.execute(FAILURE_DELETE, {"pair": self.pair, "order_id": bc_order_id})

    def forget_parked_failure(self, bc_order_id: int, reason: str) -> FailedOrder | None:
        """Out of the failed queue if parked for this reason (as record_failure stored it, redacted);
        a row the daemon failed again meanwhile is left. The row forgotten, or None."""
        row = self.failure(bc_order_id)
        if row is None or not row.parked or row.reason != redact(reason):
            return None
        table = FailedOrder.__table__
        with self.engine.begin() as conn:
            gone = conn.execute(delete(table).where(
                table.c.pair == self.pair, table.c.bc_order_id == bc_order_id, table.c.parked.is_(True),
                table.c.last_failed_at == row.last_failed_at)).rowcount
        return row if gone else None

    def resolved_by_hand(self, bc_order_id: int, date_modified: datetime) -> bool:
        """A person resolved the refusal that parked the order as it is now (not changed since): the
        window's overlap reading it again must not park it and open its exception once more."""
        return any(e.after and datetime.fromisoformat(e.after) >= date_modified
                   for e in self.audit_entries(bc_order_id) if e.action == FORGET_ACTION)

    def failure(self, bc_order_id: int) -> FailedOrder | None:
        """The order's row in the failed queue, if it is there."""
        with self.session() as s:
            return s.get(FailedOrder, (self.pair, bc_order_id))

    def failures(self, *, after: int | None = None, limit: int | None = None) -> list[FailedOrder]:
        """The pair's failed orders by order id; `after` and `limit`: a page of them (the console's),
        the first `limit` after order `after`, read along the table's key (pair, bc_order_id)."""
        query = select(FailedOrder).where(FailedOrder.pair == self.pair)
        with self.session() as s:
            return list(s.exec(keyset_page(query, FailedOrder.bc_order_id, after, limit)))

    def failure_summary(self) -> tuple[int, int, datetime | None]:
        """(failed, parked, the oldest first failure) of the pair, counted in SQL: the overview and
        /metrics ask on every view and scrape, and an outage can leave thousands of failed orders."""
        parked = func.coalesce(func.sum(sa_case((FailedOrder.parked, 1), else_=0)), 0)
        with self.session() as s:
            total, parked_n, oldest = s.exec(select(func.count(), parked, func.min(FailedOrder.first_failed_at))
                                             .where(FailedOrder.pair == self.pair)).one()
        return total - parked_n, parked_n, oldest

    def due_failures(self) -> list[FailedOrder]:
        now = self.clock.now()
        with self.session() as s:
            return list(s.exec(
                select(FailedOrder).where(FailedOrder.pair == self.pair, FailedOrder.parked == False,  # noqa: E712
                                          FailedOrder.next_attempt_at <= now)
                .order_by(FailedOrder.bc_order_id)
            ))

    def unpark(self, bc_order_id: int | None = None) -> int:
        """Make parked failures due again (retry-failed). Returns how many. One UPDATE: a row the
        daemon deletes meanwhile (the order mirrored) is simply not there to update."""
        table = FailedOrder.__table__
        now = self.clock.now()
        query = update(table).where(table.c.pair == self.pair)
        if bc_order_id is not None:
            query = query.where(table.c.bc_order_id == bc_order_id)
        # Due at the daemon's next cycle even when this command runs on a host whose clock is ahead
        # of the daemon's: never later than when the daemon itself last failed it.
        now_utc = literal(now, type_=table.c.next_attempt_at.type)  # stored as the column stores it
        due = sa_case((table.c.last_failed_at < now_utc, table.c.last_failed_at), else_=now_utc)
        with self.engine.begin() as conn:
            return conn.execute(query.values(parked=False, attempts=0, next_attempt_at=due)).rowcount

    def request_retry(self, bc_order_id: int | None, *, by: str, via: str) -> int:
        """unpark, by a person (`retry-failed`, the console's "retry now"): each order made due is
        audited with who asked, so its timeline shows it; one the daemon settled meanwhile is not.
        Returns how many."""
        orders = [bc_order_id] if bc_order_id is not None else [f.bc_order_id for f in self.failures()]
        count = 0
        for order_id in orders:
            if self.unpark(order_id):
                count += 1
                self.audit(platform="connector", action=RETRY_ACTION, bc_order_id=order_id, target_id=by,
                           reason=f"retry now, by {by} ({via}): due at the next cycle")
        return count

    # ---- audit ----------------------------------------------------------------------------
    def audit(self, **entry: Any) -> None:
        """One audit entry; its fields are _audit_values' arguments."""
        with self.db.begin() as conn:
            conn.execute(AUDIT_INSERT, self._audit_values(**entry))

    def _audit_values(self, *, platform: str, action: str, bc_order_id: int | None = None,
                      target_id: str | None = None, reason: str = "", before: Any = None, after: Any = None,
                      detail: Any = None) -> dict[str, Any]:
        return {
            "pair": self.pair, "at": self.clock.now(), "platform": platform, "action": action, "bc_order_id": bc_order_id,
            # A reason may quote an API's answer, which a misbehaving API or proxy fills with our token.
            "target_id": target_id, "reason": redact(reason),
            "before": None if before is None else str(before), "after": None if after is None else str(after),
            "detail": None if detail is None else json.dumps(detail, default=str, sort_keys=True),
        }

    def audit_entries(self, bc_order_id: int | None = None, limit: int | None = None) -> list[AuditEntry]:
        with self.session() as s:
            query = select(AuditEntry).where(AuditEntry.pair == self.pair)
            if bc_order_id is not None:
                query = query.where(AuditEntry.bc_order_id == bc_order_id)
            query = query.order_by(AuditEntry.id.desc() if limit else AuditEntry.id)
            if limit:
                query = query.limit(limit)
            rows = list(s.exec(query))
        return list(reversed(rows)) if limit else rows

    def latest_audit(self, bc_order_id: int, platform: str, action: str) -> AuditEntry | None:
        """The order's latest audit entry of this platform and action (along ix_audit_pair_order)."""
        return next(iter(self._audit(AuditEntry.bc_order_id == bc_order_id, AuditEntry.platform == platform,
                                     AuditEntry.action == action, latest=True)), None)

    def audit_since(self, bc_order_id: int, after_id: int, actions: tuple[str, ...]) -> list[AuditEntry]:
        """The order's audit entries of any of these actions newer than entry `after_id`, oldest first."""
        return self._audit(AuditEntry.bc_order_id == bc_order_id, AuditEntry.id > after_id,
                           AuditEntry.action.in_(actions))

    def latest_action(self, platform: str, action: str) -> AuditEntry | None:
        """The pair's latest audit entry of this platform and action, any order's."""
        return next(iter(self._audit(AuditEntry.platform == platform, AuditEntry.action == action, latest=True)), None)

    def audit_chain(self, bc_order_id: int, platform: str, action: str) -> list[AuditEntry]:
        """The order's audit entries of this platform and action, oldest first (along ix_audit_pair_order)."""
        return self._audit(AuditEntry.bc_order_id == bc_order_id, AuditEntry.platform == platform,
                           AuditEntry.action == action)

    def _audit(self, *where: Any, latest: bool = False) -> list[AuditEntry]:
        """The pair's audit entries matching `where`, oldest first; `latest`: the newest one only."""
        query = select(AuditEntry).where(AuditEntry.pair == self.pair, *where)
        query = query.order_by(AuditEntry.id.desc()).limit(1) if latest else query.order_by(AuditEntry.id)
        with self.session() as s:
            return list(s.exec(query))

    def count_audit(self, platform: str | None = None, action: str | None = None) -> int:
        with self.session() as s:
            query = select(func.count()).select_from(AuditEntry).where(AuditEntry.pair == self.pair)
            if platform:
                query = query.where(AuditEntry.platform == platform)
            if action:
                query = query.where(AuditEntry.action == action)
            return int(s.exec(query).one())

    # ---- cycles ---------------------------------------------------------------------------
    def start_cycle(self, kind: str, window_start: datetime | None, window_end: datetime | None) -> int:
        with self.session() as s:
            run = CycleRun(pair=self.pair, kind=kind, started_at=self.clock.now(), window_start=window_start,
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

    def first_window_start(self, kind: str = "sync") -> datetime | None:
        """Where the first cycle's window began: for "sync", where the daemon went live (orders last
        changed before it were never read by the daemon)."""
        query = select(func.min(CycleRun.window_start)).where(CycleRun.pair == self.pair, CycleRun.kind == kind)
        with self.session() as s:
            return s.exec(query).one()

    def last_cycle(self, kind: str = "sync", *, outcome: str | None = None) -> CycleRun | None:
        query = select(CycleRun).where(CycleRun.pair == self.pair, CycleRun.kind == kind)
        if outcome is not None:
            query = query.where(CycleRun.outcome == outcome)
        with self.session() as s:
            return s.exec(query.order_by(CycleRun.id.desc())).first()
