"""The copy of an order a mirror acts on, under the order's lease: never one older than what its
binding was written from.

Why: a copy of an order can sit in hand for minutes before it is mirrored (a cycle's page of 250 orders
paced at X-Series' rate, an import's page, another process's), and meanwhile a webhook's job or another
process may mirror a newer copy. Acting on the older one undoes the newer decision: a cancelled order's
VOIDED sale, followed by the page's Awaiting Fulfillment copy, made a second, CLOSED sale (a re-open).

The binding records the date_modified of the copy it was last written from (bc_date_modified). Read
under the lease, it is the newest decision; the copy in hand is compared with it:
- modified after it: the copy is newer, acted on as it is (the common path: no call, no query);
- modified before it: the copy is out of date. It is read again rather than skipped: the binding's
  newest copy was mirrored, but a caller may have asked for a fresh decision on purpose (reconcile
  blanks the content hash to have a drifted sale written again), and a write from that copy may have
  failed; one BigCommerce read on this rare path decides from the order as it is now;
- modified in the same second: BigCommerce's dates have whole seconds, and the binding keeps only
  the content hash of its copy, which tells that the two differ (the caller found the copy in hand
  not up to date), not which is newer. Read again too.
A copy read again that is still older than the binding's (a lagging replica) is not acted on: the
newer state was mirrored already and a later change of the order comes with a later date.
"""

from __future__ import annotations

import logging

from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.bigcommerce_models import Order
from connector.store.tables import OrderBinding

log = logging.getLogger("connector.sync")


def maybe_stale(order: Order, binding: OrderBinding | None) -> bool:
    """Whether `order` may be older than the copy `binding` was written from (not modified after it).
    For a copy already found not up to date with the binding (its content differs, or a write is pending)."""
    return binding is not None and binding.bc_date_modified is not None \
        and order.date_modified <= binding.bc_date_modified


async def latest_copy(bc: BigCommerceClient | None, order: Order, binding: OrderBinding | None) -> Order | None:
    """The copy to act on: `order` when it is newer than the binding's, else the order read again;
    None when no copy newer than the binding's is to be had (nothing to do: the newer one was mirrored)."""
    if not maybe_stale(order, binding):
        return order
    assert binding is not None
    if bc is None:  # nothing to read it again with: only a copy as new as the binding's is acted on
        return order if order.date_modified == binding.bc_date_modified else None
    fresh = await bc.get_order(order.id)
    log.info("order %s: the copy in hand (modified %s) is not newer than the one last mirrored (%s): read again,"
             " modified %s", order.id, order.date_modified.isoformat(), binding.bc_date_modified.isoformat(),
             fresh.date_modified.isoformat(), extra={"order_id": order.id})
    return fresh if fresh.date_modified >= binding.bc_date_modified else None
