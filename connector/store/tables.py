"""The store's tables. Each answers one question the sync has to ask durably."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from connector.store.types import UTCDateTime


def _dt(**kw):
    return Field(sa_column=Column(UTCDateTime(), **kw))


def _pair(*, key: bool = True):
    """The store pair a row belongs to (issue 17): the first column of the key of every table of a
    pair's state, so two pairs' order 12 are two rows. Rows from before pairs are "default"'s."""
    return Field(default="default", primary_key=key,
                 sa_column_kwargs={"server_default": "default"} if not key else {})


class OrderBinding(SQLModel, table=True):
    """BigCommerce order ↔ X-Series sale, and what has been applied to the POS.

    `pending_state` is set (in its own committed transaction) before a sale write is sent and
    cleared when its outcome is known: a binding found pending means "a write may have happened —
    look the sale up by invoice_number before writing again".
    """

    __tablename__ = "order_binding"
    pair: str = _pair()
    bc_order_id: int = Field(primary_key=True)
    sale_id: str | None = None
    invoice_number: str
    # 1 for the order's first sale; +1 each time an order whose sale was voided is re-opened (a
    # voided sale never changes, so a re-opened order gets a new sale, BC-<id>-<generation>).
    generation: int = 1
    pos_state: str  # not_imported | closed | voided: what the POS has
    pending_state: str | None = None  # the state being written, while its outcome is unknown
    bc_status_id: int
    content_hash: str
    # sale_content_hash of the order when last mirrored (None: bound before edits were tracked).
    sale_hash: str | None = None
    # The register_sales body last posted: a void re-posts exactly these lines (0.9 updates replace
    # the whole sale), whatever the order looks like by then.
    sale_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    bc_date_modified: datetime = _dt(nullable=False)
    created_at: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False)


class ProductBinding(SQLModel, table=True):
    """What BigCommerce line (by SKU, custom name, or special line) became which X-Series product."""

    __tablename__ = "product_binding"
    pair: str = _pair()
    key: str = Field(primary_key=True)  # "sku:<casefolded sku>" | "custom:<…>" | "special:shipping"
    xs_product_id: str
    sku: str
    created: bool = False  # True when order-sync created the product
    created_at: datetime = _dt(nullable=False)


class CustomerBinding(SQLModel, table=True):
    __tablename__ = "customer_binding"
    pair: str = _pair()
    email_key: str = Field(primary_key=True)  # lowercased e-mail (planned_sale.email_key)
    xs_customer_id: str
    created: bool = False
    created_at: datetime = _dt(nullable=False)


class XsProduct(SQLModel, table=True):
    """Local index of X-Series products, refreshed through the 2.0 version cursor.

    Finding a product by SKU is then a local lookup: no API call per line, and no reliance on the
    X-Series SKU search that misses hyphenated SKUs (reference §9.1)."""

    __tablename__ = "xs_product"
    pair: str = _pair()
    id: str = Field(primary_key=True)
    sku_key: str = Field(index=True)  # casefolded sku (looked up with the pair: the key's first column)
    name: str = ""
    version: int = 0
    deleted: bool = False


class XsCustomer(SQLModel, table=True):
    __tablename__ = "xs_customer"
    pair: str = _pair()
    id: str = Field(primary_key=True)
    email_key: str = Field(index=True)
    version: int = 0
    deleted: bool = False


class IndexCursor(SQLModel, table=True):
    """The last X-Series version seen by an index ("products", "customers")."""

    __tablename__ = "index_cursor"
    pair: str = _pair()
    name: str = Field(primary_key=True)
    version: int = 0


class SyncCursor(SQLModel, table=True):
    """How far the order poll has settled: every order modified before `value` is bound or failed."""

    __tablename__ = "sync_cursor"
    pair: str = _pair()
    name: str = Field(primary_key=True)
    value: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False)


