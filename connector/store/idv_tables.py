"""ID verification's tables: each order's checks and the realid metafields already read."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from connector.store.tables import _dt, _pair


class IdvCheck(SQLModel, table=True):
    """One ID-verification check of an order order-sync accepted, as its last event left it.

    The order's latest check is its one row with superseded False (connector.idv.latest): `seq`
    is the order in which check ids were accepted; a late event is judged stale against the times of
    the events recorded, each kept on its own clock (happened_at, metafield_at).
    """

    __tablename__ = "idv_check"
    pair: str = _pair()
    bc_order_id: int = Field(primary_key=True)
    check_id: str = Field(primary_key=True)  # "" for the check of events given without an id
    seq: int
    stage: str  # in_progress | passed | failed
    event: str  # the event's name as its source gave it
    source: str  # cli | webhook | metafield
    last_occurred_at: datetime = _dt(nullable=False)  # the last event recorded, from any source
    superseded: bool = False
    updated_at: datetime = _dt(nullable=False)
    # The time of the last webhook or command-line event recorded (when the step happened: Real ID's
    # clock, ours) and the date_modified of the last metafield (when BigCommerce stored Real ID's copy,
    # seconds later), kept apart: a webhook is not judged by a metafield's later stamp (version 19).
    happened_at: datetime | None = _dt(nullable=True)
    metafield_at: datetime | None = _dt(nullable=True)
    # The time of its first webhook or command-line event (version 25): a metafield verdict stored
    # within seconds of it may be the previous check's copy; its later steps move nothing.
    started_at: datetime | None = _dt(nullable=True)


class IdvMetafieldSeen(SQLModel, table=True):
    """The version of each order's `realid` verification_status metafield already handled.

    The metafield poll re-reads an overlap each cycle; a row here with the same metafield id, value,
    date_modified and check_id means that version was decided on already (no check-id read, no second audit
    entry). Keyed by order (version 20; by metafield id before): orders.v3.yml requires neither id
    nor date_modified, and an order has one verification_status metafield (its namespace and key
    name it), so the order names it with or without an id.
    """

    __tablename__ = "idv_metafield_seen"
    pair: str = _pair()
    bc_order_id: int = Field(primary_key=True)
    metafield_id: int | None = None  # None: the answer gave none
    value: str
    # The metafield's date_modified, else its date_created; None when the answer gave neither.
    date_modified: datetime | None = _dt(nullable=True)
    # The order's check_id the value was decided for (version 22): without dates, a new check reaching
    # the same value shows only by it. None: unknown then, or decided before version 22.
    check_id: str | None = None


class IdvOrderCheckId(SQLModel, table=True):
    """The `realid` check_id metafield of each order, as last read.

    The metafield poll reads check_id in its batch call only when it changed within the window; a
    later verdict of the same check finds its check here, so the order is looked up on its own only
    when its check was never seen.
    """

    __tablename__ = "idv_order_check_id"
    pair: str = _pair()
    bc_order_id: int = Field(primary_key=True)
    check_id: str
    # The metafield's own date_modified: a read of an older version never overwrites a newer one.
    date_modified: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False)

