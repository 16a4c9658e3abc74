"""How long the quotas make an import take.

X-Series allows 300 × registers + 50 requests per 5-minute window (reference §4), learnt from
X-RateLimit-Limit; BigCommerce its plan's quota per window (§7), learnt from its headers. Each
mirrored order costs about one X-Series write (plus the creates it needs) and 1/250 of a
BigCommerce list call, so the slower of the two bounds the import.
"""

from __future__ import annotations

from connector.clients.bigcommerce_pacer import BigCommercePacer
from connector.clients.xseries_pacer import XSeriesPacer

DEFAULT_XS_LIMIT = 350  # one register: 300 × 1 + 50
DEFAULT_BC_QUOTA, DEFAULT_BC_WINDOW = 150, 30.0  # Standard / Plus plan


def quota_seconds(xs: XSeriesPacer, bc: BigCommercePacer, xseries_calls: float, bigcommerce_calls: float) -> float:
    """The time these calls take at the quotas the pacers have learnt (the defaults until then)."""
    xs_per_second = (xs.limit or DEFAULT_XS_LIMIT) / xs.window_seconds
    bc_per_second = (bc.quota or DEFAULT_BC_QUOTA) / (bc.window or DEFAULT_BC_WINDOW)
    return max(xseries_calls / xs_per_second, bigcommerce_calls / bc_per_second)
