"""Only the latest check of an order counts: which events are current, which are stale, which copies.

A failed check may be followed by a new one (a new check id), and events can arrive late, out of
order, and twice: Real ID reports a step by webhook and again in the order's metafields. "Latest"
rests on what we always have, never on the format of check ids:

1. check-id sequence, in the order order-sync accepted them: a new check id accepted supersedes
   every earlier check of the order for good, and their later events are stale.
2. time, and one kind of time at a time. A webhook's occurred_at (Real ID's clock) and the moment
   of `id-check` say when a step happened; a metafield's date_modified says when BigCommerce stored
   Real ID's copy of it, seconds after the step. So a step's time is compared with the steps' times
   of a check (a metafield stamped after a step may still report an earlier one), or with its
   metafield time when the check has no other; a metafield's with every time of the check (it is
   never stamped before its step happened).
   - Within the latest check, an event older than the check's last one is stale.
   - An unseen check id whose event is older than the latest check is an old check delivered late:
     stale, but not remembered: should a later event of it be newer than the latest check, it was a
     new check after all (judged against the other clock, its first event may seem older: Real ID
     retries a failed check a second after the failure, before its metafield is stamped).
   Ties go to the event that arrives later.
3. A check's verdict (passed or failed) is final for that check: a step before it ("started",
   "submitted") that arrives afterwards is stale whatever its time. Only a new check starts over —
   or a person: `id-check ORDER started` without --check-id is acted now, so only rule 2 applies.
4. Within the latest check, an event of the stage the check is at already (the other source's copy
   of a verdict applied, "submitted" after "started") is a duplicate: recorded, not written, so a
   status a person set since stands.
5. Real ID retries a failed check a second after the failure, and writes the retry's check_id
   then; the failed check's verdict copy may be stored after that, under the new check_id. So a
   metafield verdict stored at most COPY_WINDOW after the start of a check that has an earlier one
   (its first webhook or command-line event: its later steps move nothing) is that earlier check's
   copy: stale — unless the earlier check's verdict is recorded and is another one (a pass after a
   fail is no copy of the fail). In the other order (the poll read it first and took it for the new
   check's, seen nowhere else), a start of the check by webhook at most COPY_WINDOW before that
   stamp, or after it, reopens the check, on the same terms. A verdict skipped so is not lost: the
   check's own verdict webhook, or a later change of the metafield, still applies; without webhooks
   nothing changes.

An event without a check id (the command line without --check-id) belongs to the latest check.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from connector.idv.stages import CheckEvent, Source, Stage

# The check an event without a check id starts when the order has no check yet.
ANONYMOUS_CHECK = ""
# A metafield verdict stored this close after its check's start cannot be told from the previous
# check's copy: BigCommerce stamps whole seconds, and Real ID's retry starts a second after a failure.
COPY_WINDOW = timedelta(seconds=2)


@dataclass(frozen=True)
class CheckRecord:
    """One check of one order, as far as order-sync has seen it."""

    check_id: str
    seq: int  # 1, 2, 3… in the order the check ids were accepted for this order
    stage: Stage
    event: str
    source: str
    last_occurred_at: datetime  # the last event recorded, from any source
    superseded: bool = False
    happened_at: datetime | None = None  # the last webhook or command-line event recorded
    metafield_at: datetime | None = None  # the date_modified of the last metafield recorded
    started_at: datetime | None = None  # the first webhook or command-line event recorded (rule 5)

    def time_to_beat(self, source: Source) -> datetime:
        """The time an event from `source` must not precede to be newer than this check's events."""
        if source is not Source.METAFIELD and self.happened_at is not None:
            return self.happened_at
        return max((t for t in (self.happened_at, self.metafield_at) if t is not None), default=self.last_occurred_at)


class Verdict(str, enum.Enum):
    CURRENT = "current"  # an event of the latest check, not older than its last one, a new stage
    DUPLICATE = "duplicate"  # an event of the latest check at the stage it is at already
    NEW_CHECK = "new_check"  # a check never accepted before, newer than the latest: it replaces it
    STALE = "stale"  # ignored (and recorded)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    check_id: str  # the check the event belongs to (resolved when the event had none)
    reason: str


def latest_check(checks: list[CheckRecord]) -> CheckRecord | None:
    return max((c for c in checks if not c.superseded), key=lambda c: c.seq, default=None)


