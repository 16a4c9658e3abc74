"""GET /healthz, /readyz and /metrics (issue 17, point 4): a Starlette app over the pairs a process
serves. /readyz is 200 when the database answers and every pair had a successful cycle (one that
ran to its end, failed orders or not) within 3 × its interval; else 503 with the reasons as JSON.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Collection
from datetime import timedelta

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from connector.config import DEFAULT_PAIR
from connector.idv.webhook import PATH
from connector.server.metrics import PairMetrics

log = logging.getLogger("connector.server")

SUCCESSFUL = ("ok", "failures")  # a cycle with failed orders still ran: the pair is alive
# A pair not up yet may have its APIs down, or be waiting on a quota with every answer a 200.
STARTING = "still starting (waiting for its APIs to answer, or on their quota; see the log)"


def readiness(runtimes: dict, expected: list[str] = (), refused: dict | None = None) -> list[str]:
    """Why the process is not ready; empty when it is. `expected`: pairs that should be running;
    `refused`: why those whose configuration stopped them did not start."""
    reasons = [f"pair {pair}: " + (refused or {}).get(pair, STARTING) for pair in expected if pair not in runtimes]
    for pair, runtime in runtimes.items():
        store = runtime.store
        try:
            with store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure to answer is the reason
            reasons.append(f"pair {pair}: the database does not answer ({type(exc).__name__})")
            continue
        window = timedelta(seconds=3 * runtime.settings.sync.interval_seconds)
        good = [c for c in (store.last_cycle("sync", outcome=o) for o in SUCCESSFUL) if c and c.finished_at]
        newest = max(good, key=lambda c: c.finished_at, default=None)
        if newest is None or store.clock.now() - newest.finished_at > window:
            latest = store.last_cycle("sync")
            why = f"last cycle {latest.outcome} at {latest.started_at:%Y-%m-%d %H:%M:%S}Z" if latest else "no cycle yet"
            reasons.append(f"pair {pair}: no successful cycle in the last {int(window.total_seconds())} s ({why})")
    return reasons


def idv_routes(receivers: dict, starting: Collection[str] = (), pairs: Collection[str] = ()) -> list[Route]:
    """POST /webhooks/id-verification/{pair} to that pair's receiver (as they start); the old path,
    without a pair, is the only pair's when `pairs` (the configured ones) are one, whatever its
    name, else the default pair's. A pair in `starting` (configured, its APIs not answering yet)
    answers 503, so the provider delivers the event again later."""
    old_path_pair = next(iter(pairs)) if len(pairs) == 1 else DEFAULT_PAIR
    async def receive(request: Request, pair: str) -> Response:
        receiver = receivers.get(pair)
        if receiver is None:
            if pair in starting:
                return JSONResponse({"error": f"pair {pair} is starting; try again later"}, status_code=503)
            return JSONResponse({"error": "no such pair"}, status_code=404)
        return await receiver.receive(request)

    async def for_pair(request: Request) -> Response:
        return await receive(request, request.path_params["pair"])

    async def default_pair(request: Request) -> Response:
        return await receive(request, old_path_pair)

    return [Route(PATH, default_pair, methods=["POST"]), Route(PATH + "/{pair}", for_pair, methods=["POST"])]


def ops_app(runtimes: dict, metrics: PairMetrics, routes: list[Route] = (), expected: list[str] = (),
            metrics_token: SecretStr | None = None, refused: dict | None = None) -> Starlette:
    """The server's app; `routes`: more of them (the BigCommerce webhook receiver). `metrics_token`
    (server.metrics_token): the bearer token /metrics asks for; None leaves it open, and says so."""
    if metrics_token is None:
        # Made once per process start (run, serve): this is the start's one warning.
        log.warning("/metrics answers without a token (server.metrics_token is not set): keep this server on an"
                    " internal network, or set the token")

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        reasons = readiness(runtimes, expected, refused)
        return JSONResponse({"ready": not reasons, "reasons": reasons}, status_code=503 if reasons else 200)

    async def metrics_page(request: Request) -> Response:
        if metrics_token is not None and not _bearer(request, metrics_token.get_secret_value()):
            return PlainTextResponse("/metrics needs Authorization: Bearer <server.metrics_token>\n", status_code=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz),
                             Route("/metrics", metrics_page), *routes])


def _bearer(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compare_digest: how long the comparison takes tells nothing of how much of a guess matched.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
