"""A transport that tampers with what an API answers (malformed JSON fields, HTML error pages) on
the way to the client, and a runtime of a world built on it."""

from __future__ import annotations

import json
from typing import Any, Callable

import httpx

from connector.clients.transport import RetryPolicy
from connector.runtime import Runtime
from connector.store.repository import Store
from sync_world import World

# edit(request, status, body) → None (leave the answer alone) or (status, body, content_type);
# body is the parsed JSON, or the text when the answer is not JSON.
Edit = Callable[[httpx.Request, int, Any], "tuple[int, Any, str] | None"]


class Tampering(httpx.AsyncBaseTransport):
    """Wraps a simulator's transport and lets a test rewrite answers before the client reads them.

    An edit with `.before = True` is asked first, with status and body None: an answer it returns is
    given in place of the simulator's, which never sees the request (a proxy refusing it)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, edit: Edit) -> None:
        self.inner = inner
        self.edit = edit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if getattr(self.edit, "before", False):
            refused = self.edit(request, None, None)
            if refused is not None:
                status, body, content_type = refused
                content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                return httpx.Response(status, headers={"content-type": content_type}, content=content)
            return await self.inner.handle_async_request(request)
        response = await self.inner.handle_async_request(request)
        raw = await response.aread()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        changed = self.edit(request, response.status_code, body)
        if changed is None:
            return httpx.Response(response.status_code, headers=response.headers, content=raw)
        status, new_body, content_type = changed
        content = new_body.encode() if isinstance(new_body, str) else json.dumps(new_body).encode()
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in ("content-length", "content-type", "content-encoding")}
        headers["content-type"] = content_type
        return httpx.Response(status, headers=headers, content=content)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def start_runtime(world: World, *, bc_edit: Edit | None = None, xs_edit: Edit | None = None,
                        **sync: Any) -> Runtime:
    """The world's main runtime, its answers passed through the given edits."""
    bc = world.bc.transport()
    xs = world.xs.transport()
    runtime = await Runtime.start(
        world.settings(**sync),
        bc_transport=Tampering(bc, bc_edit) if bc_edit else bc,
        xs_transport=Tampering(xs, xs_edit) if xs_edit else xs,
        clock=world.clock, retry=RetryPolicy(seed=5, base_delay=0.01),
        store=Store.open(world.database_url, clock=world.clock),
    )
    world.runtimes.append(runtime)
    world._main = runtime
    return runtime
