"""Pacing BigCommerce requests from the store's own rate-limit headers (reference §7).

BigCommerce gives every store one quota per window (e.g. 150 requests / 30 s), shared by every app
on the store, and reports it on each response:

- X-Rate-Limit-Requests-Left    requests left in the current window
- X-Rate-Limit-Time-Reset-Ms    milliseconds until the window refills
- X-Rate-Limit-Requests-Quota   requests per window
- X-Rate-Limit-Time-Window-Ms   window length
- X-Retry-After                 seconds to wait, on a 429

Ignoring 429s is treated as abuse, so this pacer tries never to earn one:
- when the quota is spent (counting our own requests still in flight), nothing is sent until the
  reset time has passed;
- when few requests are left, the remaining ones are spread over the time left in the window
  instead of being spent in a burst;
- after a 429, every caller is blocked until the reset the response announced.

One pacer is shared by all concurrent requests of a client (taking turns: see RatePacer).
"""

from __future__ import annotations

import logging
import math

import httpx

from connector.clients.api_response import float_header, int_header
from connector.clients.pacing import RatePacer
from connector.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("connector.http.bigcommerce")

H_LEFT = "X-Rate-Limit-Requests-Left"
H_RESET_MS = "X-Rate-Limit-Time-Reset-Ms"
H_QUOTA = "X-Rate-Limit-Requests-Quota"
H_WINDOW_MS = "X-Rate-Limit-Time-Window-Ms"
H_RETRY_AFTER = "X-Retry-After"


class BigCommercePacer(RatePacer):
    """RatePacer (connector.clients.transport) for BigCommerce.

    reset_margin: seconds added to every announced reset, so a request does not arrive a few
      milliseconds early because of rounding or clock skew between us and the server.
    slow_below: fraction of the quota under which requests are spread over the rest of the window.
    in_flight_expiry: seconds after which a request that never got an answer stops counting.
    """

    api = "BigCommerce"

    def __init__(
        self,
        clock: Clock = SYSTEM_CLOCK,
        *,
        reset_margin: float = 0.05,
        slow_below: float = 0.2,
        in_flight_expiry: float = 120.0,
    ) -> None:
        super().__init__(clock, in_flight_expiry)
        self.reset_margin = reset_margin
        self.slow_below = slow_below
        # What the latest headers said; None until a response carried the headers.
        self.left: int | None = None
        self.quota: int | None = None
        self.window: float | None = None  # seconds
        self.reset_at: float | None = None  # monotonic time the current window refills
        # A 429 blocks everyone until this monotonic time.
        self.blocked_until: float = 0.0

    # -- RatePacer protocol (before_request: the base's) ----------------------------------------

    def after_response(self, response: httpx.Response) -> None:
        super().after_response(response)
        left = int_header(response, H_LEFT)
        reset_ms = int_header(response, H_RESET_MS)
        quota = int_header(response, H_QUOTA)
        window_ms = int_header(response, H_WINDOW_MS)
        if quota is not None and quota > 0:
            self.quota = quota
        if window_ms is not None and window_ms > 0:
            self.window = window_ms / 1000
        if left is None or reset_ms is None:
            # No (usable) headers on this answer: it still used one unit of the quota we know of.
            # ("Left" without a reset time cannot be paced against; 429 handling covers that.)
            if self.left is not None:
                self.left = max(self.left - 1, 0)
            return
        self._learn(max(left, 0), self.clock.monotonic() + max(reset_ms, 0) / 1000)

    def on_rate_limited(self, response: httpx.Response) -> float | None:
        reset_ms = int_header(response, H_RESET_MS)
        retry_after = float_header(response, H_RETRY_AFTER)
        if reset_ms is not None and reset_ms >= 0:
            wait = reset_ms / 1000
        elif retry_after is not None and retry_after >= 0:
            wait = retry_after
        else:
            # No headers: platform load rather than our quota. The transport backs off.
            return None
        wait += self.reset_margin
        now = self.clock.monotonic()
        self.blocked_until = max(self.blocked_until, now + wait)
        # The window is spent whatever the last headers said.
        self.left = 0
        self.reset_at = max(self.reset_at or 0.0, now + wait - self.reset_margin)
        log.warning("BigCommerce answered 429: all requests wait %.2fs", wait)
        return wait

    # -- internals ----------------------------------------------------------------------------

    def _learn(self, left: int, reset_at: float) -> None:
        """Merge one response's view of the window into ours.

        Responses of concurrent requests arrive in any order. An answer for the current window
        can only lower "left"; one whose reset lies clearly later belongs to a new window; one
        whose reset lies clearly earlier is a late answer from a window already over.
        """
        tolerance = 0.25 * self.window if self.window else 0.5
        if self.reset_at is None or self.left is None or reset_at > self.reset_at + tolerance:
            self.left, self.reset_at = left, reset_at
        elif reset_at < self.reset_at - tolerance:
            return
        else:
            self.left = min(self.left, left)
            self.reset_at = max(self.reset_at, reset_at)

    def _wait_needed(self) -> float:
        now = self.clock.monotonic()
        if now < self.blocked_until:
            return self.blocked_until - now
        if self.left is None or self.reset_at is None:
            return 0.0
        if now >= self.reset_at + self.reset_margin:
            self._roll_window(now)
            if self.left is None or self.reset_at is None:
                return 0.0
        available = self.left - self.in_flight
        if available <= 0:
            return max(self.reset_at + self.reset_margin - now, 0.0)
        if available <= self._slow_threshold() and self._last_sent is not None:
            # Spread what is left evenly over the rest of the window, the reset being the slot
            # after the last one (so the last request still goes out before the reset).
            interval = (self.reset_at - now) / (available + 1)
            return max(self._last_sent + interval - now, 0.0)
        return 0.0

    def _roll_window(self, now: float) -> None:
        """The announced reset has passed: a fresh window with the full quota (if known)."""
        assert self.reset_at is not None
        if self.quota is None or not self.window:
            # Without quota and window size we cannot tell where the new window stands: stop
            # pacing until the next response says (a 429 still blocks everyone).
            self.left = None
            self.reset_at = None
            return
        self.left = self.quota
        # Windows follow each other; the next reset is a whole number of windows later.
        periods = math.floor((now - self.reset_at) / self.window) + 1
        self.reset_at = self.reset_at + periods * self.window

    def _slow_threshold(self) -> int:
        if self.quota:
            return max(1, int(self.quota * self.slow_below))
        return 10
