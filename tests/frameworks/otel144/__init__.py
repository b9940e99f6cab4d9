"""Drivers of the frameworks in the `otel144` test environment (see tests/conftest.py)."""
