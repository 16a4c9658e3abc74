"""Property test: random sequences of ID-check events and merchant status changes.

Each example is one order with a random rules table (targets and protected set drawn from the 15
statuses), a random initial status, and a true history of checks: checks one after another in time,
each with a few events (no step after a check's verdict: a retry is a new check). The events are
delivered out of order (some late), interleaved with the merchant changing the status, either between two events or in the middle of a decision (after the
connector's decision read, before its guard read). The engine runs on an in-memory fake of the
BigCommerce order-status store with the same two calls as the real client, and an in-memory ledger.

Properties:
1. No write ever reaches the order while its status is protected, or Incomplete (checked at the
   moment of the PUT).
2. No stale event ever causes a write.
3. If the order was never in a protected status nor Incomplete, and the merchant did not change it after the
   latest check (by time) last changed stage, its final status is the target of the latest event.
   (An event of the stage its check is at already is a duplicate: it writes nothing, so a change
   the merchant made since stands.)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.idv.decision import INCOMPLETE, Outcome
from connector.idv.engine import IdvEngine
from connector.idv.latest import latest_check
from connector.idv.ledger import MemoryLedger
from connector.idv.rules import Rules
from connector.idv.stages import CheckEvent, Source, Stage

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ORDER = 100
STAGES = (Stage.IN_PROGRESS, Stage.PASSED, Stage.FAILED)
EVENT_NAMES = {Stage.IN_PROGRESS: "started", Stage.PASSED: "passed", Stage.FAILED: "failed"}


@dataclass
class _Order:
    status_id: int
    archived: bool = False


@dataclass
class FakeOrderStatuses:
    """The BigCommerce order status store, in memory: get_order_status and update_order_status."""

    status: int
    protected: frozenset[int]
    history: list[int] = field(default_factory=list)
    writes: list[tuple[int, int, int]] = field(default_factory=list)  # (event index, before, sent)
    # A merchant change to apply right after the next read (i.e. between decision and guard read).
    after_next_read: int | None = None
    reads_since_change: int | None = None  # reads the engine made after that change landed
    current_event: int = -1

    def __post_init__(self) -> None:
        self.history.append(self.status)

    async def get_order_status(self, order_id: int) -> _Order:
        assert order_id == ORDER
        seen = _Order(self.status)
        if self.reads_since_change is not None:
            self.reads_since_change += 1
        if self.after_next_read is not None:
            self.set(self.after_next_read)
            self.after_next_read = None
            self.reads_since_change = 0
        return seen

    async def update_order_status(self, order_id: int, status_id: int, *, before_send=None) -> _Order:
        assert order_id == ORDER
        if before_send is not None:  # as the transport does, right before the PUT goes out
            await before_send()
        self.writes.append((self.current_event, self.status, status_id))
        self.set(status_id)
        return _Order(status_id)

    def set(self, status_id: int) -> None:
        self.status = status_id
        self.history.append(status_id)


class _Bytes:
    """Reads small numbers from a byte string; 0 once it runs out (so shorter means simpler)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def next(self, modulo: int) -> int:
        value = self.data[self.at] if self.at < len(self.data) else 0
        self.at += 1
        return value % modulo


def decode(data: bytes):
    """A scenario from bytes. One hypothesis draw per example keeps 10,000 examples fast, and
    shrinking still works: fewer or smaller bytes give fewer checks, events and changes."""
    b = _Bytes(data)
    targets = {stage: b.next(15) for stage in STAGES}
    # Two 15-bit masks ANDed: about a quarter of the statuses protected, often none.
    mask = (b.next(256) << 8 | b.next(256)) & (b.next(256) << 8 | b.next(256))
    protected = frozenset(i for i in range(15) if mask >> i & 1)
    initial = b.next(15)
    # The true history: checks one after another, event times strictly increasing.
    events = []
    t = 0
    for check in range(1 + b.next(4)):
        verdict = None
        for _ in range(1 + b.next(4)):
            t += 1 + b.next(90)
            stage = STAGES[b.next(3)]
            if verdict is not None and stage is Stage.IN_PROGRESS:
                stage = verdict  # a check with a verdict has no step after it (only a new check starts over)
            verdict = stage if stage is not Stage.IN_PROGRESS else verdict
            events.append((f"chk-{check}", stage, t))
    # Delivery: each event may arrive a few places late.
    keys = [i + b.next(4) for i in range(len(events))]
    delivery = [e for _, e in sorted(zip(keys, events), key=lambda p: p[0])]
    # Merchant changes: (before delivery step k, status, in the middle of that step's decision?)
    changes = [(b.next(len(delivery) + 1), b.next(15), bool(b.next(2))) for _ in range(b.next(5))]
    return targets, protected, initial, delivery, changes


LOOP = asyncio.new_event_loop()


@settings(max_examples=10_000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=128).map(decode))
def test_protection_and_latest_check_over_random_sequences(scenario):
    targets, protected, initial, delivery, changes = scenario
    rules = Rules(targets=targets, protected=protected, labels={})
    fake = FakeOrderStatuses(status=initial, protected=protected)
    ledger = MemoryLedger()
    engine = IdvEngine(bc=fake, rules=rules, ledger=ledger, enabled=True)
    latest = max(delivery, key=lambda e: e[2])
    latest_handled_at = None  # index in delivery
    changed_since_stage = False  # the merchant changed the status since the latest check's stage changed

    def check_and_stage():
        record = latest_check(ledger.checks(ORDER))
        return record and (record.check_id, record.stage)

    async def run() -> None:
        nonlocal latest_handled_at, changed_since_stage
        for step in range(len(delivery) + 1):
            fake.after_next_read, fake.reads_since_change = None, None
            for when, status, during in changes:
                if when != step:
                    continue
                if during and step < len(delivery):
                    fake.after_next_read = status
                else:
                    fake.set(status)
                    changed_since_stage = True
            if step == len(delivery):
                break
            check_id, stage, t = delivery[step]
            fake.current_event = step
            before_writes = len(fake.writes)
            stage_before = check_and_stage()
            decision = await engine.handle(CheckEvent(
                order_id=ORDER, event=EVENT_NAMES[stage], stage=stage, check_id=check_id,
                occurred_at=T0 + timedelta(seconds=t), source=Source.WEBHOOK))
            if (check_id, stage, t) == latest:
                latest_handled_at = step
                assert decision.outcome is not Outcome.SKIPPED_STALE, "the latest event was judged stale"
            elif latest_handled_at is not None:
                assert decision.outcome is Outcome.SKIPPED_STALE, "an older event was applied after the latest"
            if check_and_stage() != stage_before:
                changed_since_stage = False  # the stage's target was decided on the status there
            if fake.reads_since_change == 0:
                # The change landed after the engine's last look at the order: it is the merchant's.
                changed_since_stage = True
            # Property 2: only a decision "written" writes (so never a stale event), and it writes once.
            assert len(fake.writes) - before_writes == (1 if decision.outcome is Outcome.WRITTEN else 0)

    LOOP.run_until_complete(run())

    held = protected | {INCOMPLETE}  # an abandoned checkout is never written, whatever the table protects
    # Property 1: no write while protected or Incomplete, at the moment of the write.
    assert all(before not in held for _, before, _ in fake.writes)
    # Property 3: never held and untouched since the latest check's last change of stage → its target.
    if not any(s in held for s in fake.history) and not changed_since_stage:
        assert fake.status == targets[latest[1]], (fake.history, latest)
