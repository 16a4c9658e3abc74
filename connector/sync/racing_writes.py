"""Store writes that two sync processes on one database can make at the same moment.

The Store upserts by merge: a SELECT by primary key, then an INSERT or an UPDATE. When two processes
index the same X-Series product, record the index version or the cursor for the first time, or fail
the same order together, the slower INSERT hits the primary key. The row exists by then, so doing
the same merge again is an UPDATE and succeeds; a conflict must not crash a cycle (reference: two
`sync` processes started together on one database, issue 4 §5).
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

from sqlalchemy.exc import IntegrityError

log = logging.getLogger("connector.sync")

T = TypeVar("T")
ATTEMPTS = 3


def racing(write: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Call a Store write; on a primary-key conflict with another process, call it again.

    Arguments must be re-iterable (lists, not generators): they are used again on a retry."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return write(*args, **kwargs)
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise
            log.info("%s: another process wrote the same row at the same moment; writing again",
                     getattr(write, "__name__", "store write"))
    raise AssertionError("unreachable")
