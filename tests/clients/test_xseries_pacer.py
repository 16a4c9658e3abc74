"""XSeriesPacer: quota pacing from X-RateLimit-* headers and Retry-After, on a FakeClock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from connector.clients.xseries_pacer import XSeriesPacer
from connector.clock import FakeClock
from connector.values import to_http_date


def answer(limit: int | None = None, remaining: int | None = None, status: int = 200,
           retry_after: str | None = None) -> httpx.Response:
    headers: dict[str, str] = {}
    if limit is not None:
        headers["X-RateLimit-Limit"] = str(limit)
    if remaining is not None:
        headers["X-RateLimit-Remaining"] = str(remaining)
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return httpx.Response(status, headers=headers)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_pacer(clock: FakeClock, **kwargs) -> XSeriesPacer:
    # limit 300 in a 300 s window → one request per second when the quota is low.
    return XSeriesPacer(clock=clock, window_seconds=300, margin_seconds=1.0, **kwargs)


async def send(pacer: XSeriesPacer, response: httpx.Response) -> None:
    await pacer.before_request()
    pacer.after_response(response)


async def test_nothing_known_means_no_waiting(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    for _ in range(5):
        await send(pacer, answer())
    assert clock.slept == []


async def test_plenty_of_quota_means_no_waiting(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    for remaining in range(299, 250, -1):
        await send(pacer, answer(300, remaining))
    assert clock.slept == []
    assert pacer.limit == 300 and pacer.remaining == 251


async def test_low_quota_spreads_requests_one_interval_apart(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    await send(pacer, answer(300, 20))  # 20 < 10 % of 300
    sent_at = []
    for remaining in (19, 18, 17):
        await pacer.before_request()
        sent_at.append(clock.monotonic())
        pacer.after_response(answer(300, remaining))
    gaps = [b - a for a, b in zip(sent_at, sent_at[1:])]
    assert gaps == pytest.approx([1.0, 1.0])
    assert pacer.interval_seconds == pytest.approx(1.0)


async def test_quota_back_above_threshold_stops_spreading(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    await send(pacer, answer(300, 5))
    await send(pacer, answer(300, 290))  # this one waited; the window has refilled
    waited = sum(clock.slept)
    for _ in range(5):
        await send(pacer, answer(300, 289))
    assert sum(clock.slept) == waited


async def test_in_flight_requests_count_against_remaining(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    await send(pacer, answer(300, 32))  # 32 > 30 (10 %): no spreading yet
    await pacer.before_request()  # two requests in flight, not answered yet
    await pacer.before_request()
    assert clock.slept == []
    assert pacer.available() == 30
    await pacer.before_request()  # 32 - 2 in flight = 30: low, so this one is spread
    assert clock.slept == [pytest.approx(1.0)]


async def test_remaining_zero_paces_at_window_over_limit(clock: FakeClock) -> None:
    pacer = XSeriesPacer(clock=clock, window_seconds=300)
    await send(pacer, answer(350, 0))
    start = clock.monotonic()
    for _ in range(3):
        await send(pacer, answer(350, 0))
    # The first paced request goes one interval after the previous send, and so on.
    assert clock.monotonic() - start == pytest.approx(3 * 300 / 350)


async def test_window_is_configurable(clock: FakeClock) -> None:
    pacer = XSeriesPacer(clock=clock, window_seconds=60)
    await send(pacer, answer(120, 0))
    await send(pacer, answer(120, 0))
    assert clock.slept == [pytest.approx(0.5)]


async def test_429_with_http_date_blocks_until_that_moment(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    await pacer.before_request()
    reset = clock.now().replace(microsecond=0) + timedelta(seconds=42)
    wait = pacer.on_rate_limited(answer(300, 0, 429, retry_after=to_http_date(reset)))
    assert wait == pytest.approx(43.0)  # 42 s + 1 s margin
    # Another caller (not the one that got the 429) is held until the same moment.
    await pacer.before_request()
    assert clock.now() >= reset + timedelta(seconds=1)
    assert clock.now() < reset + timedelta(seconds=1.01)


@pytest.mark.parametrize("server_behind", [0, 90])
async def test_a_retry_after_date_is_read_against_the_servers_own_clock(clock: FakeClock, server_behind) -> None:
    """Retry-After's date is on the server's clock, which its Date header tells: a server 90 s behind
    ours that says "42 s from now" means 42 s, not "already past" (a retry a second apart)."""
    pacer = make_pacer(clock)
    await pacer.before_request()
    server_now = clock.now().replace(microsecond=0) - timedelta(seconds=server_behind)
    response = answer(300, 0, 429, retry_after=to_http_date(server_now + timedelta(seconds=42)))
    response.headers["Date"] = to_http_date(server_now)
    assert pacer.on_rate_limited(response) == pytest.approx(43.0, abs=1.0)


async def test_429_with_delta_seconds(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    wait = pacer.on_rate_limited(answer(retry_after="30", status=429))
    assert wait == pytest.approx(31.0)
    before = clock.now()
    await pacer.before_request()
    assert (clock.now() - before).total_seconds() == pytest.approx(31.0)


async def test_429_without_retry_after_returns_none_and_paces(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    await send(pacer, answer(300, 100))
    assert pacer.on_rate_limited(answer(status=429)) is None
    assert pacer.remaining == 0
    # Nothing says when the quota returns: one request per interval after the last send.
    await pacer.before_request()
    pacer.after_response(answer(status=429))
    await pacer.before_request()
    assert clock.slept == [pytest.approx(1.0), pytest.approx(1.0)]


async def test_retry_after_in_the_past_still_gets_the_margin(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    past = clock.now() - timedelta(seconds=10)
    assert pacer.on_rate_limited(answer(status=429, retry_after=to_http_date(past))) == pytest.approx(1.0)


async def test_retry_after_beyond_a_window_is_capped(clock: FakeClock) -> None:
    # A Retry-After hours away means the clocks disagree; the quota never needs more than a window.
    pacer = make_pacer(clock)
    far = clock.now() + timedelta(hours=5)
    assert pacer.on_rate_limited(answer(status=429, retry_after=to_http_date(far))) == pytest.approx(301.0)


async def test_unreadable_retry_after_is_ignored(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    assert pacer.on_rate_limited(answer(status=429, retry_after="soon")) is None


async def test_concurrent_callers_all_wait_out_the_block_then_go(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    await send(pacer, answer(300, 0))
    reset = clock.now().replace(microsecond=0) + timedelta(seconds=20)
    pacer.on_rate_limited(answer(300, 0, 429, retry_after=to_http_date(reset)))
    sent_at: list = []

    async def caller() -> None:
        await pacer.before_request()
        sent_at.append(clock.now())

    await asyncio.gather(*(caller() for _ in range(4)))
    unblocked = reset + timedelta(seconds=1)
    assert all(t >= unblocked for t in sent_at)
    # The Retry-After moment starts a new window: its quota is full, so they go at once.
    assert max(sent_at) - min(sent_at) < timedelta(seconds=0.01)


async def test_spent_quota_waits_for_the_next_window_once_its_phase_is_known(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    await send(pacer, answer(300, 0))
    window_start = clock.now().replace(microsecond=0) + timedelta(seconds=20)
    pacer.on_rate_limited(answer(300, 0, 429, retry_after=to_http_date(window_start)))
    await pacer.before_request()  # the block ends at the window's start (+ margin)
    assert clock.now() >= window_start
    # The new window's quota gets spent: the pacer waits for the following window (one window
    # after the phase), instead of probing one request per interval into a 429.
    pacer.after_response(answer(300, 0))
    await pacer.before_request()
    next_window = window_start + timedelta(seconds=300)
    assert next_window <= clock.now() <= next_window + timedelta(seconds=1.5)


async def test_a_later_429_never_shortens_the_block(clock: FakeClock) -> None:
    pacer = make_pacer(clock)
    pacer.on_rate_limited(answer(status=429, retry_after="60"))
    wait = pacer.on_rate_limited(answer(status=429, retry_after="5"))
    assert wait == pytest.approx(61.0)


async def test_requests_that_never_got_an_answer_stop_counting(clock: FakeClock) -> None:
    pacer = make_pacer(clock, in_flight_expiry=60)
    await send(pacer, answer(300, 40))
    for _ in range(10):  # ten requests lost (timeouts): no after_response for them
        await pacer.before_request()
    assert pacer.available() == 30
    clock.advance(61)
    assert pacer.in_flight == 0
    assert pacer.available() == 40


async def test_a_long_quota_wait_is_logged_once_at_info(clock: FakeClock, caplog) -> None:
    """Start-up or a cycle standing still on the quota says so in the log (not only at DEBUG)."""
    pacer = make_pacer(clock)
    await send(pacer, answer(300, 0))
    window_start = clock.now().replace(microsecond=0) + timedelta(seconds=20)
    pacer.on_rate_limited(answer(300, 0, 429, retry_after=to_http_date(window_start)))
    caplog.clear()
    with caplog.at_level("DEBUG", logger="connector.http"):
        await pacer.before_request()
    waits = [r for r in caplog.records if r.name == "connector.http" and r.levelname == "INFO"]
    assert len(waits) == 1 and "X-Series quota" in waits[0].getMessage()


async def test_the_ordinary_spreading_of_a_low_quota_logs_nothing_at_info(clock: FakeClock, caplog) -> None:
    pacer = make_pacer(clock)
    await send(pacer, answer(600, 20))  # low: requests half a second apart
    with caplog.at_level("DEBUG", logger="connector.http"):
        for remaining in (19, 18, 17):
            await send(pacer, answer(600, remaining))
    assert clock.slept and not [r for r in caplog.records if r.levelname == "INFO"]
