"""Every role × every write endpoint × own team / other team → allowed (2xx) or denied (403).

The callers: `admin`, `auditor`, `mia` (a manager token; she manages Platform) and `max` (a
member token; he is in Platform). Admin and auditor are Platform members too, so "own team"
means the same for everyone: an objective owned by Platform. "Other team" is Sales.

Each case puts a fresh objective into the state its endpoint needs, so an allowed call is a
real success, not merely "not 403".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.base import CommandContext
from domain.team import MemberRole
from tests.api.conftest import (
    API,
    CALLER,
    ROLES,
    Built,
    Request,
    World,
    allowed,
    build_world,
    objective_in,
)

CONTRIBUTE = allowed("admin", "manager", "member")
DECIDE = allowed("manager")
ADMINISTER = allowed("admin")


@dataclass(frozen=True)
class Case:
    name: str
    rule: dict[str, bool]
    state: str | None
    """The objective state the endpoint needs; None for endpoints about other things."""
    request: Callable[[World, Built | None, str], Request]


def _o(b: Built | None) -> str:
    assert b is not None
    return f"{API}/objectives/{b.objective_id}"


def _kr(b: Built | None) -> str:
    assert b is not None
    return f"{_o(b)}/key-results/{b.key_result_id}"


OBJECTIVE_CASES = [
    Case(
        "draft objective",
        CONTRIBUTE,
        None,
        lambda w, b, team: (
            "POST",
            f"{API}/objectives",
            {"cycle_id": str(w.cycle_id), "owner_team_id": str(w.teams[team]), "title": "New"},
        ),
    ),
    Case(
        "patch objective",
        CONTRIBUTE,
        "draft",
        lambda w, b, t: ("PATCH", _o(b), {"title": "Reworded"}),
    ),
    Case(
        "add key result",
        CONTRIBUTE,
        "draft",
        lambda w, b, t: (
            "POST",
            f"{_o(b)}/key-results",
            {"title": "Ship", "measure": "milestone"},
        ),
    ),
    Case(
        "patch key result",
        CONTRIBUTE,
        "draft",
        lambda w, b, t: ("PATCH", _kr(b), {"target": 20}),
    ),
    Case("remove key result", CONTRIBUTE, "draft", lambda w, b, t: ("DELETE", _kr(b), None)),
    Case(
        "submit",
        CONTRIBUTE,
        "draft",
        lambda w, b, t: ("POST", f"{_o(b)}/submit", {"approver_id": str(w["ceo"].person_id)}),
    ),
    Case("withdraw", CONTRIBUTE, "in_review", lambda w, b, t: ("POST", f"{_o(b)}/withdraw", None)),
    Case(
        "accept counter-proposal",
        CONTRIBUTE,
        "countered",
        lambda w, b, t: ("POST", f"{_o(b)}/accept-counter", None),
    ),
    Case(
        "propose amendment",
        CONTRIBUTE,
        "approved",
        lambda w, b, t: (
            "POST",
            f"{_o(b)}/amendments",
            {"changes": {"title": "Amended"}, "reason": "clearer"},
        ),
    ),
    Case(
        "check in",
        CONTRIBUTE,
        "approved",
        lambda w, b, t: ("POST", f"{_kr(b)}/check-ins", {"value": 3, "confidence": 7}),
    ),
    Case(
        "correct check-in",
        CONTRIBUTE,
        "checked_in",
        lambda w, b, t: (
            "POST",
            f"{_kr(b)}/check-ins/{b.check_in_id if b else ''}/corrections",
            {"value": 5, "reason": "typo"},
        ),
    ),
    Case(
        "grade key result",
        CONTRIBUTE,
        "grading",
        lambda w, b, t: ("POST", f"{_kr(b)}/grade", {"score": 0.4, "comment": "as measured"}),
    ),
    Case(
        "grade objective",
        CONTRIBUTE,
        "grading",
        lambda w, b, t: ("POST", f"{_o(b)}/grade", {"score": 0.4, "comment": "as measured"}),
    ),
    Case(
        "reflect",
        CONTRIBUTE,
        "grading",
        lambda w, b, t: ("POST", f"{_o(b)}/reflection", {"text": "We learnt a lot."}),
    ),
    Case(
        "carry over",
        CONTRIBUTE,
        "checked_in",
        lambda w, b, t: ("POST", f"{_o(b)}/carry-over", {"to_cycle_id": str(w.next_cycle_id)}),
    ),
    Case(
        "abandon",
        CONTRIBUTE,
        "approved",
        lambda w, b, t: ("POST", f"{_o(b)}/abandon", {"reason": "strategy changed"}),
    ),
    Case("approve", DECIDE, "in_review", lambda w, b, t: ("POST", f"{_o(b)}/approve", None)),
    Case(
        "request changes",
        DECIDE,
        "in_review",
        lambda w, b, t: ("POST", f"{_o(b)}/request-changes", {"comment": "too easy"}),
    ),
    Case(
        "counter-propose",
        DECIDE,
        "in_review",
        lambda w, b, t: (
            "POST",
            f"{_o(b)}/counter-propose",
            {
                "changes": {"key_results": {str(b.key_result_id if b else ""): {"target": 15}}},
                "comment": "aim higher",
            },
        ),
    ),
    Case(
        "approve amendment",
        DECIDE,
        "amendment_pending",
        lambda w, b, t: (
            "POST",
            f"{_o(b)}/amendments/{b.amendment_id if b else ''}/approve",
            {"comment": "fine"},
        ),
    ),
    Case(
        "reject amendment",
        DECIDE,
        "amendment_pending",
        lambda w, b, t: (
            "POST",
            f"{_o(b)}/amendments/{b.amendment_id if b else ''}/reject",
            {"comment": "no"},
        ),
    ),
]


def _fresh_person(w: World) -> str:
    return str(w.person(f"p{uuid4().hex[:8]}", w["max"].role).person_id)


def _fresh_team(w: World) -> str:
    return str(w.team(f"t{uuid4().hex[:8]}", "acme"))


def _fresh_cycle(w: World, phase: str = "planning") -> str:
    ctx = CommandContext.system()
    today = date.today()
    cycle_id = w.ledger.plan_cycle("C", today, today + timedelta(days=90), ctx).id
    for step in {
        "planning": [],
        "active": ["start"],
        "grading": ["start", "grade"],
        "closed": ["start", "grade", "close"],
    }[phase]:
        {
            "start": w.ledger.start_cycle,
            "grade": w.ledger.open_grading,
            "close": w.ledger.close_cycle,
        }[step](cycle_id, ctx)
    return str(cycle_id)


def _with_member(w: World) -> tuple[str, str]:
    team = _fresh_team(w)
    person = _fresh_person(w)
    w.ledger.add_team_member(UUID(team), UUID(person), MemberRole.MEMBER, CommandContext.system())
    return team, person


ADMIN_CASES = [
    Case(
        "register person",
        ADMINISTER,
        None,
        lambda w, b, t: (
            "POST",
            f"{API}/people",
            {"name": "New", "email": f"{uuid4().hex[:10]}@acme.example"},
        ),
    ),
    Case(
        "rename person",
        ADMINISTER,
        None,
        lambda w, b, t: ("PATCH", f"{API}/people/{_fresh_person(w)}", {"name": "Renamed"}),
    ),
    Case(
        "change a person's e-mail",
        ADMINISTER,
        None,
        lambda w, b, t: (
            "POST",
            f"{API}/people/{_fresh_person(w)}/email",
            {"email": f"{uuid4().hex[:10]}@acme.example", "reason": "married"},
        ),
    ),
    Case(
        "deactivate person",
        ADMINISTER,
        None,
        lambda w, b, t: ("POST", f"{API}/people/{_fresh_person(w)}/deactivate", {"reason": "left"}),
    ),
    Case(
        "reactivate person",
        ADMINISTER,
        None,
        lambda w, b, t: _reactivate(w),
    ),
    Case(
        "issue token",
        ADMINISTER,
        None,
        lambda w, b, t: (
            "POST",
            f"{API}/tokens",
            {"person_id": _fresh_person(w), "role": "member"},
        ),
    ),
    Case(
        "revoke token",
        ADMINISTER,
        None,
        lambda w, b, t: (
            "POST",
            f"{API}/tokens/{w.person(f'p{uuid4().hex[:8]}', w['max'].role).token_id}/revoke",
            {"reason": "lost laptop"},
        ),
    ),
    Case(
        "form team",
        ADMINISTER,
        None,
        lambda w, b, t: (
            "POST",
            f"{API}/teams",
            {"name": "New", "parent_id": str(w.teams["acme"])},
        ),
    ),
    Case(
        "patch team",
        ADMINISTER,
        None,
        lambda w, b, t: ("PATCH", f"{API}/teams/{_fresh_team(w)}", {"name": "Renamed"}),
    ),
    Case(
        "add member",
        ADMINISTER,
        None,
        lambda w, b, t: (
            "POST",
            f"{API}/teams/{_fresh_team(w)}/members",
            {"person_id": _fresh_person(w), "role": "member"},
        ),
    ),
    Case(
        "change member role",
        ADMINISTER,
        None,
        lambda w, b, t: (
            "PATCH",
            "{}/teams/{}/members/{}".format(API, *_with_member(w)),
            {"role": "manager"},
        ),
    ),
    Case(
        "remove member",
        ADMINISTER,
        None,
        lambda w, b, t: ("DELETE", "{}/teams/{}/members/{}".format(API, *_with_member(w)), None),
    ),
    Case(
        "disband team",
        ADMINISTER,
        None,
        lambda w, b, t: ("POST", f"{API}/teams/{_fresh_team(w)}/disband", {"reason": "merged"}),
    ),
    Case(
        "plan cycle",
        ADMINISTER,
        None,
        lambda w, b, t: (
            "POST",
            f"{API}/cycles",
            {"name": "Q", "starts_on": "2030-01-01", "ends_on": "2030-03-31"},
        ),
    ),
    Case(
        "start cycle",
        ADMINISTER,
        None,
        lambda w, b, t: ("POST", f"{API}/cycles/{_fresh_cycle(w)}/start", None),
    ),
    Case(
        "open grading",
        ADMINISTER,
        None,
        lambda w, b, t: ("POST", f"{API}/cycles/{_fresh_cycle(w, 'active')}/grading", None),
    ),
    Case(
        "close cycle",
        ADMINISTER,
        None,
        lambda w, b, t: ("POST", f"{API}/cycles/{_fresh_cycle(w, 'grading')}/close", None),
    ),
    Case(
        "reopen cycle",
        ADMINISTER,
        None,
        lambda w, b, t: (
            "POST",
            f"{API}/cycles/{_fresh_cycle(w, 'closed')}/reopen",
            {"reason": "late grades"},
        ),
    ),
]


def _reactivate(w: World) -> Request:
    person = _fresh_person(w)
    w.ledger.deactivate_person(UUID(person), "leave", CommandContext.system())
    return ("POST", f"{API}/people/{person}/reactivate", {"reason": "back"})


@pytest.fixture(scope="module")
def matrix_world(module_ledger: Any) -> World:
    world = build_world(module_ledger)
    ctx = CommandContext.system()
    for name in ("admin", "auditor"):
        module_ledger.add_team_member(
            world.teams["platform"], world[name].person_id, MemberRole.MEMBER, ctx
        )
    return world


@pytest.fixture(scope="module")
def matrix_client(module_ledger: Any) -> Any:
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(module_ledger), raise_server_exceptions=False) as client:
        yield client


def _call(client: Any, world: World, role: str, request: Request) -> Any:
    method, path, body = request
    headers = world[CALLER[role]].headers
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("team", ["platform", "sales"], ids=["own_team", "other_team"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", OBJECTIVE_CASES, ids=lambda c: c.name.replace(" ", "_"))
def test_objective_writes(
    case: Case, role: str, team: str, matrix_world: World, matrix_client: Any
) -> None:
    built = objective_in(matrix_world, team, case.state) if case.state else None
    response = _call(matrix_client, matrix_world, role, case.request(matrix_world, built, team))
    allowed = case.rule[role] and team == "platform"
    if allowed:
        assert 200 <= response.status_code < 300, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["rule"] == "not_allowed"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", ADMIN_CASES, ids=lambda c: c.name.replace(" ", "_"))
def test_administration(case: Case, role: str, matrix_world: World, matrix_client: Any) -> None:
    response = _call(matrix_client, matrix_world, role, case.request(matrix_world, None, ""))
    if case.rule[role]:
        assert 200 <= response.status_code < 300, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["rule"] == "admin_only"


def test_every_write_route_is_in_the_matrix(matrix_client: Any) -> None:
    """A new write endpoint must join the matrix (or be listed here with why it is not)."""
    spec = matrix_client.get(f"{API}/openapi.json").json()
    writes = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in ("post", "patch", "put", "delete")
    }
    # Self-service writes (`/me/...`) act on the caller alone, whatever the role: every role
    # may, on their own person only (tests/notify/test_api.py).
    writes = {(method, path) for method, path in writes if not path.startswith(f"{API}/me/")}
    # The strategy layer's writes have their own matrix, in tests/api/test_strategy.py, and
    # the data sources' in tests/api/test_sources.py (an admin may act on any team's).
    from tests.api.test_sources import SOURCE_WRITES
    from tests.api.test_strategy import STRATEGY_CASES

    # A multipart upload (not a JSON body): its roles are checked in
    # tests/api/test_import_bad_files.py (test_only_admins_import).
    writes.discard(("POST", f"{API}/imports"))

    # The webhook endpoints' writes (admins only) have theirs in tests/webhooks/test_api.py.
    from tests.webhooks.test_api import WEBHOOK_WRITES

    assert len(writes) == (
        len(OBJECTIVE_CASES)
        + len(ADMIN_CASES)
        + len(STRATEGY_CASES)
        + len(WEBHOOK_WRITES)
        + len(SOURCE_WRITES)
    )
    assert set(WEBHOOK_WRITES) <= writes
