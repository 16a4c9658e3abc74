"""Sales in the X-Series simulator: the 0.9 `POST /api/register_sales` write and both read shapes.

Rules follow shared/reference/xseries-api.md §8 and §11:
- the body is the complete sale: lines and payments not posted are deleted (§8.3);
- every line's product and tax exist (422 naming the line); a closed sale's payments may not exceed
  its total (422); totals are exact sums of the posted unit amounts (five decimals are kept);
- `status` and/or `state` + `register_sale_attributes` are accepted and must agree (§8.1 table);
- a CLOSED (or *_CLOSED) sale may only become VOIDED; a VOIDED sale never changes again (§8.1);
- closing a sale (and ONACCOUNT, whose goods leave) takes its tracked products out of the register's
  outlet; voiding puts them back and deletes the payments (§8.1, §11); products that are not
  stock-tracked (has_inventory false: the retailer's Discount product, 0.9 track_inventory false) never move.

Where the reference marks behaviour as unverified, the simulator has a knob (see XSeriesSimulator):
reject_duplicate_source_id, closed_requires_full_payment.

Stored sales are plain dicts with Decimal money and aware-UTC datetimes; render_sale_09 and
render_sale_20 turn them into the two wire shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connector.values import cents, parse_iso8601, to_iso8601

if TYPE_CHECKING:  # pragma: no cover
    from connector.sandbox.xseries import XSeriesSimulator


class SimHttpError(Exception):
    """Raised by a handler to answer with this status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message") or body.get("error"))
        self.status = status
        self.body = body


def bad_request(message: str) -> SimHttpError:
    return SimHttpError(400, {"error": "Bad Request", "message": message})


def unprocessable(message: str) -> SimHttpError:
    return SimHttpError(422, {"error": "Unprocessable Entity", "message": message})


def not_found(message: str) -> SimHttpError:
    return SimHttpError(404, {"error": "Not Found", "message": message})


# --- status / state vocabulary (reference §8.1) -------------------------------------------------

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
# Statuses whose goods have left the store (§8.1: CLOSED and ONACCOUNT decrement inventory; every
# *_CLOSED is finished, so its goods left too). LAYBY and AWAITING_* do not move stock yet.
STOCK_MOVING_STATUSES = CLOSED_STATUSES | {"ONACCOUNT"}
# Statuses that leave a balance on the customer's account, so they need a customer [I].
NEEDS_CUSTOMER_STATUSES = frozenset({"ONACCOUNT", "LAYBY"})
LINE_STATUSES = frozenset({"SAVED", "VOIDED", "CONFIRMED"})


def resolve_status(body: dict[str, Any], previous: dict[str, Any] | None) -> tuple[str, str, list[str]]:
    """(status, state, attributes) from a posted body; both vocabularies accepted, must agree."""
    status = body.get("status")
    state = body.get("state")
    raw_attrs = body.get("register_sale_attributes")
    if raw_attrs is None:
        raw_attrs = []
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
    if state in ("parked", "voided"):
        return "SAVED" if state == "parked" else "VOIDED"
    for attr in _STATUS_PRIORITY:
        if attr in attrs:
            return _STATE_ATTR_TO_STATUS[(state, attr)]
    return _STATE_ATTR_TO_STATUS[(state, None)]


# --- parsing helpers ---------------------------------------------------------------------------

