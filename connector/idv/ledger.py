"""Where the engine keeps the checks of each order and its audit entries.

Two implementations of one small interface: SqlLedger on the Store (production: the checks in
idv_check, the decisions in the shared audit_log, both in one transaction) and MemoryLedger (the
property test runs tens of thousands of decisions and must not pay for a database).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import select

from connector.clock import Clock
from connector.idv.decision import AUDIT_PLATFORM, Decision
from connector.idv.latest import CheckRecord
from connector.idv.rules import Rules
from connector.idv.stages import Stage
from connector.store.repository import Store
from connector.store.tables import AuditEntry, IdvCheck


class Ledger(Protocol):
    def checks(self, order_id: int) -> list[CheckRecord]: ...

    def record(self, decision: Decision, records: list[CheckRecord]) -> None:
        """Save the changed check records and the decision's audit entry, together."""


@dataclass(frozen=True)
class AuditedDecision:
    at: datetime
    decision: Decision


def audit_detail(decision: Decision, rules: Rules | None) -> dict:
    def name(status_id: int | None) -> str | None:
        if status_id is None:
            return None
        return rules.describe(status_id) if rules is not None else str(status_id)

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
            rows = s.exec(select(IdvCheck).where(IdvCheck.bc_order_id == order_id).order_by(IdvCheck.seq))
            return [
                CheckRecord(check_id=r.check_id, seq=r.seq, stage=Stage(r.stage), event=r.event, source=r.source,
                            last_occurred_at=r.last_occurred_at, superseded=r.superseded)
                for r in rows
            ]

    def record(self, decision: Decision, records: list[CheckRecord]) -> None:
        now = self.store.clock.now()
        with self.store.session() as s:
            for r in records:
                s.merge(IdvCheck(
                    bc_order_id=decision.order_id, check_id=r.check_id, seq=r.seq, stage=r.stage.value,
                    event=r.event, source=r.source, last_occurred_at=r.last_occurred_at,
                    superseded=r.superseded, updated_at=now,
                ))
            s.add(AuditEntry(
                at=now, platform=AUDIT_PLATFORM, action=decision.outcome.audit_action,
                bc_order_id=decision.order_id, target_id=decision.check_id, reason=decision.reason,
                before=None if decision.before is None else str(decision.before),
                after=None if decision.after is None else str(decision.after),
                detail=json.dumps(audit_detail(decision, self.rules), default=str, sort_keys=True),
            ))
            s.commit()


class MemoryLedger:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._checks: defaultdict[int, dict[str, CheckRecord]] = defaultdict(dict)
        self.decisions: list[AuditedDecision] = []

    def checks(self, order_id: int) -> list[CheckRecord]:
        return sorted(self._checks[order_id].values(), key=lambda c: c.seq)

    def record(self, decision: Decision, records: list[CheckRecord]) -> None:
        for r in records:
            self._checks[decision.order_id][r.check_id] = r
        self.decisions.append(AuditedDecision(self.clock.now(), decision))
