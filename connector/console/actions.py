"""Failed orders and exceptions: the lists with their reasons, and the two buttons — "retry now"
(as `retry-failed --order`) and "resolve" (as `exceptions --resolve`) — each audited with who
pressed it, so it shows on the order's timeline.

The lists come PAGE_SIZE rows at a time (a store may hold thousands): pair after pair in the
configuration's order, within a pair by order id (failed) or exception id, each page read with a
LIMIT after the last row of the one before — `?after=PAIR:KEY`, a cursor, not an offset, so a row
retried or resolved meanwhile shifts no other."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from connector.console import queries
from connector.console.access import local_target
from connector.console.orders import runtime_of

log = logging.getLogger("connector.console")

PAGE_SIZE = 50


def _cursor(console, request: Request) -> tuple[str, int] | None:
    """The page's `after=PAIR:KEY`: None for the first page; a 400 for what no link of ours gives
    (a key that is no 64-bit integer would be a database error, a 500)."""
    value = request.query_params.get("after")
    if not value:
        return None
    pair, _, key = value.rpartition(":")
    if pair not in console.pairs() or not (key.isascii() and key.isdigit() and len(key) <= 18):
        raise HTTPException(400, "not a page of this list: start again from its first page")
    return pair, int(key)


def _page_url(path: str, pair: str, key: int) -> str:
    return f"{path}?{urlencode({'after': f'{pair}:{key}'}, safe=':')}"


async def _list_page(console, request: Request, template: str,
                     read: Callable[[object, int | None, int], list], key: Callable[[object], int]) -> Response:
    """One page of a list over the pairs. `read(store, after, limit)`: up to `limit` of a pair's rows
    after the key `after` (None: from its first), in key order; `key(row)`: a row's key. One row more
    than the page is read, to know whether there is a next page."""
    cursor = _cursor(console, request)
    pairs = console.pairs()
    rows: list[tuple[str, object]] = []
    for pair in pairs[pairs.index(cursor[0]) if cursor else 0:]:
        runtime = console.runtimes.get(pair)
        if runtime is None:  # not started: its store is not open (the overview says so)
            continue
        after = cursor[1] if cursor and pair == cursor[0] else None
        found = await run_in_threadpool(read, runtime.store, after, PAGE_SIZE + 1 - len(rows))
        rows += [(pair, row) for row in found]
        if len(rows) > PAGE_SIZE:
            break
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    path = request.url.path
    next_url = _page_url(path, rows[-1][0], key(rows[-1][1])) if more else None
    # The buttons' forms come back to this page, not to the first.
    here = _page_url(path, *cursor) if cursor else path
    return console.render(request, template, rows=rows, next_url=next_url, first_url=path if cursor else None,
                          here=here)


async def failed_page(console, request: Request) -> Response:
    return await _list_page(console, request, "failed.html",
                            lambda store, after, limit: store.failures(after=after, limit=limit),
                            lambda f: f.bc_order_id)


async def exceptions_page(console, request: Request) -> Response:
    # Each with whether its refund is held for a person: that row has a "retry now" too.
    return await _list_page(console, request, "exceptions.html", queries.exceptions_with_held_refund,
                            lambda row: row[0].id)


def _retry(store, order_id: int, user: str) -> int:
    # The order's refunds held for a person (refused by X-Series) are retried with it.
    return (store.request_retry(order_id, by=user, via="console")
            + store.request_refund_retry(order_id, by=user, via="console"))


async def retry(console, request: Request, form) -> Response:
    pair, order_id = request.path_params["pair"], request.path_params["order_id"]
    runtime = runtime_of(console, pair)
    user = request.session["user"]
    count = await run_in_threadpool(_retry, runtime.store, order_id, user)
    log.info("console: %s asked to retry order %s of pair %s (%d failed order)", user, order_id, pair, count)
    request.session["flash"] = (f"Order {order_id} will be retried at the next cycle." if count
                                else f"Order {order_id} is not a failed order: nothing to retry.")
    return RedirectResponse(local_target(form.get("back"), f"/pairs/{pair}/orders/{order_id}"), status_code=303)


async def resolve(console, request: Request, form) -> Response:
    pair, exception_id = request.path_params["pair"], request.path_params["exception_id"]
    runtime = runtime_of(console, pair)
    user = request.session["user"]
    # resolve_exception audits it, with who, as `order-sync exceptions --resolve` does.
    row = await run_in_threadpool(lambda: runtime.store.resolve_exception(exception_id, by=user))
    log.info("console: %s resolved exception %s of pair %s", user, exception_id, pair)
    request.session["flash"] = (f"Exception {exception_id} (order {row.bc_order_id}) resolved." if row
                                else f"There is no open exception {exception_id}.")
    return RedirectResponse(local_target(form.get("back"), "/exceptions"), status_code=303)