def parse_number(value: Any, field: str, error: Callable[[str], SimHttpError] = bad_request) -> Decimal:
    """A JSON number as Decimal (through str(), so 0.1 stays 0.1); anything else answers `error`
    (0.9 sales refuse with 400, 2.0 creates with 422).

    Strings are refused on purpose: the 0.9 and 2.0 APIs take money and quantities as JSON numbers
    (reference §3), so a client that sends "12.50" is caught here rather than on a live store.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{field} must be a number")
    result = Decimal(str(value))
    if not result.is_finite():
        raise error(f"{field} must be a finite number")
    return result


def parse_date(value: Any, field: str, default: datetime) -> datetime:
    """0.9 "2016-05-05 23:35:34" (UTC) or RFC 3339; None/absent → default (the server uses now)."""
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise bad_request(f"{field} must be a date string")
    try:
        return parse_iso8601(value)
    except ValueError:
        raise bad_request(f"{field} is not a valid date: {value!r}") from None


def optional_str(body: dict[str, Any], key: str, error: Callable[[str], SimHttpError] = bad_request) -> str | None:
    """A string field; absent or "" is None."""
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise error(f"{key} must be a string")
    return value


def _sequence(value: Any, default: int) -> int:
    # 0.9 examples send "sequence": "0" as a string, 2.0 reads return a number: accept both.
    if value is None:
        return default
    if isinstance(value, bool):
        raise bad_request("sequence must be a number")
    try:
        return int(str(value))
    except ValueError:
        raise bad_request(f"sequence must be a number: {value!r}") from None


def _flag(value: Any, field: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise bad_request(f"{field} must be 0/1 or a boolean")


# --- the write ---------------------------------------------------------------------------------

def write_register_sale(sim: XSeriesSimulator, body: Any) -> dict[str, Any]:
    """Create or update a sale from a 0.9 register_sales body; return the stored sale. Raises
    SimHttpError when refused.

    Nothing is changed unless the whole body is accepted (validation happens before any mutation).
    """
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    now = sim.clock.now()

    sale_id = optional_str(body, "id")
    previous = None
    if sale_id is not None:
        previous = sim.sales.get(sale_id)
        if previous is None:
            # [I] The reference does not say what 0.9 does with an unknown id; refusing is the
            # signal a connector needs (it must never silently create a second sale).
            raise not_found(f"sale {sale_id} not found")

    status, state, attributes = resolve_status(body, previous)

    if previous is not None:
        old = previous["status"]
        if old == "VOIDED":
            if status == "VOIDED":
                # Re-posting the void of a voided sale changes nothing: answer with the sale as it
                # is, so a client that lost the first answer can safely repeat the call [I].
                return previous
            raise unprocessable(f"sale {sale_id} is VOIDED and cannot be changed")
        if old in CLOSED_STATUSES and status != "VOIDED":
            raise unprocessable(f"sale {sale_id} is {old}; a closed sale can only be voided")

    register_id = optional_str(body, "register_id")
    if register_id is None:
        if previous is None:
            raise bad_request("register_id is required")
        register_id = previous["register_id"]
    register = sim.registers.get(register_id)
    if register is None:
        raise unprocessable(f"register {register_id} not found")
    user_id = optional_str(body, "user_id")
    if user_id is None:
        if previous is None:
            raise bad_request("user_id is required")
        user_id = previous["user_id"]
    if user_id not in sim.users:
        raise unprocessable(f"user {user_id} not found")

    customer_id = optional_str(body, "customer_id") if "customer_id" in body else (
        previous["customer_id"] if previous else None
    )
    if customer_id is not None and customer_id not in sim.customers:
        raise unprocessable(f"customer {customer_id} not found")
    if status in NEEDS_CUSTOMER_STATUSES and customer_id is None:
        raise unprocessable(f"a {status} sale needs a customer_id")

    if previous is not None and status == "VOIDED":
        # Voiding returns the sale's own lines to stock, whatever the re-posted body lists.
        lines = [dict(line) for line in previous["line_items"]]
        payments: list[dict[str, Any]] = []  # §8.1: voiding deletes all payments
    else:
        lines = _parse_lines(sim, body.get("register_sale_products"), register_id, previous)
        payments = _parse_payments(sim, body.get("register_sale_payments"), register_id, now, previous)

    totals = compute_totals(lines)
    paid = sum((p["amount"] for p in payments), Decimal(0))
    due = cents(totals["total_price"] + totals["total_tax"])
    if status in CLOSED_STATUSES and cents(paid) > due:
        raise unprocessable(f"a {status} sale's payments {cents(paid)} exceed its total {due}")
    if sim.closed_requires_full_payment and status in CLOSED_STATUSES and cents(paid) < due:
        raise unprocessable(f"a {status} sale must be fully paid: payments {cents(paid)} < total {due}")

    source_id = optional_str(body, "source_id") if "source_id" in body else (
        previous["source_id"] if previous else None
    )
    if previous is None and sim.reject_duplicate_source_id and source_id is not None:
        if sim.sales_for_source_id(source_id):
            raise unprocessable(f"a sale with source_id {source_id} already exists")

    invoice_number = optional_str(body, "invoice_number")
    sale_date = parse_date(body.get("sale_date"), "sale_date", previous["sale_date"] if previous else now)
    for key in ("note", "source", "short_code", "accounts_transaction_id"):
        optional_str(body, key)  # type check before anything is changed

    # ---- accepted: apply -----------------------------------------------------------------------
    if previous is None:
        sale: dict[str, Any] = {
            "id": sim.new_id(),
            "created_at": now,
            "short_code": optional_str(body, "short_code") or sim.new_short_code(),
            "return_for": None,
            "deleted_at": None,
            "invoice_number": None,
            "invoice_sequence": 0,
            "customer_id": None,
            "source": "USER",
            "source_id": None,
            "note": None,
            "accounts_transaction_id": None,
        }
    else:
        sale = previous
    sale.update(
        register_id=register_id,
        outlet_id=register["outlet_id"],
        user_id=user_id,
        customer_id=customer_id,
        status=status,
        state=state,
        attributes=attributes,
        sale_date=sale_date,
        updated_at=now,
        line_items=lines,
        payments=payments,
        source_id=source_id,
        **totals,
    )
    for key in ("note", "accounts_transaction_id"):
        if key in body:
            sale[key] = optional_str(body, key)
    if "source" in body:
        sale["source"] = optional_str(body, "source") or "USER"
    if invoice_number is not None:
        sale["invoice_number"] = invoice_number
        sale["invoice_sequence"] = sim.note_invoice_number(register_id, invoice_number)
    elif sale["invoice_number"] is None:
        sale["invoice_number"], sale["invoice_sequence"] = sim.next_invoice_number(register_id)

    sim.apply_sale_stock(sale)
    sim.apply_sale_balance(sale, total_incl=totals["total_price"] + totals["total_tax"], paid=paid)
    sale["version"] = sim.bump_version()
    if previous is None:
        sim.sales[sale["id"]] = sale
    return sale


def _parse_lines(sim: XSeriesSimulator, raw: Any, register_id: str,
                 previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("register_sale_products must be a list")
    old_ids = {line["id"] for line in previous["line_items"]} if previous else set()
    lines = []
    for index, item in enumerate(raw):
        where = f"register_sale_products[{index}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be an object")
        for key in ("product_id", "quantity", "price", "tax", "tax_id"):
            if item.get(key) is None:
                raise bad_request(f"{where}.{key} is required")
        product_id = item["product_id"]
        if not isinstance(product_id, str) or product_id not in sim.products:
            raise unprocessable(f"{where}: product {product_id} not found")
        tax_id = item["tax_id"]
        if not isinstance(tax_id, str) or tax_id not in sim.taxes:
            raise unprocessable(f"{where}: tax {tax_id} not found")
        status = item.get("status") or "CONFIRMED"
        if status not in LINE_STATUSES:
            raise bad_request(f"{where}.status must be one of {sorted(LINE_STATUSES)}")
        line_id = item.get("id")
        lines.append({
            # Posting an existing line's id keeps that line; anything else is a new line (§8.3).
            "id": line_id if isinstance(line_id, str) and line_id in old_ids else sim.new_id(),
            "product_id": product_id,
            "register_id": item.get("register_id") or register_id,
            "sequence": _sequence(item.get("sequence"), index),
            "quantity": parse_number(item["quantity"], f"{where}.quantity"),
            "price": parse_number(item["price"], f"{where}.price"),
            "tax": parse_number(item["tax"], f"{where}.tax"),
            "tax_id": tax_id,
            "cost": parse_number(item.get("cost", 0), f"{where}.cost"),
            "discount": parse_number(item.get("discount", 0), f"{where}.discount"),
            "loyalty_value": parse_number(item.get("loyalty_value", 0), f"{where}.loyalty_value"),
            "price_set": _flag(item.get("price_set"), f"{where}.price_set"),
            "status": status,
            "note": item.get("note") if isinstance(item.get("note"), str) else None,
        })
    return lines


def _parse_payments(sim: XSeriesSimulator, raw: Any, register_id: str, now: datetime,
                    previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("register_sale_payments must be a list")
    old_ids = {p["id"] for p in previous["payments"]} if previous else set()
    payments = []
    for index, item in enumerate(raw):
        where = f"register_sale_payments[{index}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be an object")
        type_id = item.get("retailer_payment_type_id")
        if type_id is None:
            raise bad_request(f"{where}.retailer_payment_type_id is required")
        if not isinstance(type_id, str) or type_id not in sim.payment_types:
            raise unprocessable(f"{where}: payment type {type_id} not found")
        if item.get("amount") is None:
            raise bad_request(f"{where}.amount is required")
        payment_id = item.get("id")
        payments.append({
            "id": payment_id if isinstance(payment_id, str) and payment_id in old_ids else sim.new_id(),
            "retailer_payment_type_id": type_id,
            "register_id": item.get("register_id") or register_id,
            "amount": parse_number(item["amount"], f"{where}.amount"),
            "payment_date": parse_date(item.get("payment_date"), f"{where}.payment_date", now),
        })
    return payments


def compute_totals(lines: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Totals from the lines (§8.2: computed server-side): ex-tax price, tax, cost. VOIDED lines
    do not count."""
    live = [line for line in lines if line["status"] != "VOIDED"]
    return {f"total_{name}": sum((line["quantity"] * line[name] for line in live), Decimal(0))
            for name in ("price", "tax", "cost")}


