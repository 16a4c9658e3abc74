"""What a decision can come to, and Order Protection's pure rule: a protected current status wins
over everything (nothing is written), and so does Incomplete, whatever the table protects; then a
write that would not change the status is not sent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from connector.idv.rules import Rules
from connector.idv.stages import Source, Stage


class Outcome(str, enum.Enum):
    """Every decision ends as exactly one of these, and each is audited."""

    WRITTEN = "written"
    SKIPPED_PROTECTED = "skipped_protected"
    SKIPPED_DISABLED = "skipped_disabled"
    SKIPPED_STALE = "skipped_stale"
    UNCHANGED = "unchanged"
    REFUSED = "refused"  # BigCommerce refused the status write (a 4xx): sending it again cannot help

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]

    @property
    def audit_action(self) -> str:
        return AUDIT_PREFIX + self.value


OUTCOME_LABELS = {
    Outcome.WRITTEN: "written",
    Outcome.SKIPPED_PROTECTED: "skipped (protected)",
    Outcome.SKIPPED_DISABLED: "skipped (disabled)",
    Outcome.SKIPPED_STALE: "skipped (stale event)",
    Outcome.UNCHANGED: "unchanged",
    Outcome.REFUSED: "refused by BigCommerce",
}
# Audit-log actions of this feature are "idv_<outcome>", on platform "bigcommerce".
AUDIT_PREFIX = "idv_"
AUDIT_PLATFORM = "bigcommerce"


# Incomplete: a checkout abandoned at the payment page, never paid. Any other status would make it a
# live order (the mirror writes a sale for it): ID verification leaves it alone, skipped (protected).
INCOMPLETE = 0


def plan_for(target: int, current: int, rules: Rules) -> Outcome:
    """What writing `target` over `current` comes to: WRITTEN, SKIPPED_PROTECTED or UNCHANGED."""
    if current in rules.protected or current == INCOMPLETE:
        return Outcome.SKIPPED_PROTECTED
    if current == target:
        return Outcome.UNCHANGED
    return Outcome.WRITTEN


@dataclass(frozen=True)
class Decision:
    """One decision about one event: what happened, to which order, for which check, and why."""

    outcome: Outcome
    order_id: int
    event: str
    stage: Stage
    source: Source
    check_id: str | None
    occurred_at: datetime
    before: int | None  # the order's status when decided (None: not read)
    after: int | None  # its status once done (None: not read)
    target: int | None  # the status the stage asks for (None: not looked up)
    reason: str
