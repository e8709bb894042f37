"""A role belongs to the person: every token of theirs acts with their current role, and each
change of it is an event naming who changed it and why.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.access import Role
from domain.base import CommandContext
from domain.errors import RuleViolated
from domain.person import Person
from tests.api.conftest import API, World
from tests.api.test_queries import _ok

SYSTEM = CommandContext.system()


def _role_changes(world: World, person_id: Any) -> list[Person.RoleChanged]:
    person = world.ledger.get_person(person_id)
    events = world.ledger.repository.event_store.get(person.id)
    return [e for e in events if isinstance(e, Person.RoleChanged)]


def test_a_token_issued_with_a_role_gives_the_person_that_role_as_an_event(world: World) -> None:
    mia = world["mia"]
    assert world.ledger.get_person(mia.person_id).role == mia.role.value
    changes = _role_changes(world, mia.person_id)
    assert [(c.previous, c.role) for c in changes] == [("", mia.role.value)]
    assert changes[0].actor == "system" and "token issued" in changes[0].reason


def test_a_role_changed_elsewhere_applies_at_once_to_every_token_of_the_person(
    client: Any, world: World
) -> None:
    mia = world["mia"]
    spare_headers = world.another_token("mia")
    for _ in range(2):  # the second answer comes from the remembered principal
        assert _ok(client.get(f"{API}/me", headers=mia.headers))["role"] == mia.role.value
    world.ledger.change_role(mia.person_id, Role.AUDITOR, "access review", SYSTEM)
    assert _ok(client.get(f"{API}/me", headers=mia.headers))["role"] == "auditor"
    assert _ok(client.get(f"{API}/me", headers=spare_headers))["role"] == "auditor"
    # an auditor writes nothing, whatever role the token was issued with
    refused = client.post(f"{API}/teams", json={"name": "Skunkworks"}, headers=mia.headers)
    assert refused.status_code == 403, refused.text
    change = _role_changes(world, mia.person_id)[-1]
    assert (change.previous, change.role, change.reason) == (
        mia.role.value,
        "auditor",
        "access review",
    )


def test_a_new_token_with_another_role_changes_the_persons_role_for_all_their_tokens(
    client: Any, world: World
) -> None:
    sam = world["sam"]
    assert _ok(client.get(f"{API}/me", headers=sam.headers))["role"] == sam.role.value
    world.ledger.issue_token(sam.person_id, Role.MANAGER, SYSTEM)
    assert _ok(client.get(f"{API}/me", headers=sam.headers))["role"] == "manager"


def test_the_same_role_again_is_refused_with_the_rule(world: World) -> None:
    sue = world["sue"]
    with pytest.raises(RuleViolated) as refused:
        world.ledger.change_role(sue.person_id, sue.role, "again", SYSTEM)
    assert refused.value.rule == "role_unchanged"
