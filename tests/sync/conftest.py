"""Fixtures of the end-to-end sync tests: `world`, `world_factory` and `db_world` (the world on each
database engine) are in tests/conftest.py."""
