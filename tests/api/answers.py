"""What the API tests assert of every answer: a success's status and body, or a problem."""

from __future__ import annotations

from typing import Any


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    """The JSON body of a success with `status`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(
    response: Any, status: int, rule: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """The body of an RFC 9457 problem with `status`, naming `rule` and `field` when given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    assert rule is None or body["rule"] == rule, body
    if field is not None:
        assert body["field"] == field, body
    return body
