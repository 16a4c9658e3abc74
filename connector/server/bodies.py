"""A request body read within a limit: a webhook sender (or anyone who knows the URL) cannot make
the server buffer a body of any size; the stream is left unread past the limit."""

from __future__ import annotations

from starlette.requests import Request


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as more than `limit` bytes arrived (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
