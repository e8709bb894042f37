"""GET /api/v1/access?as_of=: who held which role and team memberships at an instant, with the
events that granted them (auditors and admins only)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from domain.access import Role
from domain.base import CommandContext
from tests.api.conftest import API, World
from tests.api.test_queries import _ok

ADMIN_CTX = CommandContext(actor="an-admin")


def _people(client: Any, world: World, **params: str) -> dict[str, Any]:
    answer = _ok(client.get(f"{API}/access", params=params, headers=world["auditor"].headers))
    return {p["email"].split("@")[0]: p for p in answer["people"]}


def test_the_access_of_an_earlier_instant_and_of_now_with_the_events_that_granted_it(
    client: Any, world: World
) -> None:
    time.sleep(0.05)
    before = datetime.now(UTC)
    time.sleep(0.05)
    world.ledger.change_role(world["mia"].person_id, Role.AUDITOR, "moved to compliance", ADMIN_CTX)
    world.ledger.remove_team_member(world.teams["platform"], world["max"].person_id, ADMIN_CTX)
    world.ledger.deactivate_person(world["sue"].person_id, "left the company", ADMIN_CTX)

    then = _people(client, world, as_of=before.isoformat())
    assert then["mia"]["role"] == "manager"
    assert then["mia"]["role_granted_by"]["reason"] == "token issued with the role manager"
    assert [(t["team"], t["role"]) for t in then["mia"]["teams"]] == [("Platform", "manager")]
    assert [(t["team"], t["role"]) for t in then["max"]["teams"]] == [("Platform", "member")]
    assert then["sue"]["active"] is True

    now = _people(client, world)
    assert now["mia"]["role"] == "auditor"
    granted = now["mia"]["role_granted_by"]
    assert (granted["actor"], granted["reason"]) == ("an-admin", "moved to compliance")
    assert now["max"]["teams"] == []
    assert now["sue"]["active"] is False
    assert now["sue"]["active_since"]["reason"] == "left the company"
    assert "sue" not in _people(client, world, active_only="true")
    membership = now["sam"]["teams"][0]
    assert membership["team"] == "Sales" and membership["granted_by"]["position"] > 0


def test_only_auditors_and_admins_review_access(client: Any, world: World) -> None:
    assert client.get(f"{API}/access", headers=world["admin"].headers).status_code == 200
    refused = client.get(f"{API}/access", headers=world["mia"].headers)
    assert refused.status_code == 403 and refused.json()["rule"] == "auditors_only"
    assert client.get(f"{API}/access").status_code == 401


def test_a_malformed_instant_is_a_problem_naming_the_field(client: Any, world: World) -> None:
    bad = client.get(f"{API}/access", params={"as_of": "yesterday"}, headers=world["admin"].headers)
    assert bad.status_code == 422
    assert "as_of" in bad.text


def _web_sign_in(client: Any, token: str) -> None:
    page = client.get("/sign-in")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    signed = client.post(
        "/sign-in",
        data={"csrf_token": csrf.group(1), "token": token, "next": "/"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def test_the_audit_ui_has_an_access_view_with_an_as_of_picker(client: Any, world: World) -> None:
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    time.sleep(0.05)
    world.ledger.change_role(world["max"].person_id, Role.ADMIN, "promoted", ADMIN_CTX)
    _web_sign_in(client, world["auditor"].token)
    assert 'href="/audit/access"' in client.get("/audit").text
    now = client.get("/audit/access")
    assert now.status_code == 200 and 'name="as_of" type="datetime-local"' in now.text
    row = re.search(r"Max<br>.*?</tr>", now.text, re.S)
    assert row and '<td class="role">admin</td>' in row.group(0) and "promoted" in row.group(0)
    then = client.get("/audit/access", params={"as_of": before})
    row = re.search(r"Max<br>.*?</tr>", then.text, re.S)
    assert row and '<td class="role">member</td>' in row.group(0)


def test_members_do_not_see_the_access_view(client: Any, world: World) -> None:
    _web_sign_in(client, world["max"].token)
    assert client.get("/audit/access").status_code == 403
