"""Stateful simulators of BigCommerce and X-Series, for tests, the demo and benchmarks.

They are part of the product (order-sync demo runs on them) and follow ../shared/reference exactly:
status ids, RFC-2822 dates, money as strings, paging, rate-limit headers and 429s, error bodies.
"""
