"""The first quarter's story, told once per test module that asks for it."""

from __future__ import annotations

import pytest

from tests.unit.projections.story import Story, first_quarter


@pytest.fixture(scope="module")
def story() -> Story:
    return first_quarter()
