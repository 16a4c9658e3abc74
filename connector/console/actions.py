"""Failed orders and exceptions: the lists with their reasons, and the two buttons — "retry now"
(as `retry-failed --order`) and "resolve" (as `exceptions --resolve`) — each audited with who
pressed it, so it shows on the order's timeline."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from connector.console.access import local_target
from connector.console.orders import runtime_of

log = logging.getLogger("connector.console")


def _started(console) -> list[tuple[str, object]]:
    return [(pair, console.runtimes[pair]) for pair in console.pairs() if pair in console.runtimes]


async def failed_page(console, request: Request) -> Response:
    rows = [(pair, f) for pair, runtime in _started(console)
            for f in await run_in_threadpool(runtime.store.failures)]
    return console.render(request, "failed.html", rows=rows)


async def exceptions_page(console, request: Request) -> Response:
    rows = [(pair, x) for pair, runtime in _started(console)
            for x in await run_in_threadpool(runtime.store.exceptions)]
    return console.render(request, "exceptions.html", rows=rows)


def _retry(store, order_id: int, user: str) -> int:
    return store.request_retry(order_id, by=user, via="console")


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
