"""The decision engine: every event, from any source, goes through handle() and ends audited.

    disabled?            → skipped (disabled): nothing read, nothing written
    stale (latest.py)?   → skipped (stale event): the order is read for the audit entry only
    a duplicate?         → unchanged: the latest check is at that stage already (latest.py); read
                           for the audit entry only, so a status a person set since stands
    else the stage's target status through the protected writer (writer.py)
                         → written | skipped (protected) | unchanged | refused (a 4xx: audited,
                           never sent again, since the same PUT would be refused again; but a 409
                           or 423, the order busy, is an error for an hour: nothing recorded, tried again later)

Events of one order are handled one at a time (a lease per order, shared with other processes). The
check records are saved with the decision's audit entry: an event whose handling failed (API down)
leaves no trace and is judged the same way when it comes again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import timedelta
from contextlib import AbstractAsyncContextManager
from typing import Callable

from connector.clock import SYSTEM_CLOCK, Clock
from connector.errors import PermanentApiError, TransientApiError
from connector.idv.decision import Decision, Outcome
from connector.idv.latest import Verdict, judge, records_after
from connector.idv.ledger import Ledger
from connector.idv.rules import Rules
from connector.idv.stages import CheckEvent
from connector.idv.writer import OrderStatusPort, ProtectedStatusWriter

log = logging.getLogger("connector.idv")

LockFactory = Callable[[str], AbstractAsyncContextManager[None]]
BUSY = frozenset({409, 423})  # answers to a status PUT that say "not now", not "never"
BUSY_FOR = timedelta(hours=1)  # ...for this long after the verdict; then a refusal like any 4xx


def local_locks() -> LockFactory:
    """One asyncio lock per key: enough within one process (tests, the property test)."""
    locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
    return lambda key: locks[key]


class IdvEngine:
    def __init__(self, *, bc: OrderStatusPort, rules: Rules | None, ledger: Ledger, enabled: bool,
                 lock: LockFactory | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.enabled = enabled
        self.clock = clock
        self.bc = bc
        self.rules = rules
        self.ledger = ledger
        self.lock = lock or local_locks()
        self.writer = ProtectedStatusWriter(bc, rules) if rules is not None else None

    async def handle(self, event: CheckEvent) -> Decision:
        if not self.enabled:
            decision = self._decision(event, Outcome.SKIPPED_DISABLED, event.check_id,
                                      reason="id_verification.enabled is false: nothing is written")
            self.ledger.record(decision, [])
            return decision
        async with self.lock(f"idv:{event.order_id}"):
            checks = self.ledger.checks(event.order_id)
            judgement = judge(event, checks)
            records = records_after(event, judgement, checks)
            if judgement.verdict in (Verdict.STALE, Verdict.DUPLICATE):
                # Nothing is written: the order is read only to show its status in the audit entry. A
                # duplicate's stage was decided on already: writing it again would undo a person's change
                # since (staff overriding a decline before Real ID's metafield copy of it is read).
                current = (await self.bc.get_order_status(event.order_id)).status_id
                outcome, reason = ((Outcome.SKIPPED_STALE, judgement.reason) if judgement.verdict is Verdict.STALE
                                   else (Outcome.UNCHANGED, f"{event.stage.value}: {judgement.reason}"))
                decision = self._decision(event, outcome, judgement.check_id, before=current, after=current,
                                          reason=reason)
            else:
                assert self.writer is not None and self.rules is not None
                target = self.rules.targets[event.stage]
                try:
                    result = await self.writer.apply(event.order_id, target)
                except PermanentApiError as exc:
                    # Only the status PUT's own 4xx (e.g. a 422) is a refusal: the same PUT would be
                    # refused again. A read that failed (a 3xx, an oversized answer) tried nothing.
                    if exc.method != "PUT" or not 400 <= (exc.status or 0) < 500:
                        raise
                    if exc.status in BUSY and self.clock.now() - event.occurred_at < BUSY_FOR:
                        # 409 Conflict / 423 Locked (reference §8) are about the order's state now
                        # (another write in flight, the order open for editing), not about our PUT:
                        # nothing is recorded, so the verdict comes again (next poll, the sender's
                        # retry) and is decided afresh on a new read of the status. For BUSY_FOR after
                        # the verdict: a server that says 409 for good would hold the poll's cursor.
                        raise TransientApiError(f"the order is busy, not written; tried again later ({exc})",
                                                api=exc.api, method=exc.method, path=exc.path,
                                                status=exc.status, body=exc.body) from exc
                    decision = self._decision(event, Outcome.REFUSED, judgement.check_id, target=target, reason=(
                        f"{event.stage.value}: BigCommerce refused {self.rules.describe(target)}: {exc}"))
                else:
                    decision = self._decision(
                        event, result.outcome, judgement.check_id, before=result.before, after=result.after,
                        target=target, reason=f"{event.stage.value}: {result.reason}",
                    )
            self.ledger.record(decision, records)
        log.info("order %s: ID check %s %s (%s) → %s: %s", event.order_id, decision.check_id or "-",
                 event.event, event.source.value, decision.outcome.label, decision.reason)
        return decision

    @staticmethod
    def _decision(event: CheckEvent, outcome: Outcome, check_id: str | None, *, reason: str,
                  before: int | None = None, after: int | None = None, target: int | None = None) -> Decision:
        return Decision(
            outcome=outcome, order_id=event.order_id, event=event.event, stage=event.stage, source=event.source,
            check_id=check_id or None, occurred_at=event.occurred_at, before=before, after=after,
            target=target, reason=reason,
        )
