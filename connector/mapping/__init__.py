"""Mapping: pure functions and tables from BigCommerce models to X-Series sale plans. No I/O here
except reading the YAML tables at start-up."""
