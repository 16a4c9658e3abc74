"""Settings, read-only: each pair's status table, payment-type, tax and special-line mappings, and
its ID-verification stages and protected statuses as the store names them (custom labels), with a
warning when Shipped, Cancelled or Refunded is not protected."""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import Response

from connector.errors import ApiError, ConfigError
from connector.mapping.statuses import SYSTEM_NAMES

# The store's status labels change rarely (a rename in the control panel): read at most this often.
STATUSES_MAX_AGE = 300.0


async def store_statuses(console, pair: str, runtime) -> tuple[list | None, str | None]:
    """The store's order statuses (cached), or why they could not be read."""
    cached = console.statuses.get(pair)
    if cached is not None and time.monotonic() - cached[0] < STATUSES_MAX_AGE:
        return cached[1], None
    try:
        statuses = await asyncio.wait_for(runtime.bc.list_order_statuses(), 5.0)
    except (ApiError, asyncio.TimeoutError) as exc:
        return None, f"BigCommerce could not be reached ({type(exc).__name__}): system names shown"
    console.statuses[pair] = (time.monotonic(), statuses)
    return statuses, None


def id_verification(runtime, statuses) -> dict:
    """The rules as the pair's process read them at start-up: what its ID verification acts on (the
    file is read again only at a restart, as every table is)."""
    at_start = runtime.idv_rules
    changed = "file changed since start-up: restart to apply" if at_start.changed() else ""
    try:
        rules = at_start.loaded().resolve(statuses) if statuses is not None else at_start.loaded().resolve_offline()
    except ConfigError as exc:
        return {"error": str(exc), "changed": changed}
    return {
        "changed": changed,
        "stages": [(stage.value, rules.describe(status_id)) for stage, status_id in rules.targets.items()],
        "protected": [rules.describe(i) for i in sorted(rules.protected)],
        "warnings": [f"{rules.describe(i)} is not protected: an ID check rejected after the order reached"
                     " it would move it back. Protect Shipped, Cancelled and Refunded."
                     for i in rules.unprotected_advised()],
    }


async def pair_settings(console, view) -> dict:
    runtime = console.runtimes.get(view.pair)
    if runtime is None:
        return {"pair": view.pair, "started": False}
    statuses, problem = await store_statuses(console, view.pair, runtime)
    labels = {s.id: s.label for s in statuses or ()}
    tables = runtime.tables
    return {
        "pair": view.pair, "started": True, "problem": problem, "idv_enabled": view.id_verification.enabled,
        "statuses": [(i, name, labels.get(i, name), tables.statuses.pos_state(i),
                      i in tables.statuses.unpaid_status_ids) for i, name in SYSTEM_NAMES.items()],
        "unpaid_payment_statuses": sorted(tables.statuses.unpaid_payment_statuses),
        "payments": sorted(tables.payments.methods.items()), "payment_default": tables.payments.default,
        "tenders": sorted(tables.payments.tenders.items()),
        "taxes": sorted(tables.taxes.classes.items()),
        "specials": [(kind.value, product) for kind, product in tables.specials.products.items()],
        "idv": id_verification(runtime, statuses),
    }


async def settings_page(console, request: Request) -> Response:
    pairs = [await pair_settings(console, view) for view in console.settings.pair_settings()]
    return console.render(request, "settings.html", settings_pairs=pairs)
