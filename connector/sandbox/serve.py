"""`order-sync sandbox serve`: both simulators on one localhost port.

BigCommerce answers under /stores/{store_hash}/…, X-Series under /api/…, so one address is the api_url
of both; /_sandbox/ is a small control API (statuses, faults, what the POS holds). A simulated "no
answer" starts the response and drops the connection, as a real network failure would.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connector.clock import SYSTEM_CLOCK
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.bigcommerce_hooks import event
from connector.sandbox.faults import FaultConfig, SimulatedTimeout
from connector.sandbox.seed import SeedSpec, seed_store
from connector.sandbox.xseries import XSeriesSimulator


class Sandbox:
    def __init__(self, bc: BigCommerceSimulator, xs: XSeriesSimulator, seeded=None) -> None:
        self.bc = bc
        self.xs = xs
        self.seeded = seeded
        self.control = Starlette(routes=[
            Route("/_sandbox/health", self._health),
            Route("/_sandbox/summary", self._summary),
            Route("/_sandbox/faults", self._faults, methods=["POST"]),
            Route("/_sandbox/orders", self._new_order, methods=["POST"]),
            Route("/_sandbox/orders/{order_id:int}/status", self._set_status, methods=["POST"]),
            Route("/_sandbox/orders/{order_id:int}/refund", self._refund, methods=["POST"]),
        ])

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        app = (self.control if path.startswith("/_sandbox/")
               else self.bc.app if path.startswith("/stores/") else self.xs.app)
        started = False

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await app(scope, receive, tracking_send)
        except SimulatedTimeout:
            if not started:
                # Promise a body and never send it: uvicorn drops the connection.
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")]})
            raise

    async def _health(self, request: Request) -> JSONResponse:
        returns = sum(1 for s in self.xs.sales.values() if s["return_for"])
        return JSONResponse({"ok": True, "orders": len(self.bc.orders), "sales": len(self.xs.sales) - returns,
                             "returns": returns})

    async def _summary(self, request: Request) -> JSONResponse:
        sales = list(self.xs.sales.values())
        return JSONResponse({
            "orders": {str(i): o["status_id"] for i, o in self.bc.orders.items()},
            "sales": [{"id": s["id"], "source_id": s.get("source_id"), "status": s.get("status"),
                       "invoice_number": s.get("invoice_number"), "return_for": s["return_for"]} for s in sales],
            "sales_per_source_id": Counter(str(s.get("source_id")) for s in sales),
            "stock": {pid: str(self.xs.stock(pid)) for pid in self.xs.products},
            "initial_stock": dict(self.seeded.initial_stock) if self.seeded else {},
            "faults_injected": {"bigcommerce": self.bc.faults.injected, "xseries": self.xs.faults.injected},
        })

    async def _faults(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body() or b"{}")
        for name, sim in (("bigcommerce", self.bc), ("xseries", self.xs)):
            if name in body:
                sim.faults.reconfigure(FaultConfig(**body[name]))
        return JSONResponse({"ok": True})

    async def _new_order(self, request: Request) -> JSONResponse:
        """A shopper places an order again: {"like": ORDER_ID, "status_id"?: 11} copies that order's
        lines and customer. Answers {"id", "webhook"}: the store/order/created event BigCommerce
        would POST for it (the sandbox delivers nothing itself; the caller does, signed or not)."""
        body = json.loads(await request.body() or b"{}")
        source = self.bc.order(int(body["like"]))
        price = "price_inc_tax" if self.bc.tax_inclusive else "price_ex_tax"
        lines = [{"product_id": p["product_id"], "variant_id": p["variant_id"], "sku": p["sku"], "name": p["name"],
                  "unit_price": Decimal(p[price]), "quantity": p["quantity"], "type": p["type"]}
                 for p in self.bc.products(source["id"])]
        address = source["billing_address"]
        customer = ({"id": source["customer_id"], **{k: address.get(k, "") for k in address if k != "form_fields"}}
                    if source["customer_id"] else None)
        order = self.bc.add_order(customer=customer, lines=lines, status_id=int(body.get("status_id", 11)))
        now = int(self.bc.clock.now().timestamp())
        return JSONResponse({"id": order["id"],
                             "webhook": event("store/order/created", self.bc.store_hash, order["id"], now)})

    async def _set_status(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body() or b"{}")
        self.bc.set_status(request.path_params["order_id"], int(body["status_id"]))
        return JSONResponse({"ok": True})

    async def _refund(self, request: Request) -> JSONResponse:
        """The merchant refunds: {"items": [RefundItem…], "payments"?: [...], "reason"?: "..."}."""
        body = json.loads(await request.body() or b"{}")
        refund = self.bc.refund(request.path_params["order_id"], body["items"], payments=body.get("payments"),
                                reason=body.get("reason", ""))
        return JSONResponse(refund)


def build_sandbox(*, orders: int, seed: int, bc_quota: int = 150, bc_window_ms: int = 30_000,
                  xs_window_seconds: float = 300.0, xs_rate_limit: int | None = None, xs_registers: int = 1,
                  history_days: float = 2.0, faults: FaultConfig | None = None) -> Sandbox:
    now = SYSTEM_CLOCK.now()
    bc = BigCommerceSimulator(clock=SYSTEM_CLOCK, quota=bc_quota, window_ms=bc_window_ms,
                              faults=faults and replace(faults))
    xs = XSeriesSimulator(clock=SYSTEM_CLOCK, window_seconds=xs_window_seconds, rate_limit=xs_rate_limit,
                          registers=xs_registers,
                          faults=faults and replace(faults, seed=faults.seed + 1))
    seeded = seed_store(bc, xs, SeedSpec(orders=orders, seed=seed, start=now - timedelta(days=history_days))) if orders else None
    return Sandbox(bc, xs, seeded)


def serve_from_args(args: argparse.Namespace) -> int:
    import uvicorn

    faults = FaultConfig(share_5xx=args.fault_5xx, share_429=args.fault_429, share_timeout=args.fault_timeout,
                         share_lost_write_response=args.fault_lost_response, seed=args.seed)
    sandbox = build_sandbox(orders=args.orders, seed=args.seed, bc_quota=args.bc_quota,
                            bc_window_ms=args.bc_window_ms, xs_window_seconds=args.xs_window_seconds,
                            xs_rate_limit=args.xs_rate_limit, xs_registers=args.xs_registers,
                            history_days=args.history_days, faults=faults)
    print(f"order-sync sandbox on http://{args.host}:{args.port}  "
          f"(BigCommerce store_hash {sandbox.bc.store_hash}, token {sandbox.bc.access_token}; "
          f"X-Series token {sandbox.xs.token})", flush=True)
    uvicorn.run(sandbox, host=args.host, port=args.port, log_level="warning")
    return 0
