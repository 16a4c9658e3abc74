"""Webhooks of the BigCommerce simulator: GET/POST /v3/hooks, GET/PUT/DELETE /v3/hooks/{id}
(reference §12, spec webhooks.v3.yml). As on a live store: scope and destination are required, the
destination must be HTTPS on port 443, and a store has one hook per scope and destination and at
most ten per scope."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

CLIENT_ID = "order-sync-sim-client"


class HookRefused(ValueError):
    """What the API answers 422 for."""


def check_body(body: Any, *, partial: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HookRefused("the body must be a JSON object")
    if not partial:
        missing = [key for key in ("scope", "destination") if not body.get(key)]
        if missing:
            raise HookRefused(f"{', '.join(missing)} required")
    if "destination" in body:
        url = urlsplit(str(body["destination"]))
        if url.scheme != "https" or url.port not in (None, 443):
            raise HookRefused("destination must be an https URL on port 443")
    if "headers" in body and body["headers"] is not None and not isinstance(body["headers"], dict):
        raise HookRefused("headers must be an object of strings")
    return {key: body[key] for key in ("scope", "destination", "is_active", "headers") if key in body}


def new_hook(hook_id: int, store_hash: str, fields: dict[str, Any], now: int) -> dict[str, Any]:
    return {"id": hook_id, "client_id": CLIENT_ID, "store_hash": store_hash, "scope": fields["scope"],
            "destination": fields["destination"], "is_active": fields.get("is_active", True),
            "headers": fields.get("headers"), "created_at": now, "updated_at": now}


def clash(hooks: dict[int, dict[str, Any]], hook: dict[str, Any]) -> bool:
    """Another hook with the same scope and destination (one per store, client, scope, destination)."""
    return any(h["id"] != hook["id"] and (h["scope"], h["destination"]) == (hook["scope"], hook["destination"])
               for h in hooks.values())


MAX_HOOKS_PER_SCOPE = 10  # reference §12: per store + client + scope


def scope_full(hooks: dict[int, dict[str, Any]], hook: dict[str, Any]) -> bool:
    """Saving `hook` would give its scope more hooks than one client may have."""
    return sum(h["id"] != hook["id"] and h["scope"] == hook["scope"] for h in hooks.values()) >= MAX_HOOKS_PER_SCOPE


# The store's numeric id in webhook payloads (the reference's example); the simulator has one store.
STORE_ID = "1025646"


def event(scope: str, store_hash: str, order_id: int, now: int) -> dict[str, Any]:
    """The body BigCommerce POSTs to a hook's destination (reference §12). `hash` is a SHA-1 of the
    payload: the same event delivered twice carries the same hash."""
    body = {"scope": scope, "store_id": STORE_ID, "data": {"type": "order", "id": order_id},
            "created_at": now, "producer": f"stores/{store_hash}"}
    digest = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {**body, "hash": digest}
