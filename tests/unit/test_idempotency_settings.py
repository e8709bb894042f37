"""The crash-point fault injection is for test servers only."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.settings import Settings


@pytest.mark.parametrize("environment", ["dev", "production"])
def test_a_crash_point_outside_tests_is_refused(environment: str) -> None:
    with pytest.raises(ValidationError, match="OKR_TEST_CRASH_POINT is for tests only"):
        Settings(
            environment=environment,  # type: ignore[arg-type]
            test_crash_point="after_commit",
            session_secret="x" * 40,  # type: ignore[arg-type]
        )


def test_a_test_server_takes_a_known_crash_point_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKR_ENVIRONMENT", "test")
    monkeypatch.setenv("OKR_TEST_CRASH_POINT", "after_store")
    assert Settings().test_crash_point == "after_store"
    monkeypatch.setenv("OKR_TEST_CRASH_POINT", "sometime")
    with pytest.raises(ValidationError):
        Settings()
