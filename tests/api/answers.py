"""What the API tests assert of every answer: a success's status and body, or a problem.

`refuses` runs a table of requests the API must refuse (`Refused`: method, path, JSON body,
status, rule, field) and checks each one's problem, naming every case that answered otherwise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Refused:
    """A request the API must refuse: an RFC 9457 problem with `status`, naming `rule` and
    `field` when given."""

    method: str
    path: str
    json: Any
    """The JSON body, or None for none."""
    status: int
    params: dict[str, Any] | None = dataclasses.field(default=None, kw_only=True)
    """Query parameters (always by keyword, after `field`)."""
    headers: dict[str, str] | None = dataclasses.field(default=None, kw_only=True)
    """Headers added to the caller's (always by keyword)."""
    rule: str | None = None
    field: str | None = None

    def check(self, client: Any, headers: dict[str, str]) -> dict[str, Any]:
        """Sends the request with the caller's `headers`; the problem's body."""
        response = client.request(
            self.method,
            self.path,
            json=self.json,
            params=self.params,
            headers={**headers, **(self.headers or {})},
        )
        return problem(response, self.status, self.rule, self.field)


def refuses(client: Any, headers: dict[str, str], *cases: Refused) -> None:
    """Every case is refused as it says; one failure lists each case that was not (all run)."""
    failed: list[str] = []
    for case in cases:
        try:
            case.check(client, headers)
        except AssertionError as error:
            failed.append(f"{case}: {error}")
    assert not failed, "\n".join(failed)
