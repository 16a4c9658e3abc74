"""The order page (BigCommerce status, binding, failure, refunds held for a person, exceptions and
the audit timeline, newest first) and the search box (an order id or an invoice number)."""

from __future__ import annotations

import asyncio
import re

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from connector.console import queries
from connector.errors import ApiError, NotFoundError
from connector.idv.commands import format_entry
from connector.server.ops import STARTING

# Longer than this and the page says BigCommerce could not be reached (the client retries 5xx).
BC_TIMEOUT_SECONDS = 5.0


def runtime_of(console, pair: str):
    runtime = console.runtimes.get(pair)
    if runtime is None:
        if pair in console.pairs():
            raise HTTPException(503, f"pair {pair}: {STARTING}")
        raise HTTPException(404, f"no store pair {pair!r}")
    return runtime


async def bigcommerce_status(runtime, order_id: int) -> tuple[str | None, str | None]:
    """(the order's status on BigCommerce, or why it is not shown)."""
    try:
        order = await asyncio.wait_for(runtime.bc.get_order(order_id), BC_TIMEOUT_SECONDS)
    except NotFoundError:
        return None, "BigCommerce has no such order"
    except (ApiError, asyncio.TimeoutError) as exc:
        return None, f"BigCommerce could not be reached ({type(exc).__name__})"
    return f"{order.status_id} {order.status}", None


def timeline(store, order_id: int) -> list[dict]:
    """Every audit entry of the order, newest first, in `order-sync audit`'s words."""
    rows = []
    for entry in reversed(store.audit_entries(order_id)):
        # format_entry's text after its time and order columns, and the platform and action the
        # page has columns for.
        text = format_entry(entry).split("  ", 2)[-1].removeprefix(f"{entry.platform} {entry.action}")
        rows.append({"at": entry.at, "platform": entry.platform, "action": entry.action,
                     "text": text.lstrip(" ;")})
    return rows


def order_records(store, order_id: int) -> dict:
    return {"binding": store.order_binding(order_id), "failure": queries.failure_of(store, order_id),
            "exceptions": queries.exceptions_of(store, order_id),
            "held_refunds": queries.held_refunds_of(store, [order_id]), "timeline": timeline(store, order_id)}


async def order_page(console, request: Request) -> Response:
    pair, order_id = request.path_params["pair"], request.path_params["order_id"]
    runtime = runtime_of(console, pair)
    status, status_problem = await bigcommerce_status(runtime, order_id)
    records = await run_in_threadpool(order_records, runtime.store, order_id)
    return console.render(request, "order.html", pair=pair, order_id=order_id, bc_status=status,
                          bc_problem=status_problem, **records)


_ORDER_ID = re.compile(r"\d{1,18}")  # a 64-bit integer, as the tables' ids are


def orders_matching(store, query: str, affixes: tuple[str, str]) -> list[tuple[int, str | None]]:
    """The pair's orders the query names: (order id, None) for the order of that id, (order id,
    invoice number) for the order whose sale or return has it. A number can be both: on a server that
    numbers sales itself, invoice 101 may be order 100's sale, and order 101 another."""
    found: list[tuple[int, str | None]] = []
    if _ORDER_ID.fullmatch(query) and queries.known_order(store, int(query)):
        found.append((int(query), None))
    by_invoice = queries.order_by_invoice(store, query, affixes)
    if by_invoice is not None and (by_invoice, None) not in found and queries.known_order(store, by_invoice):
        found.append((by_invoice, query))
    return found


async def search(console, request: Request) -> Response:
    query = (request.query_params.get("q") or "").strip()
    found: list[tuple[str, int, str | None]] = []
    if query:
        for pair in console.pairs():
            runtime = console.runtimes.get(pair)
            if runtime is None:
                continue
            matches = await run_in_threadpool(orders_matching, runtime.store, query, runtime.refs.invoice_affixes)
            found += [(pair, order_id, invoice) for order_id, invoice in matches]
        # An order id the store has no record of yet may still be on BigCommerce: with one pair, show it.
        if not found and _ORDER_ID.fullmatch(query) and len(console.runtimes) == 1:
            found = [(next(iter(console.runtimes)), int(query), None)]
    if len(found) == 1:
        pair, order_id, _ = found[0]
        return RedirectResponse(f"/pairs/{pair}/orders/{order_id}", status_code=303)
    # None, or more than one: each said, for the person to choose (never one of them silently).
    return console.render(request, "search.html", query=query, found=found)