def stock_moves(sale: dict[str, Any]) -> dict[tuple[str, str], Decimal]:
    """What the sale should have taken out of stock, per (product_id, outlet_id), in its status."""
    if sale["status"] not in STOCK_MOVING_STATUSES:
        return {}
    moves: dict[tuple[str, str], Decimal] = {}
    for line in sale["line_items"]:
        if line["status"] == "VOIDED":
            continue
        key = (line["product_id"], sale["outlet_id"])
        moves[key] = moves.get(key, Decimal(0)) + line["quantity"]
    return moves


def invoice_sequence_of(invoice_number: str, prefix: str, suffix: str) -> int | None:
    """The numeric part of an invoice number that uses the register's prefix and suffix."""
    if not invoice_number.startswith(prefix) or not invoice_number.endswith(suffix):
        return None
    middle = invoice_number[len(prefix):len(invoice_number) - len(suffix) if suffix else None]
    return int(middle) if middle.isdigit() else None


# --- rendering ---------------------------------------------------------------------------------

def _date_09(value: datetime) -> str:
    # 0.9 sale examples use "2016-05-05 23:35:34" in UTC (reference §3).
    return to_iso8601(value).replace("T", " ")[:19]


def render_sale_09(sim: XSeriesSimulator, sale: dict[str, Any]) -> dict[str, Any]:
    """The sale inside a 0.9 `register_sale` answer (reference §8.7; the exact field set is [I])."""
    customer = sim.customers.get(sale["customer_id"]) if sale["customer_id"] else None
    user = sim.users[sale["user_id"]]
    paid = sum((p["amount"] for p in sale["payments"]), Decimal(0))
    total_incl = sale["total_price"] + sale["total_tax"]
    first_tax = sim.taxes.get(sale["line_items"][0]["tax_id"]) if sale["line_items"] else None
    return {
        "id": sale["id"],
        "source": sale["source"],
        "source_id": sale["source_id"],
        "register_id": sale["register_id"],
        "market_id": "1",
        "customer_id": sale["customer_id"],
        "customer_name": f"{customer['first_name']} {customer['last_name']}" if customer else "",
        "user_id": sale["user_id"],
        "user_name": user["username"],
        "sale_date": _date_09(sale["sale_date"]),
        "created_at": _date_09(sale["created_at"]),
        "updated_at": _date_09(sale["updated_at"]),
        "total_price": sale["total_price"],
        "total_cost": sale["total_cost"],
        "total_tax": sale["total_tax"],
        "tax_name": (first_tax or sim.taxes[sim.default_tax_id])["name"],
        "note": sale["note"] or "",
        "status": sale["status"],
        "state": sale["state"],
        "register_sale_attributes": list(sale["attributes"]),
        "short_code": sale["short_code"],
        "invoice_number": sale["invoice_number"],
        "invoice_sequence": sale["invoice_sequence"],
        "accounts_transaction_id": sale["accounts_transaction_id"] or "",
        "return_for": sale["return_for"],
        "totals": {
            "total_tax": sale["total_tax"],
            "total_price": sale["total_price"],
            "total_payment": paid,
            "total_to_pay": total_incl - paid,
        },
        "register_sale_products": [_line_09(sim, line) for line in sale["line_items"]],
        "register_sale_payments": [_payment_09(sim, p) for p in sale["payments"]],
    }