def judge(event: CheckEvent, checks: list[CheckRecord]) -> Judgement:
    latest = latest_check(checks)
    check_id = event.check_id
    if check_id is None:
        check_id = latest.check_id if latest is not None else ANONYMOUS_CHECK
    last = latest.time_to_beat(event.source) if latest is not None else None
    if latest is not None and check_id == latest.check_id:
        # A person's `id-check` without --check-id is someone acting now, not a step of the check
        # retried late: it may start the check over (the time rule below still applies).
        by_a_person = event.source is Source.CLI and event.check_id is None
        previous = max((c for c in checks if c.seq < latest.seq), key=lambda c: c.seq, default=None)
        start = latest.started_at or latest.happened_at  # recorded before version 25: its last webhook's
        if (_may_copy(previous, event.stage) and event.source is Source.METAFIELD
                and latest.stage is Stage.IN_PROGRESS and start is not None
                and event.occurred_at <= start + COPY_WINDOW):
            return Judgement(Verdict.STALE, check_id, (
                f"{event.event} stored at {_at(event.occurred_at)}, within {_window()} of the start of check "
                f"{_name(check_id)} ({_at(start)}): the previous check's verdict, stored late"
            ))
        if (_may_copy(previous, latest.stage) and event.source is not Source.METAFIELD
                and event.stage is Stage.IN_PROGRESS
                and latest.stage is not Stage.IN_PROGRESS and latest.happened_at is None
                and latest.metafield_at is not None and latest.metafield_at <= event.occurred_at + COPY_WINDOW):
            return Judgement(Verdict.CURRENT, check_id, (
                f"check {_name(check_id)}'s verdict was read only in a metafield stored at {_at(latest.metafield_at)}, "
                f"within {_window()} of this start: the previous check's verdict, stored late; the check is in progress"
            ))
        if event.stage is Stage.IN_PROGRESS and latest.stage is not Stage.IN_PROGRESS and not by_a_person:
            # Whatever the clocks say: a step's webhook retried late, or stamped in the verdict's own
            # second, would otherwise undo the verdict, and a verdict seen once is not written again.
            return Judgement(Verdict.STALE, check_id, (
                f"check {_name(check_id)} has its verdict already ({latest.stage.value}: {latest.event}, "
                f"{latest.source}): a step before the verdict does not reopen it; a retry is a new check"
            ))
        if event.occurred_at < last:
            return Judgement(Verdict.STALE, check_id, (
                f"event of {_at(event.occurred_at)} is older than the last event recorded for this check "
                f"(of {_at(last)}; {latest.event}, {latest.source}, the last recorded)"
            ))
        if event.stage is latest.stage:
            return Judgement(Verdict.DUPLICATE, check_id, (
                f"check {_name(check_id)} is {latest.stage.value} already ({latest.event}, {latest.source}, "
                f"{_at(latest.last_occurred_at)}): a copy, not written again, so a status set since stands"
            ))
        return Judgement(Verdict.CURRENT, check_id, "latest check")
    if any(c.check_id == check_id for c in checks):
        newer = latest.check_id if latest is not None else "?"
        return Judgement(Verdict.STALE, check_id, f"check {_name(check_id)} was replaced by check {_name(newer)}")
    if latest is not None and event.occurred_at < last:
        return Judgement(Verdict.STALE, check_id, (
            f"check {_name(check_id)} is older than the latest check {_name(latest.check_id)} "
            f"(its event of {_at(event.occurred_at)} precedes that check's last, of {_at(last)})"
        ))
    reason = "first check of the order" if latest is None else f"new check replaces check {_name(latest.check_id)}"
    return Judgement(Verdict.NEW_CHECK, check_id, reason)


def records_after(event: CheckEvent, judgement: Judgement, checks: list[CheckRecord]) -> list[CheckRecord]:
    """The records to save once `event` is judged (changed or new ones only)."""
    if judgement.verdict is Verdict.STALE:
        return []  # an unseen check stays unseen: a later event of it is judged afresh
    if judgement.verdict is Verdict.NEW_CHECK:
        seq = max((c.seq for c in checks), default=0) + 1
        record = CheckRecord(judgement.check_id, seq, event.stage, event.event, event.source.value, event.occurred_at)
    else:
        record = next(c for c in checks if c.check_id == judgement.check_id)
    record = replace(record, stage=event.stage, event=event.event, source=event.source.value,
                     last_occurred_at=event.occurred_at)
    if event.source is Source.METAFIELD:
        record = replace(record, metafield_at=event.occurred_at)
    else:
        started = record.started_at or record.happened_at or event.occurred_at  # happened_at: before version 25
        record = replace(record, happened_at=event.occurred_at, started_at=started)
    if judgement.verdict is Verdict.NEW_CHECK:
        return [replace(c, superseded=True) for c in checks if not c.superseded] + [record]
    return [record]


def _may_copy(previous: CheckRecord | None, stage: Stage) -> bool:
    """Whether a verdict of `stage` may be the previous check's, stored late (rule 5): it must be
    one, and the previous check's own when that one is recorded."""
    return (previous is not None and stage is not Stage.IN_PROGRESS
            and previous.stage in (Stage.IN_PROGRESS, stage))


def _at(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def _name(check_id: str) -> str:
    return repr(check_id) if check_id else "(without id)"


def _window() -> str:
    return f"{int(COPY_WINDOW.total_seconds())} s"
