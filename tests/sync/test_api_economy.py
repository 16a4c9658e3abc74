"""Issue 16's API economy in steady state, held by a test rather than only printed by
benchmarks/sync_bench.py: ≤ 0.01 BigCommerce calls per order and ≤ 0.02 X-Series calls per order
beyond the necessary writes, over 500 new orders of products and customers order-sync knows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "sync_bench.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("sync_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_steady_state_costs_at_most_the_issues_calls_per_order():
    result = await _bench_module().bench(500, 3)
    steady, xs = result["steady_orders"], result["xs_steady"]
    assert result["steady_failed"] == 0 and xs["sale_writes"] == steady
    assert result["bc_steady"] / steady <= 0.01, result["bc_steady"]
    assert xs["other"] / steady <= 0.02, xs
    assert result["second_cycle_xs_writes"] == 0
