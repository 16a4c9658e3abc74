"""The three stages of an ID check, the event names each source uses for them, and an event.

Every source's names are reduced to a Stage here, at the edge; the raw name is kept for the audit
log. Real ID's `verification_status` values: reference §13, domain notes §B.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from connector.values import as_utc


class Stage(str, enum.Enum):
    IN_PROGRESS = "in_progress"
    PASSED = "passed"
    FAILED = "failed"


# One row per stage. "approved" and "rejected" are a staff member's decision.
EVENT_STAGES: dict[str, Stage] = {
    "started": Stage.IN_PROGRESS, "submitted": Stage.IN_PROGRESS,
    "passed": Stage.PASSED, "approved": Stage.PASSED,
    "failed": Stage.FAILED, "rejected": Stage.FAILED,
}
METAFIELD_STAGES: dict[str, Stage] = {
    "pending": Stage.IN_PROGRESS, "in_progress": Stage.IN_PROGRESS, "in_review": Stage.IN_PROGRESS,
    "verified": Stage.PASSED, "manually_approved": Stage.PASSED,
    "failed": Stage.FAILED, "manually_rejected": Stage.FAILED,
}


class Source(str, enum.Enum):
    CLI = "cli"
    WEBHOOK = "webhook"
    METAFIELD = "metafield"


@dataclass(frozen=True)
class CheckEvent:
    """Something happened to an order's ID check. check_id None (the command line without
    --check-id) means the order's latest check, whatever its id."""

    order_id: int
    event: str  # the name the source used (kept for the audit log)
    stage: Stage
    check_id: str | None
    occurred_at: datetime
    source: Source

    def __post_init__(self) -> None:
        object.__setattr__(self, "occurred_at", as_utc(self.occurred_at))
        if self.check_id is not None and not self.check_id.strip():
            object.__setattr__(self, "check_id", None)


def stage_of_event(name: str) -> Stage:
    """The stage of a command-line / webhook event name; ValueError for anything else."""
    try:
        return EVENT_STAGES[name.strip().lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown ID-verification event {name!r}; expected one of: {', '.join(EVENT_STAGES)}"
        ) from None


def stage_of_metafield(value: str) -> Stage | None:
    """The stage of a Real ID verification_status value; None for a value Real ID does not document."""
    return METAFIELD_STAGES.get((value or "").strip().lower())
