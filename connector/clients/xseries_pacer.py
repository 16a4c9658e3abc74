"""Pacing of X-Series requests from the API's own rate-limit headers.

X-Series gives each retailer a quota per integration of `300 × registers + 50` requests per 5-minute
window (xseries-api.md §4). Every JSON response carries X-RateLimit-Limit and X-RateLimit-Remaining;
there is NO reset header. A breach answers 429 with Retry-After as an HTTP-date (RFC 1123); we also
accept delta-seconds, because nothing guarantees the format will never change.

One pacer is shared by every request of a client, so concurrent sync workers spend one quota:
- after a 429 every caller is blocked until the Retry-After moment (plus a small margin, because an
  HTTP-date has one-second resolution and clocks drift);
- when the quota is gone (Remaining minus the requests still in flight ≤ 0): if a 429 has shown
  where the windows begin, wait for the next window (a fixed window resets every window_seconds
  after the moment a Retry-After named — so a steady import meets one 429, not one per window);
  otherwise pace at window/limit seconds each, the average refill rate, until a response shows quota
  again. If the windows are not fixed, the next 429 simply teaches a new phase;
- when the quota is low (< 10 % of the limit) requests are spread window/limit seconds apart, so a
  burst does not run into a 429 that would stall every worker.

Lightspeed advises deferring work after a 429 rather than hammering; this is the per-request half of
that advice (the scheduler decides what to defer).
"""

from __future__ import annotations

import email.utils
import logging
from datetime import datetime, timedelta, timezone

import httpx

from connector.clients.api_response import int_header
from connector.clients.pacing import RatePacer
from connector.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("connector.xseries.pacer")

DEFAULT_WINDOW_SECONDS = 300.0
# Below this share of the limit, requests are spread rather than sent as fast as they come.
LOW_QUOTA_SHARE = 0.10
# Waits shorter than this are rounding noise between float seconds and datetime microseconds.
_EPSILON_SECONDS = 0.001


class XSeriesPacer(RatePacer):
    """RatePacer for X-Series (see connector.clients.pacing.RatePacer)."""

    api = "X-Series"
    min_wait = _EPSILON_SECONDS

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        margin_seconds: float = 1.0,
        in_flight_expiry: float = 120.0,
    ) -> None:
        super().__init__(clock, in_flight_expiry)
        self.window_seconds = window_seconds
        self.margin_seconds = margin_seconds
        self.limit: int | None = None
        self.remaining: int | None = None
        self.blocked_until: datetime | None = None
        # A moment a window started (a Retry-After without our margin): windows repeat from it.
        self.window_phase: datetime | None = None
        self._refill_at: datetime | None = None

    # -- RatePacer (before_request: the base's) ----------------------------------------------

    def after_response(self, response: httpx.Response) -> None:
        super().after_response(response)
        limit = int_header(response, "X-RateLimit-Limit")
        remaining = int_header(response, "X-RateLimit-Remaining")
        if limit is not None and limit > 0:
            self.limit = limit
        if remaining is not None:
            self.remaining = max(0, remaining)

    def on_rate_limited(self, response: httpx.Response) -> float | None:
        # The server says the quota is spent, whatever our estimate was.
        self.remaining = 0
        until = self._retry_after_moment(response)
        if until is None:
            log.warning("X-Series 429 without a usable Retry-After; backing off")
            return None
        if self.blocked_until is None or until > self.blocked_until:
            self.blocked_until = until
        self.window_phase = until - timedelta(seconds=self.margin_seconds)
        self._refill_at = self.window_phase
        wait = max(0.0, (self.blocked_until - self.clock.now()).total_seconds())
        log.info("X-Series rate limited: every request waits %.1fs", wait)
        return wait

    # -- state ---------------------------------------------------------------------------------

    @property
    def interval_seconds(self) -> float | None:
        """The average refill rate of the quota: one request per window/limit seconds."""
        if not self.limit:
            return None
        return self.window_seconds / self.limit

    def available(self) -> int | None:
        """Requests we may still send in this window, counting the ones not answered yet."""
        if self.remaining is None:
            return None
        return self.remaining - self.in_flight

    def _wait_needed(self) -> float:
        now = self.clock.now()
        if self.blocked_until is not None:
            left = (self.blocked_until - now).total_seconds()
            if left > _EPSILON_SECONDS:
                return left
            self.blocked_until = None
        if self._refill_at is not None and now >= self._refill_at:
            # A new window began: the quota is full again, but only a response can say how full.
            self._refill_at = None
            self.remaining = None
            self._in_flight.clear()
        available = self.available()
        if available is not None and available <= 0 and self.window_phase is not None:
            refill = self._next_window_start(now)
            self._refill_at = refill
            return (refill - now).total_seconds() + self.margin_seconds
        interval = self.interval_seconds
        if available is None or interval is None or self.limit is None:
            return 0.0  # nothing known yet: the first response will tell us
        if available > self.limit * LOW_QUOTA_SHARE:
            return 0.0
        # Quota low or gone (and no Retry-After moment known, or it has passed): one request
        # per interval until a response shows quota again.
        if self._last_sent is None:
            return 0.0
        return self._last_sent + interval - self.clock.monotonic()

    def _next_window_start(self, now: datetime) -> datetime:
        window = timedelta(seconds=self.window_seconds)
        elapsed = now - self.window_phase
        windows = int(elapsed / window) + 1 if elapsed >= timedelta(0) else 0
        return self.window_phase + windows * window

    def _retry_after_moment(self, response: httpx.Response) -> datetime | None:
        """When the block ends: Retry-After as an HTTP-date (documented) or delta-seconds."""
        raw = response.headers.get("Retry-After")
        if raw is None or not raw.strip():
            return None
        now = self.clock.now()
        text = raw.strip()
        margin = timedelta(seconds=self.margin_seconds)
        if text.isdigit():
            return now + timedelta(seconds=int(text)) + margin
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            log.warning("X-Series Retry-After not understood: %r", raw)
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        # The moment is on the server's clock (RFC 9110 §10.2.3): measured from its Date, when it
        # sends one, so that a server whose clock is behind ours is not retried every second.
        server_now = _http_date(response.headers.get("Date"))
        if server_now is not None:
            moment = now + (moment - server_now)
        # A moment in the past (our clock runs ahead) still gets the margin; one further away
        # than a whole window means the clocks disagree, and a window is the most a quota needs.
        moment = min(max(moment, now), now + timedelta(seconds=self.window_seconds))
        return moment + margin


def _http_date(raw: str | None) -> datetime | None:
    """An HTTP-date header, aware UTC; None when absent or not one."""
    try:
        moment = email.utils.parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError, IndexError):
        return None
    return None if moment is None else moment.replace(tzinfo=moment.tzinfo or timezone.utc)
