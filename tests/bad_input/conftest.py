"""Fixtures of the bad-input corpus: the end-to-end `world` and `world_factory` of tests/sync and the
logging restore come from tests/conftest.py."""
