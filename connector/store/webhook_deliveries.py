"""Webhook deliveries accepted, so an event delivered again or a replayed body is not taken twice."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from connector.store.tables import _dt, _pair


class BcWebhookDelivery(SQLModel, table=True):
    """Each BigCommerce webhook event accepted: the same event delivered again defers nothing.

    An event is its scope, `hash`, `created_at` and order, not its hash alone: the reference's own
    samples give the created, updated and archived events one hash (and every order one), and two
    updates of an order a hash made of the order alone would share. Taking two events for one only
    delays an order until the next poll; taking one for two would cost a duplicate job, which
    mirrors nothing twice."""

    __tablename__ = "bc_webhook_delivery"
    pair: str = _pair()  # each store's events are its own: two stores may send the same hash
    scope: str = Field(primary_key=True)
    hash: str = Field(primary_key=True)
    # The event's own time (Unix seconds; 0 for rows from before it was kept: an event without one is not kept).
    created_at: int = Field(default=0, primary_key=True, sa_column_kwargs={"server_default": "0"})
    bc_order_id: int = Field(primary_key=True)
    received_at: datetime = _dt(nullable=False)



class IdvWebhookDelivery(SQLModel, table=True):
    """Signatures of webhook bodies accepted within the replay window: a replayed body is refused."""

    __tablename__ = "idv_webhook_delivery"
    # Each pair's deliveries are its own: two stores' senders may sign the same body (same order id,
    # check id and time), and one pair's event must not be refused as a replay of another's.
    pair: str = _pair()
    digest: str = Field(primary_key=True)  # hex SHA-256 of the raw body (accepted, so signed)
    received_at: datetime = _dt(nullable=False)