def _line_09(sim: XSeriesSimulator, line: dict[str, Any]) -> dict[str, Any]:
    product = sim.products[line["product_id"]]
    tax = sim.taxes[line["tax_id"]]
    return {
        "id": line["id"],
        "product_id": line["product_id"],
        "register_id": line["register_id"],
        "sequence": str(line["sequence"]),
        "handle": product["handle"],
        "sku": product["sku"],
        "name": product["name"],
        "quantity": line["quantity"],
        "price": line["price"],
        "cost": line["cost"],
        "price_set": int(line["price_set"]),
        "discount": line["discount"],
        "loyalty_value": line["loyalty_value"],
        "tax": line["tax"],
        "tax_id": line["tax_id"],
        "tax_name": tax["name"],
        "tax_rate": sum((rate["rate"] for rate in tax["rates"]), Decimal(0)),
        "tax_total": line["quantity"] * line["tax"],
        "price_total": line["quantity"] * line["price"],
        "display_retail_price_tax_inclusive": 0 if sim.tax_exclusive else 1,
        "status": line["status"],
        "attributes": [],
    }


def _payment_09(sim: XSeriesSimulator, payment: dict[str, Any]) -> dict[str, Any]:
    ptype = sim.payment_types[payment["retailer_payment_type_id"]]
    return {
        "id": payment["id"],
        "payment_type_id": str(ptype["type_id"]),
        "register_id": payment["register_id"],
        "retailer_payment_type_id": payment["retailer_payment_type_id"],
        "name": ptype["name"],
        "label": ptype["name"],
        "payment_date": _date_09(payment["payment_date"]),
        "amount": payment["amount"],
    }


