"""Tests that run in an environment of their own (see tests/conftest.py)."""
