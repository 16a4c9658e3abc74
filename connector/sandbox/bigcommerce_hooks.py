"""Webhooks of the BigCommerce simulator: GET/POST /v3/hooks, GET/PUT/DELETE /v3/hooks/{id}
(reference §12, spec webhooks.v3.yml). As on a live store: scope and destination are required, the
destination must be HTTPS on port 443, and a store has one hook per scope and destination and at
most ten per scope."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connector.sandbox.bigcommerce_queries import Queries, _found, _Refusal

CLIENT_ID = "order-sync-sim-client"
HOOK_NOT_FOUND = "The webhook was not found."


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


class Webhooks(Queries):
    async def _list_hooks(self, request: Request) -> Response:
        q = request.query_params
        rows = [dict(h) for _, h in sorted(self.hooks.items())
                if ("scope" not in q or h["scope"] == q["scope"])
                and ("destination" not in q or h["destination"] == q["destination"])
                and ("is_active" not in q or str(h["is_active"]).lower() == q["is_active"].lower())]
        return self._v3_page(request, rows)

    async def _hook_body(self, request: Request, *, partial: bool) -> dict[str, Any]:
        try:
            return check_body(json.loads(await request.body() or b"null"), partial=partial)
        except (ValueError, HookRefused) as exc:
            raise _Refusal(422, f"The webhook is not valid: {exc}") from None

    async def _create_hook(self, request: Request) -> Response:
        hook = new_hook(next(self._ids["hook"]), self.store_hash, await self._hook_body(request, partial=False),
                        int(self._now().timestamp()))
        if clash(self.hooks, hook):
            raise _Refusal(422, "A webhook with this scope and destination already exists.")
        if scope_full(self.hooks, hook):
            raise _Refusal(422, "This client already has the most webhooks allowed for this scope.")
        self.hooks[hook["id"]] = hook
        return JSONResponse({"data": dict(hook), "meta": {}})

    async def _get_hook(self, request: Request, hook_id: int) -> Response:
        return JSONResponse({"data": dict(_found(self.hooks, hook_id, HOOK_NOT_FOUND)), "meta": {}})

    async def _update_hook(self, request: Request, hook_id: int) -> Response:
        hook = _found(self.hooks, hook_id, HOOK_NOT_FOUND)
        changed = {**hook, **await self._hook_body(request, partial=True), "updated_at": int(self._now().timestamp())}
        if clash(self.hooks, changed):
            raise _Refusal(422, "A webhook with this scope and destination already exists.")
        if scope_full(self.hooks, changed):
            raise _Refusal(422, "This client already has the most webhooks allowed for this scope.")
        hook.update(changed)
        return JSONResponse({"data": dict(hook), "meta": {}})

    async def _delete_hook(self, request: Request, hook_id: int) -> Response:
        return JSONResponse({"data": self.hooks.pop(_found(self.hooks, hook_id, HOOK_NOT_FOUND)["id"]), "meta": {}})