def render_sale_20(sim: XSeriesSimulator, sale: dict[str, Any]) -> dict[str, Any]:
    """The 2.0 Sale object (spec schema Sale + the `state`/`attributes` fields of 2025-09)."""
    taxes: dict[str, dict[str, Any]] = {}
    line_items = []
    for line in sale["line_items"]:
        tax = sim.taxes[line["tax_id"]]
        rate = tax["rates"][0]
        qty = line["quantity"]
        tax_total = qty * line["tax"]
        if line["status"] != "VOIDED":
            entry = taxes.setdefault(rate["id"], {
                "id": rate["id"], "name": tax["name"], "rate": rate["rate"], "amount": Decimal(0),
            })
            entry["amount"] += tax_total
        line_items.append({
            "id": line["id"],
            "product_id": line["product_id"],
            "tax_id": line["tax_id"],
            "discount_total": qty * line["discount"],
            "discount": line["discount"],
            "price_total": qty * line["price"],
            "price": line["price"],
            "cost_total": qty * line["cost"],
            "cost": line["cost"],
            "tax_total": tax_total,
            "tax": line["tax"],
            "quantity": qty,
            "loyalty_value": line["loyalty_value"],
            "price_set": line["price_set"],
            "status": line["status"],
            "sequence": line["sequence"],
            "note": line["note"],
            "tax_components": [{"rate_id": rate["id"], "total_tax": tax_total}],
            "unit_cost": line["cost"],
            "unit_discount": line["discount"],
            "unit_loyalty_value": line["loyalty_value"],
            "unit_price": line["price"],
            "unit_tax": line["tax"],
            "total_cost": qty * line["cost"],
            "total_discount": qty * line["discount"],
            "total_loyalty_value": qty * line["loyalty_value"],
            "total_price": qty * line["price"],
            "total_tax": tax_total,
            "is_return": qty < 0,
        })
    payments = []
    for p in sale["payments"]:
        ptype = sim.payment_types[p["retailer_payment_type_id"]]
        payments.append({
            "id": p["id"],
            "register_id": p["register_id"],
            "outlet_id": sim.registers[p["register_id"]]["outlet_id"]
            if p["register_id"] in sim.registers else sale["outlet_id"],
            "retailer_payment_type_id": p["retailer_payment_type_id"],
            "payment_type_id": str(ptype["type_id"]),
            "name": ptype["name"],
            "amount": p["amount"],
            "payment_date": to_iso8601(p["payment_date"]),
            "external_attributes": [],
        })
    return {
        "id": sale["id"],
        "outlet_id": sale["outlet_id"],
        "register_id": sale["register_id"],
        "user_id": sale["user_id"],
        "customer_id": sale["customer_id"],
        "invoice_number": sale["invoice_number"],
        "invoice_sequence": sale["invoice_sequence"],
        "receipt_number": sale["invoice_number"],
        "source": sale["source"],
        "source_id": sale["source_id"],
        "status": sale["status"],
        "state": sale["state"],
        "attributes": list(sale["attributes"]),
        "note": sale["note"],
        "short_code": sale["short_code"],
        "return_for": sale["return_for"],
        "total_price": sale["total_price"],
        "total_tax": sale["total_tax"],
        "total_loyalty": Decimal(0),
        "sale_date": to_iso8601(sale["sale_date"]),
        "created_at": to_iso8601(sale["created_at"]),
        "updated_at": to_iso8601(sale["updated_at"]),
        "deleted_at": sale["deleted_at"],
        "version": sale["version"],
        "line_items": line_items,
        "payments": payments,
        "adjustments": [],
        "taxes": list(taxes.values()),
    }
