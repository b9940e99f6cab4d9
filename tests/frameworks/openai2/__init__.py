"""Drivers of the frameworks in the `openai2` test environment (see tests/conftest.py)."""
