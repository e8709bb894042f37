"""The API's caches never change an answer: remembered token holders and rendered trees.

Tokens: a remembered principal is refused at once when its token is revoked or its person
deactivated, whether through this app or by another process (the ledger directly here).
Trees: a write is seen by the next read that waits for its position, and a tree filtered for
one viewer is never sent to another, even when the directory changes between reads.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.base import CommandContext
from domain.team import MemberRole
from tests.api.conftest import API, World, objective_in
from tests.api.test_queries import _ids, _ok


def _key_result(nodes: list[dict[str, Any]], kr_id: UUID) -> dict[str, Any]:
    for node in nodes:
        for kr in node["key_results"]:
            if kr["key_result_id"] == str(kr_id):
                return kr  # type: ignore[no-any-return]
        try:
            return _key_result(node.get("children", []), kr_id)
        except LookupError:
            continue
    raise LookupError(kr_id)


SYSTEM = CommandContext.system()


def _settled(world: World, readmodels: Any) -> None:
    """Wait until the views applied what the test wrote through the ledger directly."""
    assert readmodels.wait_for(world.ledger.recorder.max_notification_id() or 0, 10)


# ------------------------------------------------------------------- tokens


def test_a_token_revoked_through_the_api_is_refused_at_once(client: Any, world: World) -> None:
    max_ = world["max"]
    assert _ok(client.get(f"{API}/me", headers=max_.headers))["person_id"] == str(max_.person_id)
    revoked = client.post(
        f"{API}/tokens/{max_.token_id}/revoke",
        json={"reason": "laptop lost"},
        headers=world["admin"].headers,
    )
    assert revoked.status_code == 200, revoked.text
    refused = client.get(f"{API}/me", headers=max_.headers)
    assert refused.status_code == 401 and refused.json()["rule"] == "token_invalid"


def test_a_token_revoked_by_another_process_is_refused_at_once(client: Any, world: World) -> None:
    sue = world["sue"]
    for _ in range(2):  # remembered after the first
        _ok(client.get(f"{API}/me", headers=sue.headers))
    world.ledger.revoke_token(sue.token_id, "rotated", SYSTEM)  # not through this app
    assert client.get(f"{API}/me", headers=sue.headers).status_code == 401
    assert client.get(f"{API}/teams", headers=sue.headers).status_code == 401


def test_a_deactivated_person_is_refused_at_once_and_welcome_again_when_reactivated(
    client: Any, world: World
) -> None:
    sam = world["sam"]
    _ok(client.get(f"{API}/me", headers=sam.headers))
    world.ledger.deactivate_person(sam.person_id, "left", SYSTEM)
    assert client.get(f"{API}/me", headers=sam.headers).status_code == 401
    world.ledger.reactivate_person(sam.person_id, "came back", SYSTEM)
    assert _ok(client.get(f"{API}/me", headers=sam.headers))["person_id"] == str(sam.person_id)


def test_one_token_revoked_leaves_the_persons_other_tokens_working(
    client: Any, world: World
) -> None:
    mia = world["mia"]
    spare_headers = world.another_token("mia")
    _ok(client.get(f"{API}/me", headers=mia.headers))
    _ok(client.get(f"{API}/me", headers=spare_headers))
    world.ledger.revoke_token(mia.token_id, "replaced", SYSTEM)
    assert client.get(f"{API}/me", headers=mia.headers).status_code == 401
    _ok(client.get(f"{API}/me", headers=spare_headers))


# -------------------------------------------------------------------- trees


def test_a_read_with_min_position_sees_the_write_the_cached_tree_predates(
    client: Any, world: World
) -> None:
    built = objective_in(world, "platform", "approved")
    _settled(world, client.app.state.services.readmodels)
    path = f"{API}/cycles/{world.active_cycle_id}/tree"
    max_ = world["max"]
    for _ in range(2):  # the second answer comes from the cache
        before = _key_result(
            _ok(client.get(path, headers=max_.headers))["roots"], built.key_result_id
        )
        assert before["current_value"] is None
    written = client.post(
        f"{API}/objectives/{built.objective_id}/key-results/{built.key_result_id}/check-ins",
        json={"value": 7, "confidence": 8},
        headers=max_.headers,
    )
    assert written.status_code == 201, written.text
    position = written.json()["position"]
    for headers in (max_.headers, world["admin"].headers):
        after = _ok(client.get(path, params={"min_position": position}, headers=headers))
        kr = _key_result(after["roots"], built.key_result_id)
        assert kr["current_value"] == 7 and kr["confidence"] == 8


@pytest.mark.parametrize("first", ["max", "admin", "auditor", "mia"])
def test_a_tree_filtered_for_one_viewer_is_never_sent_to_another(
    client: Any, world: World, first: str
) -> None:
    private = objective_in(world, "platform", "approved", private=True)
    public = objective_in(world, "sales", "approved")
    _settled(world, client.app.state.services.readmodels)
    path = f"{API}/cycles/{world.active_cycle_id}/tree"
    secret, shown = str(private.objective_id), str(public.objective_id)
    # Someone who sees the private objective reads first (and fills the cache) ...
    assert secret in _ids(_ok(client.get(path, headers=world[first].headers))["roots"])
    # ... then readers who may not see it, twice each.
    for name in ("sue", "sam", "sue", "sam"):
        roots = _ok(client.get(path, headers=world[name].headers))["roots"]
        assert secret not in _ids(roots) and shown in _ids(roots), name


def test_a_tree_follows_the_viewers_rights_as_the_directory_changes(
    client: Any, world: World
) -> None:
    private = objective_in(world, "platform", "approved", private=True)
    _settled(world, client.app.state.services.readmodels)
    path = f"{API}/cycles/{world.active_cycle_id}/tree"
    secret = str(private.objective_id)
    sue, max_ = world["sue"], world["max"]
    assert secret not in _ids(_ok(client.get(path, headers=sue.headers))["roots"])
    world.ledger.add_team_member(world.teams["platform"], sue.person_id, MemberRole.MEMBER, SYSTEM)
    assert secret in _ids(_ok(client.get(path, headers=sue.headers))["roots"])
    assert secret in _ids(_ok(client.get(path, headers=max_.headers))["roots"])
    world.ledger.remove_team_member(world.teams["platform"], max_.person_id, SYSTEM)
    assert secret not in _ids(_ok(client.get(path, headers=max_.headers))["roots"])
    assert secret in _ids(_ok(client.get(path, headers=sue.headers))["roots"])


def test_a_cached_tree_is_the_tree_the_models_answer(client: Any, world: World) -> None:
    objective_in(world, "platform", "checked_in")
    objective_in(world, "sales", "approved", private=True)
    _settled(world, client.app.state.services.readmodels)
    path = f"{API}/cycles/{world.active_cycle_id}/tree"
    headers = world["auditor"].headers
    first, second = (_ok(client.get(path, headers=headers)) for _ in range(2))
    assert first == second
    readmodels = client.app.state.services.readmodels
    assert first["position"] == readmodels.caught_up_position() and first["as_of"] is None
    assert first["roots"] == readmodels.tree(world.active_cycle_id)


def test_with_the_caches_off_the_answers_are_the_same(
    ledger: Any, readmodels: Any, world: World
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from infra.settings import Settings

    objective_in(world, "platform", "approved", private=True)
    _settled(world, readmodels)
    path = f"{API}/cycles/{world.active_cycle_id}/tree"
    answers = []
    for size, seconds in ((0, 0.0), (64, 60.0)):
        settings = Settings(tree_cache_size=size, principal_cache_seconds=seconds)
        app = create_app(ledger, readmodels=readmodels, settings=settings, ui=False)
        with TestClient(app) as client:
            for name in ("max", "sue", "max", "sue"):
                answers.append(_ok(client.get(path, headers=world[name].headers)))
            if size:
                world.ledger.revoke_token(world["sue"].token_id, "rotated", SYSTEM)
                assert client.get(path, headers=world["sue"].headers).status_code == 401
    assert answers[:4] == answers[4:]
    assert answers[0] == answers[2] != answers[1] == answers[3]
