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


def _answer(body: Any, path: str) -> dict[str, Any]:
    """A GET's answer as the JSON object every 2.0 answer is; anything else, or an object that says
    it is an error and holds no data, is an ApiError naming the endpoint."""
    if not isinstance(body, dict):
        raise TransientApiError("the answer is not a JSON object", api=API, method="GET", path=path, body=body)
    if body.get("data") is None and body.get("error"):
        raise TransientApiError(f"the answer is an error: {body['error']}", api=API, method="GET", path=path,
                                body=body)
    return body


def data_one(body: Any, path: str, *, needed: str | None = None) -> Any | None:
    """The one object of a 2.0 answer whose `data` the spec's schema gives as an object and its
    examples as a list of one (GET /user): either is taken; no `data` (none of the single-object
    answers requires it), null or an empty list is None — an ApiError saying so when the caller
    cannot do without it (`needed`: what it is, e.g. "retailer")."""
    data = _answer(body, path).get("data")
    if isinstance(data, list):
        data = data[0] if data else None
    if data is None and needed:
        raise TransientApiError(f"the answer names no {needed}", api=API, method="GET", path=path, body=body)
    if data is not None and not isinstance(data, dict):
        raise TransientApiError("the answer's data is not an object", api=API, method="GET", path=path, body=body)
    return data


def data_list(body: Any, path: str, *, required: bool = False) -> list[Any]:
    """The items of a 2.0 list answer. No `data`, or null, is an empty list: the spec's collections
    and search answer do not require it, and the 2026 spec gives an empty list version {min: null,
    max: null}. `required`: the schema requires it (TaxCollection, UserCollection), so its absence
    is an ApiError, not a store with no taxes."""
    answer = _answer(body, path)
    if required and "data" not in answer:
        raise TransientApiError("the answer has no data", api=API, method="GET", path=path, body=body)
    data = answer.get("data")
    if data is None:
        return []
    if not isinstance(data, list):
        raise TransientApiError("the answer's data is not a list", api=API, method="GET", path=path, body=body)
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