class FailedOrder(SQLModel, table=True):
    __tablename__ = "failed_order"
    pair: str = _pair()
    bc_order_id: int = Field(primary_key=True)
    step: str
    reason: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = 0
    permanent: bool = False
    parked: bool = False
    next_attempt_at: datetime = _dt(nullable=False)
    first_failed_at: datetime = _dt(nullable=False)
    last_failed_at: datetime = _dt(nullable=False)
    # The order's date_modified when it last failed (BigCommerce's clock, as the listing's): a re-read
    # tells a change from it on that clock. NULL: failed before this was kept, or never read.
    date_modified: datetime | None = _dt(nullable=True)


class AuditEntry(SQLModel, table=True):
    """Append-only: every write to either platform, and every decision not to write."""

    __tablename__ = "audit_log"
    # By order: an order's timeline. By action: the counts of status, /metrics and the console's
    # overview, and the last failed cycle, without reading the whole log (issue 18: 100,000 rows).
    __table_args__ = (Index("ix_audit_pair_order", "pair", "bc_order_id", "id"),
                      Index("ix_audit_pair_action", "pair", "platform", "action", "id"))
    pair: str = _pair(key=False)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _dt(nullable=False)
    platform: str  # xseries | bigcommerce | connector
    action: str  # e.g. create_sale, void_sale, create_product, set_status, skip_protected
    bc_order_id: int | None = None
    target_id: str | None = None
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    before: str | None = None
    after: str | None = None
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class RefundBinding(SQLModel, table=True):
    """A BigCommerce refund → the X-Series return that mirrors it, or why none was written.

    Like a sale: committed pending before the return is sent, so a lost answer is looked up by the
    return's invoice number before anything is written again."""

    __tablename__ = "refund_binding"
    pair: str = _pair()
    refund_id: int = Field(primary_key=True)
    bc_order_id: int = Field(index=True)
    invoice_number: str  # BC-<order>-R<refund id>
    return_sale_id: str | None = None
    pending: bool = False  # a return write may be in flight
    # returned | recorded (no closed sale to return from: mirrored if the order gets one) | exception
    # (X-Series cannot express it) | refused (X-Series refused it for good) — both for a person —
    # | retry (a person's retry-failed: due at the next refund pass) | voiding (returned, its return's
    # void posted and not recorded yet: the refund pass reads the return, return_voids.settle_void)
    outcome: str = "pending"
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The return as posted, with the ids X-Series gave its lines and payments: what voiding it
    # re-posts (§8.3) when its order's sale is voided.
    return_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False)


class OrderException(SQLModel, table=True):
    """Something a person must look at (issue 16, point 5): an edit after the sale was written, an
    order in another currency, a tender or fee without a mapping, totals that do not add up, a
    refund X-Series cannot express. Open until someone resolves it."""

    __tablename__ = "order_exception"
    __table_args__ = (Index("ix_order_exception_pair_open", "pair", "resolved_at", "bc_order_id"),)
    pair: str = _pair(key=False)
    id: int | None = Field(default=None, primary_key=True)
    bc_order_id: int
    kind: str  # edit | currency | mapping | totals | refund
    summary: str = Field(sa_column=Column(Text, nullable=False))
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
    opened_at: datetime = _dt(nullable=False)
    resolved_at: datetime | None = _dt(nullable=True)
    resolved_by: str | None = None


class CycleRun(SQLModel, table=True):
    __tablename__ = "cycle_run"
    pair: str = _pair(key=False)
    id: int | None = Field(default=None, primary_key=True)
    kind: str  # sync | import
    started_at: datetime = _dt(nullable=False)
    finished_at: datetime | None = _dt(nullable=True)
    window_start: datetime | None = _dt(nullable=True)
    window_end: datetime | None = _dt(nullable=True)
    orders_seen: int = 0
    orders_written: int = 0
    orders_failed: int = 0
    outcome: str = "running"  # running | ok | failures | error


class Lease(SQLModel, table=True):
    """A short-lived, expiring lock shared by every process on the database (order, SKU, e-mail).

    Works the same on SQLite and PostgreSQL; a holder that is killed loses it when it expires."""

    __tablename__ = "lease"
    key: str = Field(primary_key=True)
    owner: str
    expires_at: datetime = _dt(nullable=False)


class SchemaVersion(SQLModel, table=True):
    __tablename__ = "schema_version"
    version: int = Field(primary_key=True)
    description: str
    applied_at: datetime = _dt(nullable=False)
