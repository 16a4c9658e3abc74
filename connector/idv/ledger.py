"""Where the engine keeps the checks of each order and its audit entries: SqlLedger (production,
checks and decision in one transaction) and MemoryLedger (the property test, no database). SqlCheckIds
keeps the metafield poll's last-read `realid` check_id per order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select as core_select
from sqlmodel import select

from connector.idv.decision import AUDIT_PLATFORM, Decision
from connector.idv.latest import CheckRecord
from connector.idv.rules import Rules
from connector.idv.stages import Stage
from connector.store.db import dialect_insert
from connector.store.idv_tables import IdvCheck, IdvOrderCheckId
from connector.store.repository import Store
from connector.store.tables import AuditEntry


class Ledger(Protocol):
    def checks(self, order_id: int) -> list[CheckRecord]: ...

    def record(self, decision: Decision, records: list[CheckRecord]) -> None:
        """Save the changed check records and the decision's audit entry, together."""


def audit_detail(decision: Decision, rules: Rules | None) -> dict:
    def name(status_id: int | None) -> str | None:  # a disabled engine (no rules) reads no status
        return rules.describe(status_id) if status_id is not None and rules is not None else None

    return {
        "event": decision.event,
        "stage": decision.stage.value,
        "source": decision.source.value,
        "check_id": decision.check_id,
        "occurred_at": decision.occurred_at.isoformat(),
        "target": decision.target,
        "before_name": name(decision.before),
        "after_name": name(decision.after),
        "target_name": name(decision.target),
    }


class SqlLedger:
    def __init__(self, store: Store, rules: Rules | None = None) -> None:
        self.store = store
        self.rules = rules

    def checks(self, order_id: int) -> list[CheckRecord]:
        with self.store.session() as s:
            rows = s.exec(select(IdvCheck).where(IdvCheck.pair == self.store.pair, IdvCheck.bc_order_id == order_id)
                          .order_by(IdvCheck.seq))
            return [
                CheckRecord(check_id=r.check_id, seq=r.seq, stage=Stage(r.stage), event=r.event, source=r.source,
                            last_occurred_at=r.last_occurred_at, superseded=r.superseded,
                            happened_at=r.happened_at, metafield_at=r.metafield_at, started_at=r.started_at)
                for r in rows
            ]

    def record(self, decision: Decision, records: list[CheckRecord]) -> None:
        now = self.store.clock.now()
        with self.store.session() as s:
            for r in records:
                s.merge(IdvCheck(
                    pair=self.store.pair, bc_order_id=decision.order_id, check_id=r.check_id, seq=r.seq, stage=r.stage.value,
                    event=r.event, source=r.source, last_occurred_at=r.last_occurred_at,
                    superseded=r.superseded, updated_at=now, happened_at=r.happened_at, metafield_at=r.metafield_at,
                    started_at=r.started_at,
                ))
            s.add(AuditEntry(**self.store._audit_values(
                platform=AUDIT_PLATFORM, action=decision.outcome.audit_action, bc_order_id=decision.order_id,
                target_id=decision.check_id, reason=decision.reason, before=decision.before, after=decision.after,
                detail=audit_detail(decision, self.rules),
            )))
            s.commit()


class MemoryLedger:
    """The checks only: nothing reads the decisions back."""

    def __init__(self) -> None:
        self._checks: defaultdict[int, dict[str, CheckRecord]] = defaultdict(dict)

    def checks(self, order_id: int) -> list[CheckRecord]:
        return sorted(self._checks[order_id].values(), key=lambda c: c.seq)

    def record(self, decision: Decision, records: list[CheckRecord]) -> None:
        for r in records:
            self._checks[decision.order_id][r.check_id] = r


@dataclass(frozen=True)
class CheckIdRead:
    order_id: int
    check_id: str
    date_modified: datetime  # the check_id metafield's (else its answer's Date: metafields.event_time)


class SqlCheckIds:
    """The `realid` check_id of each order as the metafield poll last read it (one statement a poll)."""

    _table = IdvOrderCheckId.__table__

    def __init__(self, store: Store) -> None:
        self.store = store

    def known(self, order_ids: set[int]) -> dict[int, str]:
        if not order_ids:
            return {}
        t = self._table
        with self.store.engine.connect() as conn:
            rows = conn.execute(core_select(t.c.bc_order_id, t.c.check_id).where(
                t.c.pair == self.store.pair, t.c.bc_order_id.in_(order_ids)))
            return {order_id: check_id for order_id, check_id in rows}

    def remember(self, reads: list[CheckIdRead]) -> None:
        """Upsert, keeping the newer read: two pollers on one database never go backwards, and an
        insert race cannot fail (ON CONFLICT, on SQLite and PostgreSQL alike)."""
        if not reads:
            return
        latest: dict[int, CheckIdRead] = {}
        for r in reads:  # one row per order: a statement may not upsert the same key twice
            if r.order_id not in latest or r.date_modified >= latest[r.order_id].date_modified:
                latest[r.order_id] = r
        now = self.store.clock.now()
        engine = self.store.engine
        statement = dialect_insert(engine.dialect.name)(self._table)
        statement = statement.on_conflict_do_update(
            index_elements=[self._table.c.pair, self._table.c.bc_order_id],
            set_={c: statement.excluded[c] for c in ("check_id", "date_modified", "updated_at")},
            where=statement.excluded.date_modified >= self._table.c.date_modified,
        )
        with engine.begin() as conn:
            conn.execute(statement, [
                {"pair": self.store.pair, "bc_order_id": r.order_id, "check_id": r.check_id, "date_modified": r.date_modified,
                 "updated_at": now} for r in latest.values()
            ])
