"""BigCommercePacer on a FakeClock: spent quota, spreading, 429 blocking, header-less 429."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connector.clients.bigcommerce_pacer import BigCommercePacer
from connector.clock import FakeClock


def answer(left: int | None = None, reset_ms: int | None = None, *, status: int = 200,
           quota: int | None = None, window_ms: int | None = None, retry_after: str | None = None,
           lowercase: bool = False) -> httpx.Response:
    headers = {}
    if left is not None:
        headers["X-Rate-Limit-Requests-Left"] = str(left)
    if reset_ms is not None:
        headers["X-Rate-Limit-Time-Reset-Ms"] = str(reset_ms)
    if quota is not None:
        headers["X-Rate-Limit-Requests-Quota"] = str(quota)
    if window_ms is not None:
        headers["X-Rate-Limit-Time-Window-Ms"] = str(window_ms)
    if retry_after is not None:
        headers["X-Retry-After"] = retry_after
    if lowercase:
        headers = {k.lower(): v for k, v in headers.items()}
    return httpx.Response(status, headers=headers)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pacer(clock: FakeClock) -> BigCommercePacer:
    return BigCommercePacer(clock, reset_margin=0.0)


async def send(pacer: BigCommercePacer, response: httpx.Response) -> None:
    await pacer.before_request()
    pacer.after_response(response)


async def test_plenty_left_sends_at_once(pacer, clock):
    for left in range(149, 139, -1):
        await send(pacer, answer(left, 20_000, quota=150, window_ms=30_000))
    assert clock.slept == []


async def test_spent_quota_blocks_until_the_reset(pacer, clock):
    await send(pacer, answer(0, 2_500, quota=150, window_ms=30_000))
    assert clock.monotonic() == 0
    await pacer.before_request()
    assert clock.monotonic() == pytest.approx(2.5)
    assert clock.slept == [pytest.approx(2.5)]
    # After the reset, the window is full again: the next requests go at once.
    pacer.after_response(answer(149, 30_000, quota=150, window_ms=30_000))
    await pacer.before_request()
    assert len(clock.slept) == 1


@pytest.mark.parametrize("lowercase", [False, True])
async def test_header_names_are_case_insensitive(pacer, clock, lowercase):
    await send(pacer, answer(0, 1_000, lowercase=lowercase))
    await pacer.before_request()
    assert clock.monotonic() == pytest.approx(1.0)


async def test_requests_in_flight_count_against_what_is_left(pacer, clock):
    await send(pacer, answer(3, 10_000, quota=150, window_ms=30_000))
    # Three requests may go before any answer comes back; the fourth must wait for the reset.
    # (The third is spread: 3 left of 150 is below the slow-down threshold.)
    for _ in range(3):
        await pacer.before_request()
    assert pacer.in_flight == 3
    assert clock.monotonic() < 10.0
    await pacer.before_request()
    assert clock.monotonic() == pytest.approx(10.0)


async def test_low_quota_spreads_the_rest_over_the_window(pacer, clock):
    # 150 per 30 s; 4 left with 8 s to the reset: the 4 requests and the reset share the 8 s evenly
    # (one every 1.6 s), so the last one still goes before the reset.
    window_end = 8.0
    await send(pacer, answer(4, 8_000, quota=150, window_ms=30_000))
    sent_at = []
    for left_after in (3, 2, 1, 0):
        await pacer.before_request()
        sent_at.append(clock.monotonic())
        pacer.after_response(answer(left_after, round((window_end - clock.monotonic()) * 1000)))
    assert sent_at == [pytest.approx(t, abs=0.01) for t in (1.6, 3.2, 4.8, 6.4)]
    # The quota is now spent: the next request waits for the reset.
    await pacer.before_request()
    assert clock.monotonic() == pytest.approx(window_end)


async def test_429_blocks_every_concurrent_caller_until_the_reset(pacer, clock):
    await send(pacer, answer(10, 20_000, quota=150, window_ms=30_000))
    wait = pacer.on_rate_limited(answer(0, 3_000, status=429))
    assert wait == pytest.approx(3.0)
    started: list[float] = []

    async def caller() -> None:
        await pacer.before_request()
        started.append(clock.monotonic())

    await asyncio.gather(*(caller() for _ in range(5)))
    assert len(started) == 5
    assert min(started) >= 3.0


async def test_429_with_only_retry_after(pacer, clock):
    assert pacer.on_rate_limited(answer(status=429, retry_after="7")) == pytest.approx(7.0)
    await pacer.before_request()
    assert clock.monotonic() == pytest.approx(7.0)


async def test_429_without_headers_leaves_backoff_to_the_transport(pacer, clock):
    assert pacer.on_rate_limited(answer(status=429)) is None
    await pacer.before_request()
    assert clock.slept == []


async def test_reset_margin_is_added(clock):
    pacer = BigCommercePacer(clock, reset_margin=0.05)
    assert pacer.on_rate_limited(answer(0, 1_000, status=429)) == pytest.approx(1.05)
    await pacer.before_request()
    assert clock.monotonic() == pytest.approx(1.05)


async def test_a_late_answer_from_an_old_window_does_not_raise_left(pacer, clock):
    await pacer.before_request()
    await pacer.before_request()
    # Same window, answers out of order: the lower "left" wins.
    pacer.after_response(answer(0, 5_000, quota=150, window_ms=30_000))
    pacer.after_response(answer(7, 5_000, quota=150, window_ms=30_000))
    assert pacer.left == 0
    await pacer.before_request()
    assert clock.monotonic() == pytest.approx(5.0)


async def test_after_the_reset_the_full_quota_is_assumed(pacer, clock):
    await send(pacer, answer(0, 1_000, quota=3, window_ms=10_000))
    await pacer.before_request()  # waits for the reset at 1 s
    assert clock.monotonic() == pytest.approx(1.0)
    assert pacer.left == 3 and pacer.reset_at == pytest.approx(11.0)
    # Answers without headers still use up the assumed quota: 3 requests fit the new window (the
    # last one spread), the 4th waits for the next reset.
    pacer.after_response(answer())
    for _ in range(2):
        await send(pacer, answer())
    assert pacer.left == 0 and clock.monotonic() == pytest.approx(6.0)
    await pacer.before_request()
    assert clock.monotonic() == pytest.approx(11.0)


async def test_unanswered_requests_stop_counting_after_the_expiry(clock):
    pacer = BigCommercePacer(clock, reset_margin=0.0, slow_below=0.0, in_flight_expiry=60.0)
    await send(pacer, answer(2, 500_000, quota=1000, window_ms=600_000))
    await pacer.before_request()  # never answered (a timeout the transport does not report)
    assert pacer.in_flight == 1
    clock.advance(61)
    # Counted still, it would leave 1 request: spread over the 439 s to the reset.
    await pacer.before_request()
    assert clock.slept == []
