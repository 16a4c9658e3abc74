"""Sales in the X-Series simulator: the 0.9 `POST /api/register_sales` write (reads: xseries_sale_views).

Rules of shared/reference/xseries-api.md §8 and §11: the body is the complete sale (lines and
payments not posted are deleted); products, taxes and payment types must exist (422); a closed sale's
payments may not exceed its total; totals are exact sums of the posted unit amounts; `status` and/or
`state` + `register_sale_attributes` must agree; a closed sale may only become VOIDED, a voided one
never changes; closing (and ONACCOUNT) takes stock-tracked products out of the register's outlet,
voiding puts them back and deletes the payments. Stored sales hold Decimal money and UTC datetimes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connector.sandbox.xseries_refusals import bad_request, not_found, optional_str, parse_date, parse_number, unprocessable
from connector.sandbox.xseries_sale_status import (
    CLOSED_STATUSES,
    LINE_STATUSES,
    NAMES_20_TO_09,
    NEEDS_CUSTOMER_STATUSES,
    RETURNABLE_STATUSES,
    STOCK_MOVING_STATUSES,
    resolve_status,
)
from connector.values import cents

if TYPE_CHECKING:  # pragma: no cover
    from connector.sandbox.xseries import XSeriesSimulator


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


def write_register_sale(sim: XSeriesSimulator, body: Any) -> dict[str, Any]:
    """Create or update a sale from a 0.9 register_sales body; return the stored sale. Nothing is
    changed unless the whole body is accepted (validation happens before any mutation)."""
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    for name_20, name_09 in NAMES_20_TO_09.items():
        # §8.3: a 0.9 body does not read the 2.0 name; live, those lines / payments / attributes
        # would be lost without a word, so the simulator makes the mistake visible.
        if name_20 in body:
            raise bad_request(f"{name_20} is the 2.0 name; the 0.9 body takes {name_09}")
    now = sim.clock.now()

    sale_id = None if sim.ignores_sale_ids else optional_str(body, "id")
    previous = sim.sales.get(sale_id) if sale_id is not None else None
    if sale_id is not None and previous is None:
        # [I] The reference does not say what 0.9 does with an unknown id; refusing is the
        # signal a connector needs (it must never silently create a second sale).
        raise not_found(f"sale {sale_id} not found")

    status, state, attributes = resolve_status(body, previous, sim.status_names_attributes)

    if previous is not None:
        old = previous["status"]
        if old == "VOIDED":
            if status == "VOIDED" and not sim.refuses_second_void:
                # Re-posting the void of a voided sale changes nothing: answer with the sale as it
                # is, so a client that lost the first answer can safely repeat the call [I].
                return previous
            raise unprocessable(f"sale {sale_id} is VOIDED and cannot be changed")
        if old in CLOSED_STATUSES and status != "VOIDED":
            raise unprocessable(f"sale {sale_id} is {old}; a closed sale can only be voided")

    register_id = _known(sim.registers, _required(body, "register_id", previous), "register")
    if sim.sales_need_open_register and not sim.registers[register_id]["is_open"]:
        raise unprocessable(f"register {register_id} is closed; open it to take sales")
    user_id = _known(sim.users, _required(body, "user_id", previous), "user")
    customer_id = _kept(body, "customer_id", previous)
    if customer_id is not None:
        _known(sim.customers, customer_id, "customer")
    if status in NEEDS_CUSTOMER_STATUSES and customer_id is None:
        raise unprocessable(f"a {status} sale needs a customer_id")
    # A return names the completed sale it returns (the 2.0 return action's rule, spec initReturnSale).
    if "return_for" in body and not sim.accepts_return_for:
        raise bad_request("unknown field: return_for")
    return_for = _kept(body, "return_for", previous)
    if return_for is not None and (sim.sales.get(return_for) or {}).get("status") not in RETURNABLE_STATUSES:
        raise unprocessable(f"return_for {return_for} is not a completed sale")

    if previous is not None and status == "VOIDED":
        # Voiding returns the sale's own lines to stock, whatever the re-posted body lists.
        lines = [dict(line) for line in previous["line_items"]]
        payments: list[dict[str, Any]] = []  # §8.1: voiding deletes all payments
    else:
        lines = _parse_lines(sim, body, register_id, previous)
        payments = _parse_payments(sim, body, register_id, now, previous)

    totals = compute_totals(lines)
    paid = sum((p["amount"] for p in payments), Decimal(0))
    due = cents(totals["total_price"] + totals["total_tax"])
    # A return's total and refunds are negative: its refund may be less than its value, not more, and
    # never money taken in (a positive payment on a return is a sign lost somewhere).
    if status in CLOSED_STATUSES and (not due <= cents(paid) <= 0 if due < 0 else cents(paid) > due):
        raise unprocessable(f"a {status} sale's payments {cents(paid)} exceed its total {due} or have its opposite sign")
    if sim.closed_requires_full_payment and status in CLOSED_STATUSES and cents(paid) < due:
        raise unprocessable(f"a {status} sale must be fully paid: payments {cents(paid)} < total {due}")

    source_id = _kept(body, "source_id", previous)
    if previous is None and sim.reject_duplicate_source_id and source_id is not None:
        if sim.sales_for_source_id(source_id):
            raise unprocessable(f"a sale with source_id {source_id} already exists")

    invoice_number = optional_str(body, "invoice_number")
    if invoice_number is not None and sim.invoice_numbers_need_affixes:
        register = sim.registers[register_id]
        if not (invoice_number.startswith(register["invoice_prefix"])
                and invoice_number.endswith(register["invoice_suffix"])):
            raise unprocessable(f"invoice_number {invoice_number} does not use the register's prefix/suffix")
    sale_date = parse_date(body.get("sale_date"), "sale_date", previous["sale_date"] if previous else now)
    texts = {key: _kept(body, key, previous) for key in ("note", "source", "accounts_transaction_id")}
    short_code = optional_str(body, "short_code")  # type check before anything is changed

    # ---- accepted: apply -----------------------------------------------------------------------
    sale = previous or {
        "id": sim.new_id(),
        "created_at": now,
        "short_code": short_code or sim.new_short_code(),
        "return_for": None,
        "deleted_at": None,
        "invoice_number": None,
        "invoice_sequence": 0,
    }
    sale.update(
        register_id=register_id,
        outlet_id=sim.registers[register_id]["outlet_id"],
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
        return_for=return_for,
        **texts,
        **totals,
    )
    sale["source"] = sale["source"] or "USER"
    if invoice_number is not None or sale["invoice_number"] is None:
        sale["invoice_number"], sale["invoice_sequence"] = sim.invoice_number(register_id, invoice_number)

    sim.apply_sale_stock(sale)
    sim.apply_sale_balance(sale, total_incl=totals["total_price"] + totals["total_tax"], paid=paid)
    sale["version"] = sim.bump_version()
    if previous is None:
        sim.sales[sale["id"]] = sale
    return sale


def _required(body: dict[str, Any], key: str, previous: dict[str, Any] | None) -> str:
    """A string field a new sale must have; an update may leave it out to keep the sale's."""
    value = optional_str(body, key) or (previous[key] if previous else None)
    if value is None:
        raise bad_request(f"{key} is required")
    return value


