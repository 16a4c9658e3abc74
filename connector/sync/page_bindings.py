"""The order bindings of a page of orders, read in one statement before its orders start.

Why: the look at an order's binding before taking its lease (is it up to date already?) was one
statement per order; a page of 250 orders is read in one. The snapshot is only a shortcut past the
lease: the decision reads the binding again under the lease, and a binding that was up to date with
an order's content stays so for that content (a later write is for a newer one).
"""

from __future__ import annotations

from collections.abc import Iterable

from connector.store.repository import Store
from connector.store.tables import OrderBinding


class PageBindings:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._read: dict[int, OrderBinding | None] = {}

    def read(self, order_ids: Iterable[int]) -> None:
        """Read these orders' bindings now (an order without one is known to have none)."""
        ids = list(order_ids)
        found = self.store.order_bindings(ids)
        self._read.update({order_id: found.get(order_id) for order_id in ids})

    def take(self, order_id: int) -> tuple[bool, OrderBinding | None]:
        """(whether the order's binding was read, the binding): each read serves one mirror only,
        so a second mirror of the order (the failed queue, a later page) reads afresh."""
        if order_id in self._read:
            return True, self._read.pop(order_id)
        return False, None

    def forget(self) -> None:
        """Drop what was read for orders not mirrored (skipped, or stopped before they started)."""
        self._read.clear()
