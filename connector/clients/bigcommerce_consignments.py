"""How an order's line items and shipping addresses are read from its embedded consignments."""

from __future__ import annotations

from typing import Any

from connector.clients.bigcommerce_order_parts import ConsignmentKind, ShippingAddress

_CONSIGNMENT_LISTS: tuple[tuple[str, ConsignmentKind], ...] = (
    ("shipping", "shipping"),
    ("pickups", "pickup"),
    ("downloads", "download"),
)


def consignment_lines(consignments: Any) -> list[tuple[ConsignmentKind, dict[str, Any]]] | None:
    """The line items embedded in an order's consignments (O2 `orderConsignment_Get`), in order.

    Returns None when the consignments are not embedded with their line items (a link object
    `{url, resource}`, or line items given as links or left out): the lines must then be fetched from
    /orders/{id}/products. Accepts the object structure and the older array of such objects.
    A line that appears in two consignments is kept once.
    """
    if consignments is None:
        return None
    groups = consignments if isinstance(consignments, list) else [consignments]
    if not groups:
        return None
    by_id: dict[Any, tuple[ConsignmentKind, dict[str, Any]]] = {}  # the first one of each line id
    for group in groups:
        if not isinstance(group, dict) or _is_link(group):
            return None
        found: list[tuple[ConsignmentKind, Any]] = [
            (kind, c) for key, kind in _CONSIGNMENT_LISTS for c in _as_list(group.get(key))
        ]
        email = group.get("email")
        if isinstance(email, dict):
            found += [("email", c) for c in _as_list(email.get("gift_certificates"))]
        for kind, consignment in found:
            items = _line_items(consignment)
            if items is None:
                return None
            for item in items:
                by_id.setdefault(item.get("id"), (kind, item))
    return list(by_id.values())


_ADDRESS_KEYS = tuple(ShippingAddress.model_fields)


def shipping_consignments(consignments: Any) -> list[dict[str, Any]]:
    """The embedded shipping consignments' addresses and shipping methods (only those fields: the
    lines are the order's, the costs its own); [] when not embedded."""
    groups = consignments if isinstance(consignments, list) else [consignments]
    return [
        {k: c[k] for k in _ADDRESS_KEYS if k in c}
        for group in groups if isinstance(group, dict) and not _is_link(group)
        for c in _as_list(group.get("shipping")) if isinstance(c, dict)
    ]


def _line_items(consignment: Any) -> list[dict[str, Any]] | None:
    """A consignment's embedded line items; None if they are only links, or left out (the spec
    requires no property of a consignment: `include=consignments` alone may omit them)."""
    if not isinstance(consignment, dict):
        return []
    if consignment.get("line_items") is None:
        return None
    items = _as_list(consignment["line_items"])
    if any(not isinstance(item, dict) or _is_link(item) for item in items):
        return None
    return items


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _is_link(value: dict[str, Any]) -> bool:
    return "resource" in value and "id" not in value

