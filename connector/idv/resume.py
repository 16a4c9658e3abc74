"""Where Real ID's metafield poll starts when ID verification starts. A verdict read late is applied
over whatever the order went through since (staff verified the customer, declined, shipped): so
verdicts changed while ID verification was off are not applied; after a plain stop, the poll
catches up from its cursor, as ever.

- never started (first start): from now, recorded (FIRST_CURSOR) before the first poll: a restart
  before a poll succeeds (BigCommerce down, a token without metafield scope) starts there again, not
  from its own now, so no verdict between is skipped unsaid. An older verdict: by hand,
  `order-sync id-check`. Not the poll's cursor: that one goes by BigCommerce's clock (read_until).
- back on after a cycle ran with it off: from that cycle. Each cycle run with ID verification off
  records its time (OFF_CURSOR) once it was ever started, as nothing moves the cursor then.
- started, never polled since: from the first start.
- else (stopped or down with it on): from the cursor.
The poll reads from there minus the overlap, as from any cursor.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from connector.idv.metafields import CURSOR
from connector.store.repository import Store
from connector.store.tables import SyncCursor

log = logging.getLogger("connector.idv")

OFF_CURSOR = "idv_metafields_off"  # the last cycle run with ID verification off
FIRST_CURSOR = "idv_metafields_first"  # the first start of ID verification, our clock; set once


def note_off(store: Store) -> None:
    """A cycle runs with ID verification off: verdicts changed up to now are not to be applied."""
    if store.cursor(CURSOR) is not None or store.cursor(FIRST_CURSOR) is not None:
        store.set_cursor(store.clock.now(), OFF_CURSOR)


def resume(store: Store, overlap_seconds: int) -> datetime | None:
    """At start-up with ID verification on: the time verdicts changed before are not applied (the
    poll's floor), with one line saying so; None when the poll goes on from its cursor."""
    with store.session() as s:
        cursor = s.get(SyncCursor, (store.pair, CURSOR))
    off = store.cursor(OFF_CURSOR)
    first = store.cursor(FIRST_CURSOR)
    # Against the cursor's updated_at, our clock as the marks': its value may be BigCommerce's (read_until).
    since = cursor.updated_at if cursor is not None else first
    if cursor is None and first is None:
        # Two processes starting together: the later stands, seconds apart, within the poll's overlap.
        floor, why = store.clock.now(), "ID verification starts for the first time"
        store.set_cursor(floor, FIRST_CURSOR)
    elif off is not None and off > since:
        floor, why = off, f"ID verification was off at the last cycle ({off.isoformat()})"
    elif cursor is None:
        floor, why = first, f"ID verification started at {first.isoformat()}; its poll never succeeded since"
    else:
        return None
    log.warning("%s: Real ID verdicts changed before %s are not applied (`order-sync id-check ORDER_ID EVENT` "
                "applies one by hand)", why, (floor - timedelta(seconds=overlap_seconds)).isoformat())
    return floor
