"""The overview: each pair's cursor, lag, last cycle, sales per POS state, failed and parked
orders, refunds held for a person, open exceptions, ID-verification totals and the quota left per API."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from connector.commands import last_failure_line
from connector.idv.commands import status_lines
from connector.server.metrics import lag_seconds


def quota_left(client) -> int | None:
    """Requests left in the API's window, as its pacer last learnt it (read as metrics.py does)."""
    pacer = client.pacer
    return getattr(pacer, "remaining", getattr(pacer, "left", None))  # X-Series / BigCommerce


def pair_summary(pair: str, runtime) -> dict:
    if runtime is None:
        return {"pair": pair, "started": False}
    store = runtime.store
    summary = store.failure_summary()
    last = store.last_cycle("sync")
    return {
        "pair": pair, "started": True, "cursor": store.cursor(), "lag": lag_seconds(store, summary),
        "last": last, "last_failure": last_failure_line(store).removeprefix("last failure: "),
        "states": sorted(store.count_bindings_by_state().items()),
        "failed": summary[0], "parked": summary[1],
        # As `status` counts them: refused by X-Series or not expressible, their exception open.
        "held_refunds": len(store.refunds_held_for_a_person()),
        "exceptions": store.count_open_exceptions(),
        "idv": status_lines(runtime.settings, store),
        "quota": [("BigCommerce", quota_left(runtime.bc)), ("X-Series", quota_left(runtime.xs))],
    }


async def overview_page(console, request: Request) -> Response:
    # The store reads block: off the event loop, which runs the sync cycles too.
    summaries = [await run_in_threadpool(pair_summary, pair, console.runtimes.get(pair))
                 for pair in console.pairs()]
    return console.render(request, "overview.html", summaries=summaries)
