"""How X-Series' answers are unwrapped: the 2.0 `data` envelope, a write's JSON, and what an answer
that does not say what was written means (UnknownWriteOutcome). Shared by the client's parts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from connector.errors import TransientApiError, UnknownWriteOutcome

API = "X-Series"
T = TypeVar("T")


def path_id(object_id: str) -> str:
    # IDs are UUIDs; anything with a slash or query character is a caller bug, not an id.
    if not object_id or any(ch in object_id for ch in "/?#"):
        raise ValueError(f"not an X-Series id: {object_id!r}")
    return object_id


def data_of(body: Any, what: str) -> Any:
    if not isinstance(body, dict) or "data" not in body:
        raise TransientApiError(
            f"answer to {what} has no data", api=API, method="GET", path=what, body=body
        )
    return body["data"]


def data_one(body: Any, what: str) -> Any | None:
    """The one object of a 2.0 answer whose `data` the spec's schema gives as an object and its
    examples as a list of one (GET /user): either is taken; an empty list is None."""
    data = data_of(body, what)
    if isinstance(data, list):
        return data[0] if data else None
    return data


def data_list(body: Any, what: str) -> list[Any]:
    data = data_of(body, what)
    if data is None:
        return []
    if not isinstance(data, list):
        raise TransientApiError(
            f"answer to {what} is not a list", api=API, method="GET", path=what, body=body
        )
    return data


def parsed_items(raw_items: list[Any], parse: Callable[[Any], T], what: str) -> list[T]:
    """Each item of a list answer read by `parse`. One that cannot be read (a tax rate without its
    rate, an item that is not an object) is an ApiError naming the endpoint and the item, not a
    validation traceback: start-up reads every reference list."""
    items: list[T] = []
    for raw in raw_items:
        try:
            items.append(parse(raw))
        except ValidationError as exc:
            named = _named(raw)
            wrong = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors())
            raise TransientApiError(f"{named} in the answer cannot be read ({wrong})", api=API, method="GET",
                                    path=what, body=raw) from None
    return items


def _named(raw: Any) -> str:
    if not isinstance(raw, dict):
        return f"item {raw!r}"
    name, object_id = raw.get("name"), raw.get("id")
    if name is not None and object_id is not None:
        return f"{name} ({object_id})"
    return str(name if name is not None else object_id if object_id is not None else "an item")


def written_json(response: httpx.Response, path: str) -> dict[str, Any]:
    """The JSON of a 2xx answer to a write. A 2xx we cannot read may still mean it was applied."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise unknown_outcome("write answered 2xx without a JSON object; look the object up before writing again",
                               response, path, response.text[:500])
    return body


def unknown_outcome(message: str, response: httpx.Response, path: str, body: Any) -> UnknownWriteOutcome:
    """A 2xx answer to a POST that does not say what was written: the write may still have been applied."""
    return UnknownWriteOutcome(message, api=API, method="POST", path=path, status=response.status_code, body=body)
