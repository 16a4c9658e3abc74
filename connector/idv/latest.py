"""Only the latest check of an order counts: which events are current, which are stale.

A failed check may be followed by a new one (a new check id), and events can arrive late or out of
order. "Latest" rests on what we always have, never on the format of check ids:

1. check-id sequence, in the order order-sync first saw them: a new check id accepted supersedes
   every earlier check of the order for good, and their later events are stale.
2. time (the webhook's occurred_at, the metafield's date_modified, the moment of `id-check`): within
   the latest check, an event older than the last one applied is stale; an unseen check id whose
   event is older than the latest check's last event is an old check delivered late: stale, and
   remembered as superseded. Ties go to the event that arrives later.

An event without a check id (the command line without --check-id) belongs to the latest check.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from connector.idv.stages import CheckEvent, Stage

# The check an event without a check id starts when the order has no check yet.
ANONYMOUS_CHECK = ""


@dataclass(frozen=True)
class CheckRecord:
    """One check of one order, as far as order-sync has seen it."""

    check_id: str
    seq: int  # 1, 2, 3… in the order the check ids were first seen for this order
    stage: Stage
    event: str
    source: str
    last_occurred_at: datetime
    superseded: bool = False


class Verdict(str, enum.Enum):
    CURRENT = "current"  # an event of the latest check, not older than its last one
    NEW_CHECK = "new_check"  # a check never seen before, newer than the latest: it replaces it
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
    if latest is not None and check_id == latest.check_id:
        if event.occurred_at < latest.last_occurred_at:
            return Judgement(Verdict.STALE, check_id, (
                f"event of {_at(event.occurred_at)} is older than the last event applied for this "
                f"check ({latest.event} at {_at(latest.last_occurred_at)})"
            ))
        return Judgement(Verdict.CURRENT, check_id, "latest check")
    if any(c.check_id == check_id for c in checks):
        newer = latest.check_id if latest is not None else "?"
        return Judgement(Verdict.STALE, check_id, f"check {_name(check_id)} was replaced by check {_name(newer)}")
    if latest is not None and event.occurred_at < latest.last_occurred_at:
        return Judgement(Verdict.STALE, check_id, (
            f"check {_name(check_id)} is older than the latest check {_name(latest.check_id)} "
            f"(its event of {_at(event.occurred_at)} precedes {latest.event} at {_at(latest.last_occurred_at)})"
        ))
    reason = "first check of the order" if latest is None else f"new check replaces check {_name(latest.check_id)}"
    return Judgement(Verdict.NEW_CHECK, check_id, reason)


def records_after(event: CheckEvent, judgement: Judgement, checks: list[CheckRecord]) -> list[CheckRecord]:
    """The records to save once `event` is judged (changed or new ones only)."""
    known = {c.check_id: c for c in checks}
    next_seq = max((c.seq for c in checks), default=0) + 1
    applied = CheckRecord(judgement.check_id, next_seq, event.stage, event.event, event.source.value,
                          event.occurred_at)
    if judgement.verdict is Verdict.STALE:
        # An old check seen for the first time: remember it, so its later events stay stale.
        return [] if judgement.check_id in known else [replace(applied, superseded=True)]
    if judgement.verdict is Verdict.CURRENT:
        return [replace(known[judgement.check_id], stage=event.stage, event=event.event,
                        source=event.source.value, last_occurred_at=event.occurred_at)]
    return [replace(c, superseded=True) for c in checks if not c.superseded] + [applied]


def _at(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def _name(check_id: str) -> str:
    return repr(check_id) if check_id else "(without id)"
