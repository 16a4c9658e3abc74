"""`order-sync webhooks register`: the store's BigCommerce webhooks for order-sync, created or set
right through POST/PUT /v3/hooks (reference §12). Idempotent: run twice, nothing new — each scope's
hook is looked up by scope and destination, created when missing, and updated only when it is
inactive (BigCommerce deactivates a failing hook) or carries another secret. A hook of the scope at
this pair's path and secret on another base URL is this pair's from an earlier --url: one is moved, the rest
deleted, none kept beside the new one (BigCommerce would call them all, with the secret, and allows
ten hooks a scope)."""

from __future__ import annotations

from connector.clients.bigcommerce import BigCommerceClient
from connector.errors import ConfigError

SCOPES = ("store/order/created", "store/order/updated", "store/order/statusUpdated", "store/order/archived",
          "store/order/refund/created")
SECRET_HEADER = "X-Webhook-Secret"


def destination(base_url: str, pair: str) -> str:
    if not base_url.lower().startswith("https://"):
        raise ConfigError(f"--url {base_url!r}: BigCommerce calls webhooks over HTTPS on port 443 only")
    return f"{base_url.rstrip('/')}/webhooks/bigcommerce/{pair}"


async def register_hooks(bc: BigCommerceClient, base_url: str, pair: str, secret: str) -> list[tuple[str, str]]:
    """(scope, what was done: created | moved from … | updated | unchanged | removed the one at …)."""
    target = destination(base_url, pair)
    path = target[target.index("/webhooks/bigcommerce/"):]
    headers = {SECRET_HEADER: secret}
    hooks = await bc.list_hooks()
    existing = {hook["scope"]: hook for hook in hooks if hook.get("destination") == target}
    # This pair's path on another host, with this pair's secret: this pair's hooks from an earlier
    # --url. The path alone is not enough: every one-pair config is "default", and a second
    # deployment (staging) against the same store keeps its own secret, so its hooks are left alone.
    earlier = [hook for hook in hooks if str(hook.get("destination", "")).endswith(path)
               and hook.get("destination") != target and (hook.get("headers") or {}).get(SECRET_HEADER) == secret]
    done = []
    for scope in SCOPES:
        hook = existing.get(scope)
        stale = [h for h in earlier if h.get("scope") == scope]
        if hook is None and stale:
            old = stale.pop(0)
            await bc.update_hook(old["id"], {"destination": target, "is_active": True, "headers": headers})
            done.append((scope, f"moved from {old['destination']}"))
        elif hook is None:
            await bc.create_hook({"scope": scope, "destination": target, "is_active": True, "headers": headers})
            done.append((scope, "created"))
        elif not hook.get("is_active") or (hook.get("headers") or {}) != headers:
            await bc.update_hook(hook["id"], {"is_active": True, "headers": headers})
            done.append((scope, "updated"))
        else:
            done.append((scope, "unchanged"))
        for old in stale:  # more from earlier --urls: BigCommerce would go on calling them, secret and all
            await bc.delete_hook(old["id"])
            done.append((scope, f"removed the one at {old['destination']}"))
    return done
