"""connector.event_loop: uvloop by default where installed, the standard loop on request."""

from __future__ import annotations

import asyncio

import pytest

from connector import event_loop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_is_the_default_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv(event_loop.ENV_VAR, raising=False)
    assert event_loop.loop_name() == "uvloop"
    assert event_loop.run(_loop_module()).startswith("uvloop")


def test_the_standard_loop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(event_loop.ENV_VAR, "asyncio")
    assert event_loop.loop_name() == "asyncio"
    assert event_loop.run(_loop_module()).startswith("asyncio")


def test_an_unknown_loop_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(event_loop.ENV_VAR, "trio")
    with pytest.raises(ValueError, match="ORDER_SYNC_EVENT_LOOP"):
        event_loop.loop_name()


def test_run_returns_the_coroutine_result(monkeypatch: pytest.MonkeyPatch) -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    for name in ("asyncio", "uvloop"):
        monkeypatch.setenv(event_loop.ENV_VAR, name)
        if name == "uvloop":
            pytest.importorskip("uvloop")
        assert event_loop.run(answer()) == 42


@pytest.mark.parametrize("choice", ["asyncio", "uvloop"])
def test_running_loop_answers_the_loop_the_caller_runs_on(monkeypatch: pytest.MonkeyPatch, choice: str) -> None:
    if choice == "uvloop":
        pytest.importorskip("uvloop")
    monkeypatch.setenv(event_loop.ENV_VAR, choice)
    seen: list[asyncio.AbstractEventLoop] = []

    async def remember() -> None:
        current = asyncio.get_running_loop()
        assert event_loop.running_loop(None) is current  # nothing known: looked up
        assert event_loop.running_loop(current) is current  # known and running: kept
        seen.append(current)

    event_loop.run(remember())

    async def on_a_new_loop() -> None:
        current = asyncio.get_running_loop()
        assert current is not seen[0]
        # The loop remembered from the last command is closed: the new one is looked up.
        assert event_loop.running_loop(seen[0]) is current

    event_loop.run(on_a_new_loop())
    with pytest.raises(RuntimeError):
        event_loop.running_loop(seen[0])  # no loop running at all: as asyncio.get_running_loop()
