"""Run the real command line (connector.cli.main) against a world's in-process simulators.

The config file is written like a merchant's (tokens as ${ENV_VAR}); Runtime.start is wrapped so the
clients talk to the simulators (optionally through a Tampering transport) on the world's clock.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from connector.cli import main
from connector.clients.transport import RetryPolicy
from connector.runtime import Runtime

from tampering import Edit, Tampering

BC_ENV, XS_ENV = "CLI_WORLD_BC_TOKEN", "CLI_WORLD_XS_TOKEN"


def write_config(world, path: Path, *, store_hash: str | None = None, **sync: Any) -> Path:
    lines = [
        "bigcommerce:",
        f"  store_hash: {store_hash or world.bc.store_hash}",
        f"  access_token: ${{{BC_ENV}}}",
        f"  api_url: {world.bc.base_url}",
        "xseries:",
        f"  domain_prefix: {world.xs.domain_prefix}",
        f"  token: ${{{XS_ENV}}}",
        f"  api_url: {world.xs.base_url}",
        "  outlet: Main Outlet",
        "  register: Online Store",
        f"database_url: {world.database_url}",
        f"mappings_dir: {world.mappings_dir}",
        "sync:",
        f"  start_at: {world.start_at.isoformat()}",
        f"  overlap_seconds: {world.overlap_seconds}",
        *(f"  {k}: {v}" for k, v in sync.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(world, monkeypatch, config: Path, *args: str, bc_token: str | None = None,
            xs_token: str | None = None, bc_edit: Edit | None = None, xs_edit: Edit | None = None) -> int:
    """`order-sync --config CONFIG ARGS` with the world's simulators behind it; returns the exit code.

    Must be called from a thread without a running event loop (the CLI runs its own)."""
    monkeypatch.setenv(BC_ENV, bc_token or world.bc.access_token)
    monkeypatch.setenv(XS_ENV, xs_token or world.xs.token)
    original = Runtime.start.__func__

    async def start(cls, settings, **options):
        bc, xs = world.bc.transport(), world.xs.transport()
        options.update(
            bc_transport=Tampering(bc, bc_edit) if bc_edit else bc,
            xs_transport=Tampering(xs, xs_edit) if xs_edit else xs,
            clock=world.clock, retry=RetryPolicy(seed=3, base_delay=0.01),
        )
        return await original(cls, settings, **options)

    monkeypatch.setattr(Runtime, "start", classmethod(start))
    try:
        return main(["--config", str(config), *args])
    finally:
        monkeypatch.setattr(Runtime, "start", classmethod(original))


async def run_cli_async(*args: Any, **kwargs: Any) -> int:
    """run_cli from an async test: the CLI's own event loop runs in a worker thread."""
    return await asyncio.to_thread(run_cli, *args, **kwargs)
