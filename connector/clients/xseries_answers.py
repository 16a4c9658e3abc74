"""How X-Series' answers are unwrapped: the 2.0 `data` envelope, a write's JSON, and what an answer
that does not say what was written means (UnknownWriteOutcome). Shared by the client's parts."""

from __future__ import annotations

from typing import Any

import httpx

from connector.errors import TransientApiError, UnknownWriteOutcome

API = "X-Series"


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
