"""Go-live, and the past orders the sync leaves to the historical import (issue 14).

Mirroring past orders is the historical import, whichever door they come through: an order whose
goods left before going live is already out of the POS counts, and a status change after go-live (a
bulk "mark Completed", a shipping app, a webhook) must not sell it again. So the sync's mirror leaves
alone an order it never mirrored (no binding) that was shipped before go-live and placed more than
FIRST_RUN_LOOKBACK before it, unless historical_import.enabled. An order still open at go-live (a
bank transfer paid after, goods shipped after) is the daemon's: its goods were still on the shelf.
Without a date_shipped nothing says the goods left: mirrored, as before. An order the historical
import failed on (its failure recorded) goes on too, or the import's only trace of it
would be lost; one import-history mirrored has its binding and goes on as any other.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from connector.clients.bigcommerce_models import Order
from connector.store.import_runs import ImportRuns
from connector.store.repository import ORDERS_START_CURSOR, Store

log = logging.getLogger("connector.sync")

# How far before go-live an order may be placed and still be the daemon's (and sync.start_at reach).
FIRST_RUN_LOOKBACK = timedelta(hours=24)
SKIPPED_BEFORE_GO_LIVE = "skip_before_go_live"  # the audit action of such an order, once per change


class GoLive:
    """Where the daemon went live: its first window's start (SyncCycle.run), read once and kept."""

    def __init__(self, store: Store, *, start_at: datetime | None, overlap: timedelta) -> None:
        self.store = store
        self.start_at = start_at
        self.overlap = overlap
        self._at: datetime | None = None

    def at(self) -> datetime:
        if self._at is None:
            found = self.store.first_window_start("sync") or self.store.cursor(ORDERS_START_CURSOR)
            if found is None:
                # No cycle yet (a webhook first): where the first one's window will start, as
                # SyncCycle.run takes it. Not kept: "now" moves until that cycle starts.
                now = self.store.clock.now()
                return (self.start_at or min(ImportRuns(self.store).imported_until() or now, now)) - self.overlap
            self._at = found
        return self._at

    def refusal(self, order: Order) -> str | None:
        """Why a never-mirrored order is the historical import's (None: it is the daemon's)."""
        go_live = self.at()
        if not left_before(order, go_live):
            return None
        return (f"placed {order.date_created:%Y-%m-%d %H:%M}Z and shipped {order.date_shipped:%Y-%m-%d %H:%M}Z,"
                f" before go-live {go_live:%Y-%m-%d %H:%M}Z: mirroring it is the historical import"
                " (historical_import.enabled)")


def stale_first_cycle(now: datetime, first: datetime, overlap: timedelta) -> str | None:
    """Why a first run may not go on from where a first cycle that failed before saving a cursor began
    (`first`, its window's start) when that was more than FIRST_RUN_LOOKBACK ago: its orders since are
    past orders now; None when it may."""
    if now - first - FIRST_RUN_LOOKBACK <= overlap:
        return None
    return (f"the first sync cycle, {(now - first).total_seconds() / 86400:.1f} days ago, failed before it saved where"
            " it read up to; going on from there mirrors past orders, which moves stock: import them (`order-sync"
            f" import-history --since {first:%Y-%m-%dT%H:%M:%SZ}`, historical_import.enabled: true), or set"
            " sync.start_at at most 24 hours back.")


def left_before(order: Order, go_live: datetime) -> bool:
    """Whether the order's goods left before go-live (shipped then), the order placed more than
    FIRST_RUN_LOOKBACK before it: the POS counts at go-live show them gone."""
    return order.date_created < go_live - FIRST_RUN_LOOKBACK \
        and order.date_shipped is not None and order.date_shipped < go_live


def record_skip(store: Store, order: Order, content_hash: str, why: str) -> None:
    """Audit (and log) the skip once per change of the order: the overlap reads it again, and no
    binding says it was seen (one would let its next change through as a mirrored order's)."""
    last = store.latest_audit(order.id, "connector", SKIPPED_BEFORE_GO_LIVE)
    if last is not None and last.detail and json.loads(last.detail).get("content_hash") == content_hash:
        return
    store.audit(platform="connector", action=SKIPPED_BEFORE_GO_LIVE, bc_order_id=order.id,
                reason="not mirrored: " + why, after=order.status_id, detail={"content_hash": content_hash})
    log.info("order %s: not mirrored: %s", order.id, why, extra={"order_id": order.id})


def skipped_before_go_live(store: Store, order_id: int) -> str | None:
    """Why the order was left to the historical import, if it was (a refund of it has no sale)."""
    last = store.latest_audit(order_id, "connector", SKIPPED_BEFORE_GO_LIVE)
    return last.reason if last is not None else None
