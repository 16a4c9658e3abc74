"""Issue 17: `order-sync webhooks register` creates each hook once — run twice, nothing new — and
sets right a hook BigCommerce deactivated."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bad_input"))

from cli_world import run_cli_async, write_config  # noqa: E402
from connector.server.hooks import SCOPES  # noqa: E402


def hook_writes(world) -> list:
    return [r for r in world.bc.request_log if r.path.endswith("/v3/hooks") or "/v3/hooks/" in r.path
            if r.method in ("POST", "PUT")]


async def test_register_twice_creates_each_hook_once(world, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TEST_BC_WEBHOOK_SECRET", "hook-secret-1")
    config = write_config(world, tmp_path / "config.yaml")
    text = config.read_text().replace("  api_url:", "  webhook_secret: ${TEST_BC_WEBHOOK_SECRET}\n  api_url:", 1)
    config.write_text(text)

    assert await run_cli_async(world, monkeypatch, config, "webhooks", "register", "--url", "https://sync.example") == 0
    assert capsys.readouterr().out.count(": created") == len(SCOPES)
    hooks = list(world.bc.hooks.values())
    assert sorted(h["scope"] for h in hooks) == sorted(SCOPES)
    assert {h["destination"] for h in hooks} == {"https://sync.example/webhooks/bigcommerce/default"}
    assert all(h["headers"] == {"X-Webhook-Secret": "hook-secret-1"} and h["is_active"] for h in hooks)
    writes = len(hook_writes(world))

    assert await run_cli_async(world, monkeypatch, config, "webhooks", "register", "--url",
                               "https://sync.example/") == 0
    assert capsys.readouterr().out.count(": unchanged") == len(SCOPES)
    assert len(hook_writes(world)) == writes and len(world.bc.hooks) == len(SCOPES)

    # BigCommerce deactivated one after failures: registering again turns it back on, nothing else.
    hooks[0]["is_active"] = False
    assert await run_cli_async(world, monkeypatch, config, "webhooks", "register", "--url", "https://sync.example") == 0
    assert capsys.readouterr().out.count(": updated") == 1
    assert hooks[0]["is_active"] and len(world.bc.hooks) == len(SCOPES)
    assert "hook-secret-1" not in capsys.readouterr().err


async def test_register_refuses_without_a_secret_or_an_https_url(world, tmp_path, monkeypatch, capsys):
    config = write_config(world, tmp_path / "config.yaml")
    assert await run_cli_async(world, monkeypatch, config, "webhooks", "register", "--url", "https://x.example") == 2
    assert "bigcommerce.webhook_secret is not set" in capsys.readouterr().err
    monkeypatch.setenv("TEST_BC_WEBHOOK_SECRET", "s")
    config.write_text(config.read_text().replace("  api_url:", "  webhook_secret: ${TEST_BC_WEBHOOK_SECRET}\n"
                                                               "  api_url:", 1))
    assert await run_cli_async(world, monkeypatch, config, "webhooks", "register", "--url", "http://x.example") == 2
    assert "HTTPS on port 443" in capsys.readouterr().err
    assert world.bc.hooks == {}


async def test_register_at_a_new_url_moves_the_pairs_hooks_and_leaves_others(world, tmp_path, monkeypatch, capsys):
    """A merchant moving order-sync to another host registers again: BigCommerce must call the new
    host only, and an eleventh run must not be refused for ten hooks a scope."""
    monkeypatch.setenv("TEST_BC_WEBHOOK_SECRET", "hook-secret-1")
    config = write_config(world, tmp_path / "config.yaml")
    config.write_text(config.read_text().replace("  api_url:", "  webhook_secret: ${TEST_BC_WEBHOOK_SECRET}\n  api_url:", 1))
    other = {"id": 999, "scope": "store/order/created", "destination": "https://other-app.example/orders",
             "is_active": True, "headers": {}}
    world.bc.hooks[999] = dict(other)  # another integration's hook on the same scope
    staging = {"id": 998, "scope": "store/order/created", "is_active": True, "headers": {"X-Webhook-Secret": "staging"},
               "destination": "https://staging.example/webhooks/bigcommerce/default"}
    world.bc.hooks[998] = dict(staging)  # another deployment's, same pair name: its own secret

    for n in range(11):
        assert await run_cli_async(world, monkeypatch, config, "webhooks", "register", "--url",
                                   f"https://host{n}.example") == 0
    out = capsys.readouterr().out
    assert out.count(": moved from https://host9.example/webhooks/bigcommerce/default") == len(SCOPES)
    ours = [h for h in world.bc.hooks.values() if h["id"] not in (998, 999)]
    assert sorted(h["scope"] for h in ours) == sorted(SCOPES)
    assert {h["destination"] for h in ours} == {"https://host10.example/webhooks/bigcommerce/default"}
    assert world.bc.hooks[999] == other and world.bc.hooks[998] == staging


async def test_register_removes_the_pairs_hooks_left_at_earlier_urls(world, tmp_path, monkeypatch, capsys):
    """Hooks an earlier version left beside each other at two old hosts: one is moved (or, where the
    new host has its hook already, none), the others deleted; BigCommerce calls the new host only."""
    monkeypatch.setenv("TEST_BC_WEBHOOK_SECRET", "hook-secret-1")
    config = write_config(world, tmp_path / "config.yaml")
    config.write_text(config.read_text().replace("  api_url:", "  webhook_secret: ${TEST_BC_WEBHOOK_SECRET}\n  api_url:", 1))
    created, updated = "store/order/created", "store/order/updated"
    for n, (host, scope) in enumerate([("a", created), ("b", created), ("a", updated), ("new", updated)], start=901):
        world.bc.hooks[n] = {"id": n, "scope": scope, "destination": f"https://{host}.example/webhooks/bigcommerce/default",
                             "is_active": True, "headers": {"X-Webhook-Secret": "hook-secret-1"}}

    assert await run_cli_async(world, monkeypatch, config, "webhooks", "register", "--url", "https://new.example") == 0
    out = capsys.readouterr().out
    assert f"{created}: moved from https://a.example" in out and f"{created}: removed the one at https://b.example" in out
    assert f"{updated}: unchanged" in out and f"{updated}: removed the one at https://a.example" in out
    hooks = list(world.bc.hooks.values())
    assert sorted(h["scope"] for h in hooks) == sorted(SCOPES)
    assert {h["destination"] for h in hooks} == {"https://new.example/webhooks/bigcommerce/default"}