def _kept(body: dict[str, Any], key: str, previous: dict[str, Any] | None) -> str | None:
    """A string field of the body; left out, the sale's current value (None for a new sale)."""
    if key in body:
        return optional_str(body, key)
    return previous[key] if previous else None


def _posted(body: dict[str, Any], key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The objects of the posted list `key` (absent or null: none), each with where it sits."""
    raw = body.get(key)
    if raw is not None and not isinstance(raw, list):
        raise bad_request(f"{key} must be a list")
    for index, item in enumerate(raw or []):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be an object")
        yield where, item


def _known(store: dict[str, Any], value: Any, what: str) -> str:
    """An id that must name an existing object: 422 when it does not."""
    if not isinstance(value, str) or value not in store:
        raise unprocessable(f"{what} {value} not found")
    return value


def _kept_id(sim: XSeriesSimulator, item: dict[str, Any], old_ids: set[str]) -> str:
    # Posting an existing line's (or payment's) id keeps it; anything else is a new one (§8.3).
    posted = item.get("id")
    return posted if isinstance(posted, str) and posted in old_ids else sim.new_id()


def _parse_lines(sim: XSeriesSimulator, body: dict[str, Any], register_id: str,
                 previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    old_ids = {line["id"] for line in previous["line_items"]} if previous else set()
    lines = []
    for index, (where, item) in enumerate(_posted(body, "register_sale_products")):
        for key in ("product_id", "quantity", "price", "tax", "tax_id"):
            if item.get(key) is None:
                raise bad_request(f"{where}.{key} is required")
        product_id = _known(sim.products, item["product_id"], f"{where}: product")
        tax_id = _known(sim.taxes, item["tax_id"], f"{where}: tax")
        status = item.get("status") or "CONFIRMED"
        if status not in LINE_STATUSES:
            raise bad_request(f"{where}.status must be one of {sorted(LINE_STATUSES)}")
        lines.append({
            "id": _kept_id(sim, item, old_ids),
            "product_id": product_id,
            "register_id": item.get("register_id") or register_id,
            "sequence": _sequence(item.get("sequence"), index),
            **{key: parse_number(item.get(key, 0), f"{where}.{key}")
               for key in ("quantity", "price", "tax", "cost", "discount", "loyalty_value")},
            "tax_id": tax_id,
            "price_set": _flag(item.get("price_set"), f"{where}.price_set"),
            "status": status,
            "note": item.get("note") if isinstance(item.get("note"), str) else None,
        })
        if sim.line_price_includes_tax and not sim.tax_exclusive:
            lines[-1]["price"] -= lines[-1]["tax"]
    return lines


def _parse_payments(sim: XSeriesSimulator, body: dict[str, Any], register_id: str, now: datetime,
                    previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    old_ids = {p["id"] for p in previous["payments"]} if previous else set()
    payments = []
    for where, item in _posted(body, "register_sale_payments"):
        type_id = item.get("retailer_payment_type_id")
        if type_id is None:
            raise bad_request(f"{where}.retailer_payment_type_id is required")
        _known(sim.payment_types, type_id, f"{where}: payment type")
        if item.get("amount") is None:
            raise bad_request(f"{where}.amount is required")
        payments.append({
            "id": _kept_id(sim, item, old_ids),
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
    moves: Counter[tuple[str, str]] = Counter()
    for line in sale["line_items"]:
        if line["status"] != "VOIDED":
            moves[(line["product_id"], sale["outlet_id"])] += line["quantity"]
    return moves
