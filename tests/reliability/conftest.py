"""Fixtures of the reliability suites (faults, crashes, failed-order queue).

They reuse the end-to-end world of tests/sync (both simulators in-process on one FakeClock) and its
served sandbox (real processes on localhost), so tests/sync must be importable when this folder is
run alone.
"""

from __future__ import annotations

from typing import Any

import pytest

# The test property that carries a suite's counts to the terminal summary (tests/conftest.py).
SUMMARY_PROPERTY = "reliability_counts"


@pytest.fixture
def report_counts(record_property):
    """Report a suite's counts (orders, duplicates, missing, faults injected…) three ways, so they
    are seen whatever the output options: printed (shown with -s, and with a failure), recorded
    as test properties (JUnit XML), and repeated in the terminal summary at the end of the run."""

    def report(title: str, counts: dict[str, Any]) -> None:
        text = f"{title}: " + ", ".join(f"{k}={v}" for k, v in counts.items())
        print("\n" + text)
        for key, value in counts.items():
            record_property(key, value)
        record_property(SUMMARY_PROPERTY, text)

    return report
