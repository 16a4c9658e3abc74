"""The X-Series sale status / state vocabulary (reference §8.1), and a posted body's status."""

from __future__ import annotations

from typing import Any

from connector.sandbox.xseries_refusals import bad_request


# legacy status → (state, attribute it implies or None); every status, state and attribute is here
STATUS_TO_STATE: dict[str, tuple[str, str | None]] = {
    "SAVED": ("parked", None),
    "OPEN": ("pending", None),
    "CLOSED": ("closed", None),
    "VOIDED": ("voided", None),
    "ONACCOUNT": ("pending", "onaccount"),
    "ONACCOUNT_CLOSED": ("closed", "onaccount"),
    "LAYBY": ("pending", "layby"),
    "LAYBY_CLOSED": ("closed", "layby"),
    "AWAITING_DISPATCH": ("pending", "delivery"),
    "DISPATCHED_CLOSED": ("closed", "delivery"),
    "AWAITING_PICKUP": ("pending", "pickup"),
    "PICKED_UP_CLOSED": ("closed", "pickup"),
    "SERVICE": ("pending", "service"),
    "SERVICE_CLOSED": ("closed", "service"),
}
STATES = frozenset(state for state, _ in STATUS_TO_STATE.values())
ATTRIBUTES = frozenset(attr for _, attr in STATUS_TO_STATE.values() if attr)
EXCLUSIVE_ATTRIBUTE_PAIRS = (("onaccount", "layby"), ("delivery", "pickup"))
# state + attributes → legacy status: the first attribute in this order that is present decides
# (payment-type attributes before fulfilment ones, so pending+[onaccount, delivery] is ONACCOUNT).
_STATUS_PRIORITY = ("onaccount", "layby", "service", "delivery", "pickup")
_STATE_ATTR_TO_STATUS = {(state, attr): status for status, (state, attr) in STATUS_TO_STATE.items()}

# A finished sale: the only move left is VOIDED.
CLOSED_STATUSES = frozenset(s for s, (state, _) in STATUS_TO_STATE.items() if state == "closed")
# What the spec's return action calls a completed sale (initReturnSale): not every *_CLOSED.
RETURNABLE_STATUSES = frozenset({"CLOSED", "ONACCOUNT_CLOSED", "LAYBY_CLOSED"})
# Statuses whose goods have left the store (§8.1: CLOSED and ONACCOUNT decrement inventory; every
# *_CLOSED is finished, so its goods left too). LAYBY and AWAITING_* do not move stock yet.
STOCK_MOVING_STATUSES = CLOSED_STATUSES | {"ONACCOUNT"}
# Statuses that leave a balance on the customer's account, so they need a customer [I].
NEEDS_CUSTOMER_STATUSES = frozenset({"ONACCOUNT", "LAYBY"})
LINE_STATUSES = frozenset({"SAVED", "VOIDED", "CONFIRMED"})
NAMES_20_TO_09 = {"line_items": "register_sale_products", "payments": "register_sale_payments",
                  "attributes": "register_sale_attributes"}


def resolve_status(body: dict[str, Any], previous: dict[str, Any] | None,
                   strict: bool = False) -> tuple[str, str, list[str]]:
    """(status, state, attributes) from a posted body; both vocabularies accepted, must agree.
    strict: a legacy status must also name every attribute sent (§8.1's table read literally:
    CLOSED is closed with no attribute, closed + delivery is DISPATCHED_CLOSED)."""
    status = body.get("status")
    state = body.get("state")
    raw_attrs = [] if body.get("register_sale_attributes") is None else body["register_sale_attributes"]
    if not isinstance(raw_attrs, list) or not all(isinstance(a, str) for a in raw_attrs):
        raise bad_request("register_sale_attributes must be a list of strings")
    unknown = [a for a in raw_attrs if a not in ATTRIBUTES]
    if unknown:
        raise bad_request(f"unknown register_sale_attributes: {', '.join(unknown)}")
    attrs = list(dict.fromkeys(raw_attrs))

    if status is None and state is None:
        if previous is None:
            raise bad_request("status or state is required")
        return previous["status"], previous["state"], list(previous["attributes"])
    if status is not None and (not isinstance(status, str) or status not in STATUS_TO_STATE):
        raise bad_request(f"unknown status: {status!r}")
    if state is not None and (not isinstance(state, str) or state not in STATES):
        raise bad_request(f"unknown state: {state!r}")

    if status is not None:
        implied_state, implied_attr = STATUS_TO_STATE[status]
        if state is not None and state != implied_state:
            raise bad_request(f"status {status} and state {state} disagree (expected {implied_state})")
        if strict and any(a != implied_attr for a in attrs):
            raise bad_request(f"status {status} and attributes {', '.join(attrs)} disagree")
        if implied_attr and implied_attr not in attrs:
            attrs.insert(0, implied_attr)
        state = implied_state
    else:
        assert state is not None
        status = _status_for(state, attrs)

    for a, b in EXCLUSIVE_ATTRIBUTE_PAIRS:
        if a in attrs and b in attrs:
            raise bad_request(f"attributes {a} and {b} cannot be combined")
    return status, state, attrs


def _status_for(state: str, attrs: list[str]) -> str:
    # parked and voided have no attribute variants: their attributes never change the status.
    for attr in _STATUS_PRIORITY:
        if attr in attrs and (state, attr) in _STATE_ATTR_TO_STATUS:
            return _STATE_ATTR_TO_STATUS[(state, attr)]
    return _STATE_ATTR_TO_STATUS[(state, None)]
