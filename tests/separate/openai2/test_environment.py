"""This environment holds the framework versions its extra pins."""

from __future__ import annotations

from tests.separate.environment import assert_pins_installed


def test_the_extra_pins_are_what_is_installed() -> None:
    assert_pins_installed("test-openai2")
