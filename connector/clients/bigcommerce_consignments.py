"""How an order's line items and shipping addresses are read from its embedded consignments."""

from __future__ import annotations

from typing import Any

from connector.clients.bigcommerce_order_parts import ConsignmentKind, ShippingAddress
from connector.values import whole_number

_CONSIGNMENT_LISTS: tuple[tuple[str, ConsignmentKind], ...] = (
    ("shipping", "shipping"),
    ("pickups", "pickup"),
    ("downloads", "download"),
)


def consignment_lines(consignments: Any, items_total: Any = None) -> list[tuple[ConsignmentKind, dict[str, Any]]] | None:
    """The line items embedded in an order's consignments (O2 `orderConsignment_Get`), in order.

    Returns None when the consignments do not hold the order's line items: the lines must then be
    fetched from /orders/{id}/products. That is a link object `{url, resource}`, line items given as
    links or left out, consignments holding no line item at all (`{}`, or every list empty: no
    property of orderConsignment_Get is required, so that is "not embedded", not "no lines"), or
    lines whose quantities do not add up to the order's `items_total` (a partial embed).
    Accepts the object structure and the older array of such objects. A line that appears in two
    consignments is kept once.
    """
    if consignments is None:
        return None
    groups = consignments if isinstance(consignments, list) else [consignments]
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
    lines = list(by_id.values())
    if not lines or not _adds_up(lines, items_total):
        return None
    return lines


def _adds_up(lines: list[tuple[ConsignmentKind, dict[str, Any]]], items_total: Any) -> bool:
    """Whether the embedded lines can be the whole order, by its `items_total`.

    O2 says only "the total number of items in the order" (order_Shared, and the same of each
    shipping consignment beside its line_items); reference §3 "item counts". Read as units, the sum
    of the lines' quantities. Whether it counts units or lines, a pick list's child lines
    (parent_order_product_id) or gift certificates is not documented: all lines are summed, and any
    difference reads /products, the order's own list. So a wrong reading costs one call, never a
    line. Without a usable items_total, or with a quantity that is not a whole number (the model
    then names that line), the embed is taken as it is.
    """
    total = whole_number(items_total)
    quantities = [whole_number(line.get("quantity")) for _, line in lines]
    if total is None or any(q is None or q < 0 for q in quantities):
        return True
    return sum(quantities) == total  # type: ignore[arg-type]


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

