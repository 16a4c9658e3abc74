"""The outbound proxy the environment sets for a host (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY).

Both direct engines ask it once per host and remember the answer: reading the environment on
every request (what aiohttp's trust_env does, ~/.netrc included) cost 0.6 ms per order.
"""

from __future__ import annotations

import urllib.request


def environment_proxy(scheme: str, host: str | None) -> str | None:
    """The proxy URL for `scheme://host`, or None: the scheme's own variable, else ALL_PROXY,
    unless NO_PROXY lists the host - the rules of httpx's default engine."""
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(scheme) or proxies.get("all")
    if proxy and host and urllib.request.proxy_bypass_environment(host, proxies):
        proxy = None
    return proxy or None
