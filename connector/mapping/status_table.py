"""The order-status table: BigCommerce status → the POS state of the order's sale.

POS states and how each is written to X-Series (POST /api/register_sales, reference §8.1):
- not_imported: no sale (yet).
- closed: a finalised sale. Paid orders: status CLOSED / state closed with their payment. Unpaid
  orders (see `unpaid` below): status ONACCOUNT / state pending + attribute onaccount with no
  payment — the balance lands on the customer's account, and X-Series moves stock for ONACCOUNT
  sales as for CLOSED ones (reference §8.1, §11). Whether a CLOSED sale may carry payments below
  its total is unverified, so we never rely on it.
- voided: the sale re-posted as VOIDED: its lines return to stock and its payments are deleted.

Transitions (connector.sync): not_imported → closed|voided creates the sale (an order voided before
it was ever mirrored gets a VOIDED sale: no net stock movement); closed → voided re-posts it voided;
a voided sale is final, and an order re-opened after it (back to a pre-shipment status, never
Refunded or Disputed) gets a new sale (BC-<id>-2); anything else
within or back to a state writes nothing to the POS and is recorded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from connector.errors import ConfigError
from connector.mapping.statuses import SYSTEM_NAMES, status_id_from_name
from connector.yamlfile import LocatedYaml, load_yaml


UNPAID_KEYS = ("statuses", "payment_statuses")
# BigCommerce's payment_status values (bigcommerce-api.md), '' among them (no payment recorded). A
# misspelt one would match no order: the unpaid orders it meant would be written CLOSED, as paid.
PAYMENT_STATUSES = ("authorized", "captured", "capture pending", "declined", "held for review", "paid",
                    "partially refunded", "pending", "refunded", "void", "void pending", "")


class PosState(str, enum.Enum):
    NOT_IMPORTED = "not_imported"
    CLOSED = "closed"
    VOIDED = "voided"


@dataclass(frozen=True)
class StatusTable:
    states: dict[int, PosState]
    unpaid_status_ids: frozenset[int]
    unpaid_payment_statuses: frozenset[str]
    source: str = "<built-in>"

    def pos_state(self, status_id: int) -> PosState | None:
        """The POS state of a status, None for a status id the table does not know."""
        return self.states.get(status_id)

    def is_unpaid(self, status_id: int, payment_status: str | None) -> bool:
        return status_id in self.unpaid_status_ids or (
            (payment_status or "").strip().casefold() in self.unpaid_payment_statuses
        )

    @classmethod
    def load(cls, path: Path) -> "StatusTable":
        doc = load_yaml(path)
        data = doc.data
        if not isinstance(data, dict) or not isinstance(data.get("statuses"), dict):
            raise ConfigError(f"{doc.where(())}: expected a 'statuses:' mapping of BigCommerce status → POS state")
        doc.mapping("a 'statuses:' mapping", ("statuses", "unpaid"))
        states: dict[int, PosState] = {}
        where_mapped: dict[int, str] = {}
        for key, value in data["statuses"].items():
            where = doc.where(("statuses", key))
            status_id = status_id_from_name(key)
            if status_id is None:
                raise ConfigError(
                    f"{where}: unknown BigCommerce status {key!r}; use an id 0–14 or one of: "
                    + ", ".join(SYSTEM_NAMES.values())
                )
            if status_id in states:
                raise ConfigError(
                    f"{where}: status {status_id} ({SYSTEM_NAMES[status_id]}) is mapped twice"
                    f" (also at {where_mapped[status_id]})"
                )
            try:
                states[status_id] = PosState(str(value).strip().lower())
            except ValueError:
                raise ConfigError(
                    f"{where}: {value!r} is not a POS state; use not_imported, closed or voided"
                ) from None
            where_mapped[status_id] = where
        missing = sorted(set(SYSTEM_NAMES) - set(states))
        if missing:
            raise ConfigError(
                f"{doc.where(('statuses',))}: statuses without a POS state: "
                + ", ".join(f"{i} ({SYSTEM_NAMES[i]})" for i in missing)
            )
        unpaid = {} if data.get("unpaid") is None else doc.mapping(
            "a mapping with statuses and payment_statuses", UNPAID_KEYS, ("unpaid",))
        unpaid_ids = set()
        for i, item in enumerate(_listed(doc, unpaid, "statuses")):
            status_id = status_id_from_name(item)
            if status_id is None:
                raise ConfigError(f"{doc.where(('unpaid', 'statuses', i))}: unknown BigCommerce status {item!r}")
            unpaid_ids.add(status_id)
        payment_statuses = set()
        for i, item in enumerate(_listed(doc, unpaid, "payment_statuses")):
            if not isinstance(item, str) or item.strip().casefold() not in PAYMENT_STATUSES:
                raise ConfigError(f"{doc.where(('unpaid', 'payment_statuses', i))}: {item!r} is not a BigCommerce"
                                  " payment status; use one of: " + ", ".join(s or '""' for s in PAYMENT_STATUSES))
            payment_statuses.add(item.strip().casefold())
        return cls(states, frozenset(unpaid_ids), frozenset(payment_statuses), source=str(path))


def _listed(doc: LocatedYaml, unpaid: dict, key: str) -> list:
    """unpaid.<key> as a list (absent: none). A scalar is refused, not read letter by letter."""
    value = unpaid.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{doc.where(('unpaid', key))}: unpaid.{key} must be a list, e.g. [{value}]")
    return value
