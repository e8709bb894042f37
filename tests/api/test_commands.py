"""Every command endpoint and single-aggregate read, with the errors each can answer."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

from domain.application import OkrLedger
from domain.base import CommandContext
from tests.api.answers import Refused, refuses
from tests.api.answers import ok as _ok
from tests.api.answers import problem as _problem
from tests.api.conftest import API, World, objective_in

# --------------------------------------------------------------------- people


def test_people_lifecycle(client: Any, world: World) -> None:
    admin = world["admin"].headers
    created = _ok(
        client.post(
            f"{API}/people", json={"name": "Zoe", "email": "Zoe@Acme.example"}, headers=admin
        ),
        201,
    )
    assert set(created) == {"id", "version", "position"}
    person_id = created["id"]
    read = client.get(f"{API}/people/{person_id}", headers=world["sue"].headers)
    assert _ok(read) == {
        "id": person_id,
        "version": 1,
        "name": "Zoe",
        "email": "zoe@acme.example",
        "active": True,
    }
    assert read.headers["ETag"] == '"1"'

    people, zoe = f"{API}/people", f"{API}/people/{person_id}"
    stale = {"If-Match": '"7"'}
    refuses(
        client,
        admin,
        Refused(
            "POST", people, {"name": "Z", "email": "zoe@acme.example"}, 409, "email_taken", "email"
        ),
        Refused(
            "POST", people, {"name": "Z", "email": "not-an-address"}, 422, "email_invalid", "email"
        ),
        Refused("PATCH", zoe, {"name": "Zoë"}, 412, "version_mismatch", "If-Match", headers=stale),
    )
    renamed = _ok(
        client.patch(
            f"{API}/people/{person_id}", json={"name": "Zoë"}, headers={**admin, "If-Match": '"1"'}
        )
    )
    assert renamed["version"] == 2
    _ok(client.post(f"{API}/people/{person_id}/deactivate", json={"reason": "left"}, headers=admin))
    refuses(
        client,
        admin,
        Refused("POST", f"{zoe}/deactivate", {"reason": "again"}, 409, "person_inactive"),
        Refused("GET", f"{people}/{uuid4()}", None, 404, "person_not_found"),
    )
    _ok(client.post(f"{API}/people/{person_id}/reactivate", json={"reason": "back"}, headers=admin))

    listed = _ok(client.get(f"{API}/people", params={"limit": 2, "offset": 1}, headers=admin))
    assert listed["total"] == len(world.actors) + 1
    assert len(listed["items"]) == 2 and listed["offset"] == 1
    inactive = _ok(client.get(f"{API}/people", params={"active": False}, headers=admin))
    assert inactive["total"] == 0
    zoe = next(
        p
        for p in _ok(client.get(f"{API}/people", params={"limit": 500}, headers=admin))["items"]
        if p["id"] == person_id
    )
    assert zoe["version"] == 4 and zoe["name"] == "Zoë"


def test_me(client: Any, world: World) -> None:
    me = _ok(client.get(f"{API}/me", headers=world["mia"].headers))
    assert me["person_id"] == str(world["mia"].person_id)
    assert me["role"] == "manager"
    assert me["teams"] == [
        {"team_id": str(world.teams["platform"]), "team_name": "Platform", "role": "manager"}
    ]
    assert me["managed_team_ids"] == [str(world.teams["platform"])]


# --------------------------------------------------------------------- tokens


def test_tokens_are_issued_to_people_and_revoked(client: Any, world: World) -> None:
    admin = world["admin"].headers
    issued = _ok(
        client.post(
            f"{API}/tokens",
            json={"person_id": str(world["sue"].person_id), "role": "auditor", "label": "audit"},
            headers=admin,
        ),
        201,
    )
    assert issued["token"].startswith("okr_")
    assert issued["token_id"] == issued["id"]
    as_auditor = {"Authorization": f"Bearer {issued['token']}"}
    assert _ok(client.get(f"{API}/me", headers=as_auditor))["role"] == "auditor"

    _ok(
        client.post(
            f"{API}/tokens/{issued['token_id']}/revoke", json={"reason": "done"}, headers=admin
        )
    )
    _problem(client.get(f"{API}/me", headers=as_auditor), 401, "token_invalid")
    tokens, sue = f"{API}/tokens", str(world["sue"].person_id)
    to_nobody = {"person_id": str(uuid4()), "role": "member"}
    refuses(
        client,
        admin,
        Refused(
            "POST", f"{tokens}/{issued['token_id']}/revoke", {"reason": "x"}, 409, "token_revoked"
        ),
        Refused("POST", f"{tokens}/{uuid4()}/revoke", {"reason": "x"}, 404, "token_not_found"),
        Refused("POST", tokens, to_nobody, 404, "person_not_found", "person_id"),
        Refused("POST", tokens, {"person_id": sue, "role": "superuser"}, 422, "enum", "role"),
    )


def test_authentication(client: Any, world: World) -> None:
    missing = client.get(f"{API}/me")
    _problem(missing, 401, "token_missing")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    me = f"{API}/me"
    refuses(
        client,
        {},
        Refused(
            "GET", me, None, 401, "token_invalid", headers={"Authorization": "Bearer okr_nope"}
        ),
        Refused("GET", me, None, 401, "token_missing", headers={"Authorization": "Basic abc"}),
    )
    # a deactivated person's tokens stop working
    admin = world["admin"].headers
    _ok(
        client.post(
            f"{API}/people/{world['sue'].person_id}/deactivate",
            json={"reason": "left"},
            headers=admin,
        )
    )
    _problem(client.get(f"{API}/me", headers=world["sue"].headers), 401, "token_invalid")


# ---------------------------------------------------------------------- teams


def test_teams(client: Any, world: World) -> None:
    admin = world["admin"].headers
    acme = str(world.teams["acme"])
    team = _ok(
        client.post(f"{API}/teams", json={"name": "Data", "parent_id": acme}, headers=admin), 201
    )
    team_id = team["id"]
    assert (
        client.post(
            f"{API}/teams", json={"name": "Orphan", "parent_id": str(uuid4())}, headers=admin
        ).status_code
        == 404
    )
    person = str(world["sue"].person_id)
    members = f"{API}/teams/{team_id}/members"
    _ok(client.post(members, json={"person_id": person}, headers=admin))
    Refused("POST", members, {"person_id": person}, 409, "already_member", "person_id").check(
        client, admin
    )
    _ok(
        client.patch(
            f"{API}/teams/{team_id}/members/{person}", json={"role": "manager"}, headers=admin
        )
    )
    read = client.get(f"{API}/teams/{team_id}", headers=world["max"].headers)
    assert _ok(read)["members"] == [{"person_id": person, "role": "manager"}]
    assert read.headers["ETag"] == '"3"'
    # rename and move in one PATCH; a move under itself is refused
    team = f"{API}/teams/{team_id}"
    Refused("PATCH", team, {"parent_id": team_id}, 409, "team_hierarchy_cycle", "parent_id").check(
        client, admin
    )
    moved = _ok(
        client.patch(
            f"{API}/teams/{team_id}",
            json={"name": "Data & AI", "parent_id": None},
            headers={**admin, "If-Match": '"3"'},
        )
    )
    assert moved["version"] == 5
    assert _ok(client.get(f"{API}/teams/{team_id}", headers=admin))["parent_id"] is None
    Refused("PATCH", team, {}, 422, "nothing_to_change").check(client, admin)
    _ok(client.delete(f"{team}/members/{person}", headers=admin))
    Refused("DELETE", f"{team}/members/{person}", None, 409, "not_a_member").check(client, admin)
    _ok(client.post(f"{API}/teams/{team_id}/disband", json={"reason": "merged"}, headers=admin))
    listed = _ok(client.get(f"{API}/teams", headers=admin))
    assert team_id not in {t["id"] for t in listed["items"]}
    with_disbanded = _ok(
        client.get(f"{API}/teams", params={"include_disbanded": True}, headers=admin)
    )
    assert team_id in {t["id"] for t in with_disbanded["items"]}
    below_acme = _ok(client.get(f"{API}/teams", params={"parent_id": acme}, headers=admin))
    assert {t["name"] for t in below_acme["items"]} == {"Platform", "Sales"}


# --------------------------------------------------------------------- cycles


def test_cycle_phases(client: Any, world: World) -> None:
    admin = world["admin"].headers

    def cycle(name: str, starts_on: str, ends_on: str, **more: str) -> dict[str, str]:
        return {"name": name, "starts_on": starts_on, "ends_on": ends_on, **more}

    q1 = cycle("2030 Q1", "2030-01-01", "2030-03-31", cadence="biweekly", scoring="yes_no")
    cycle_id = _ok(client.post(f"{API}/cycles", json=q1, headers=admin), 201)["id"]
    path = f"{API}/cycles/{cycle_id}"
    backwards = cycle("Backwards", "2030-03-31", "2030-01-01")
    refuses(
        client,
        admin,
        Refused("POST", f"{API}/cycles", backwards, 422, "cycle_ends_before_start", "ends_on"),
        Refused("POST", f"{path}/close", None, 409, "wrong_cycle_phase"),
    )
    _ok(client.post(f"{path}/start", headers={**admin, "If-Match": '"1"'}))
    stale = {"If-Match": '"1"'}
    Refused("POST", f"{path}/grading", None, 412, "version_mismatch", headers=stale).check(
        client, admin
    )
    _ok(client.post(f"{path}/grading", headers=admin))
    _ok(client.post(f"{path}/close", headers=admin))
    Refused("POST", f"{path}/reopen", {}, 422, "missing", "reason").check(client, admin)
    _ok(
        client.post(f"{API}/cycles/{cycle_id}/reopen", json={"reason": "late grade"}, headers=admin)
    )
    read = client.get(f"{API}/cycles/{cycle_id}", headers=world["max"].headers)
    assert _ok(read)["phase"] == "grading" and read.headers["ETag"] == '"5"'
    assert _ok(read)["scoring"] == "yes_no"
    grading = _ok(client.get(f"{API}/cycles", params={"phase": "grading"}, headers=admin))
    assert [c["id"] for c in grading["items"]] == [cycle_id]
    everything = _ok(client.get(f"{API}/cycles", headers=admin))
    assert everything["items"][0]["id"] == cycle_id  # latest start first
    Refused("GET", f"{API}/cycles/{uuid4()}", None, 404, "cycle_not_found").check(client, admin)


# ------------------------------------------------------------------ objectives


def test_drafting_and_negotiation(client: Any, world: World) -> None:
    max_, mia, ceo = world["max"].headers, world["mia"].headers, world["ceo"].headers
    draft = _ok(
        client.post(
            f"{API}/objectives",
            json={
                "cycle_id": str(world.cycle_id),
                "owner_team_id": str(world.teams["platform"]),
                "title": "Builds are fast",
                "kind": "aspirational",
                "perspective": "internal_process",
            },
            headers=max_,
        ),
        201,
    )
    oid = draft["id"]
    kr = _ok(
        client.post(
            f"{API}/objectives/{oid}/key-results",
            json={
                "title": "p95 build minutes",
                "measure": "metric",
                "baseline": 20,
                "target": 5,
                "direction": "decrease",
                "unit": "min",
            },
            headers=max_,
        ),
        201,
    )
    kr_id = kr["key_result_id"]
    wrong_way = {
        "title": "Wrong way",
        "measure": "metric",
        "baseline": 20,
        "target": 30,
        "direction": "decrease",
    }
    krs = f"{API}/objectives/{oid}/key-results"
    Refused("POST", krs, wrong_way, 422, "target_above_baseline", "target").check(client, max_)
    second = _ok(
        client.post(
            f"{API}/objectives/{oid}/key-results",
            json={"title": "Cache shipped", "measure": "milestone"},
            headers=max_,
        ),
        201,
    )
    _ok(
        client.delete(
            f"{API}/objectives/{oid}/key-results/{second['key_result_id']}",
            params={"reason": "later"},
            headers=max_,
        )
    )
    _ok(
        client.patch(
            f"{API}/objectives/{oid}/key-results/{kr_id}", json={"target": 6}, headers=max_
        )
    )
    _ok(
        client.patch(
            f"{API}/objectives/{oid}", json={"description": "CI under 6 minutes"}, headers=max_
        )
    )
    refuses(
        client,
        max_,
        Refused("PATCH", f"{API}/objectives/{oid}", {}, 422, "nothing_to_change"),
        Refused("PATCH", f"{krs}/{uuid4()}", {"target": 6}, 404, "key_result_not_found"),
    )

    # request changes → resubmit → counter-propose → accept
    mia_id = str(world["mia"].person_id)
    Refused("POST", f"{API}/objectives/{oid}/approve", None, 409, "not_in_review").check(
        client, mia
    )
    _ok(client.post(f"{API}/objectives/{oid}/submit", json={"approver_id": mia_id}, headers=max_))
    _ok(
        client.post(
            f"{API}/objectives/{oid}/request-changes", json={"comment": "aim for 4"}, headers=mia
        )
    )
    _ok(
        client.patch(
            f"{API}/objectives/{oid}/key-results/{kr_id}", json={"target": 4}, headers=max_
        )
    )
    _ok(client.post(f"{API}/objectives/{oid}/submit", json={"approver_id": mia_id}, headers=max_))
    _ok(client.post(f"{API}/objectives/{oid}/withdraw", headers=max_))
    _ok(client.post(f"{API}/objectives/{oid}/submit", json={"approver_id": mia_id}, headers=max_))
    counter = f"{API}/objectives/{oid}/counter-propose"
    empty = {"changes": {}, "comment": "hm"}
    Refused("POST", counter, empty, 422, "changes_empty", "changes").check(client, mia)
    _ok(
        client.post(
            f"{API}/objectives/{oid}/counter-propose",
            json={"changes": {"key_results": {kr_id: {"target": 5}}}, "comment": "4 is too far"},
            headers=mia,
        )
    )
    _ok(client.post(f"{API}/objectives/{oid}/accept-counter", headers=max_))
    objective = client.get(f"{API}/objectives/{oid}", headers=world["sue"].headers)
    body = _ok(objective)
    assert body["status"] == "approved"
    assert body["approved_by"] == mia_id
    assert body["submitted_by"] == str(world["max"].person_id)  # the token's person
    assert body["key_results"][0]["target"] == 5
    assert objective.headers["ETag"] == f'"{body["version"]}"'
    Refused("PATCH", f"{krs}/{kr_id}", {"target": 3}, 409, "amendment_required").check(client, max_)
    # the CEO may decide too (above Platform), but nobody approves their own proposal
    own = _ok(
        client.post(
            f"{API}/objectives",
            json={
                "cycle_id": str(world.cycle_id),
                "owner_person_id": str(world["ceo"].person_id),
                "title": "Hire well",
            },
            headers=ceo,
        ),
        201,
    )
    _ok(
        client.post(
            f"{API}/objectives/{own['id']}/key-results",
            json={"title": "Hires", "measure": "metric", "baseline": 0, "target": 3},
            headers=ceo,
        ),
        201,
    )
    to_self = {"approver_id": str(world["ceo"].person_id)}
    submit = f"{API}/objectives/{own['id']}/submit"
    Refused("POST", submit, to_self, 409, "no_self_approval", "approver_id").check(client, ceo)


def test_amendments(client: Any, world: World) -> None:
    built = objective_in(world, "platform", "approved")
    oid, kr = built.objective_id, built.key_result_id
    max_, mia = world["max"].headers, world["mia"].headers
    amendment = _ok(
        client.post(
            f"{API}/objectives/{oid}/amendments",
            json={"changes": {"key_results": {str(kr): {"target": 8}}}, "reason": "budget cut"},
            headers=max_,
        ),
        201,
    )
    aid = amendment["amendment_id"]
    amendments = f"{API}/objectives/{oid}/amendments"
    another = {"changes": {"title": "X"}, "reason": "another"}
    Refused("POST", amendments, another, 409, "amendment_pending").check(client, max_)
    Refused("POST", f"{amendments}/{uuid4()}/approve", None, 404, "amendment_not_found").check(
        client, mia
    )
    _ok(
        client.post(
            f"{API}/objectives/{oid}/amendments/{aid}/approve", json={"comment": "ok"}, headers=mia
        )
    )
    Refused(
        "POST", f"{amendments}/{aid}/reject", {"comment": "no"}, 409, "amendment_decided"
    ).check(client, mia)
    second = _ok(
        client.post(
            f"{API}/objectives/{oid}/amendments",
            json={
                "changes": {"add_key_results": [{"title": "Docs", "measure": "milestone"}]},
                "reason": "scope",
            },
            headers=max_,
        ),
        201,
    )
    _ok(
        client.post(
            f"{API}/objectives/{oid}/amendments/{second['amendment_id']}/reject",
            json={"comment": "not now"},
            headers=mia,
        )
    )
    body = _ok(client.get(f"{API}/objectives/{oid}", headers=max_))
    assert body["key_results"][0]["target"] == 8
    assert [a["status"] for a in body["amendments"]] == ["approved", "rejected"]
    assert body["amendments"][0]["decided_by"] == str(world["mia"].person_id)


def test_tracking_grading_reflection_and_carry_over(client: Any, world: World) -> None:
    built = objective_in(world, "platform", "approved")
    oid, kr = built.objective_id, built.key_result_id
    max_ = world["max"].headers
    path = f"{API}/objectives/{oid}/key-results/{kr}/check-ins"
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    first = _ok(
        client.post(
            path, json={"value": 30, "confidence": 7, "effective_on": yesterday}, headers=max_
        ),
        201,
    )
    late = {"value": 3, "confidence": 5, "effective_on": "2999-01-01"}
    refuses(
        client,
        max_,
        Refused("POST", path, {"value": 3, "confidence": 11}, 422, "less_than_equal", "confidence"),
        Refused("POST", path, late, 422, "effective_date_outside_cycle", "effective_on"),
    )
    nan = client.post(
        path,
        content=b'{"value": NaN, "confidence": 5}',
        headers={**max_, "Content-Type": "application/json"},
    )
    assert nan.status_code == 422, nan.text
    corrected = _ok(
        client.post(
            f"{path}/{first['check_in_id']}/corrections",
            json={"value": 3, "reason": "typo: 3 not 30"},
            headers=max_,
        ),
        201,
    )
    assert corrected["check_in_id"] != first["check_in_id"]
    again = {"value": 4, "reason": "again"}
    kr_path = f"{API}/objectives/{oid}/key-results/{kr}"
    refuses(
        client,
        max_,
        Refused(
            "POST", f"{path}/{first['check_in_id']}/corrections", again, 409, "check_in_superseded"
        ),
        Refused("POST", f"{path}/{uuid4()}/corrections", again, 404, "check_in_not_found"),
        # grading is for the grading phase
        Refused("POST", f"{kr_path}/grade", {"score": 0.3}, 409, "wrong_cycle_phase"),
    )
    carried = _ok(
        client.post(
            f"{API}/objectives/{oid}/carry-over",
            json={"to_cycle_id": str(world.next_cycle_id)},
            headers=max_,
        ),
        201,
    )
    successor = _ok(client.get(f"{API}/objectives/{carried['id']}", headers=max_))
    assert successor["carried_from"] == str(oid)
    assert (
        successor["key_results"][0]["lineage_id"]
        == _ok(client.get(f"{API}/objectives/{oid}", headers=max_))["key_results"][0]["lineage_id"]
    )

    graded = objective_in(world, "platform", "grading")
    g = f"{API}/objectives/{graded.objective_id}"
    _ok(client.post(f"{g}/key-results/{graded.key_result_id}/grade", json={}, headers=max_))
    kr_grade = f"{g}/key-results/{graded.key_result_id}/grade"
    Refused("POST", kr_grade, {"score": 0.9}, 422, "override_needs_comment", "comment").check(
        client, max_
    )
    _ok(client.post(f"{g}/grade", json={}, headers=max_))
    # a manager above the team adjusting the owners' grade says why, even matching the mean
    ceo = world["ceo"].headers
    Refused("POST", f"{g}/grade", {"score": 0.4}, 422, "adjustment_needs_comment", "comment").check(
        client, ceo
    )
    _ok(
        client.post(
            f"{g}/grade", json={"score": 0.5, "comment": "context the team missed"}, headers=ceo
        )
    )
    _ok(client.post(f"{g}/reflection", json={"text": "Start measuring earlier."}, headers=max_))
    body = _ok(client.get(g, headers=max_))
    assert body["score"] == 0.5 and body["reflection"] == "Start measuring earlier."
    _ok(client.post(f"{API}/objectives/{oid}/abandon", json={"reason": "superseded"}, headers=max_))
    abandon = f"{API}/objectives/{oid}/abandon"
    Refused("POST", abandon, {"reason": "again"}, 409, "objective_abandoned").check(client, max_)


def test_private_objectives_do_not_leak(client: Any, world: World) -> None:
    built = objective_in(world, "platform", "draft", private=True)
    path = f"{API}/objectives/{built.objective_id}"
    for name in ("max", "mia", "ceo", "auditor", "admin"):
        assert client.get(path, headers=world[name].headers).status_code == 200, name
    aligned = {
        "cycle_id": str(world.cycle_id),
        "owner_team_id": str(world.teams["sales"]),
        "title": "Aligned",
        "parent_objective_id": str(built.objective_id),
    }
    for name in ("sue", "sam"):
        refuses(
            client,
            world[name].headers,
            Refused("GET", path, None, 404, "objective_not_found"),
            # writing to it is a 404 as well, not a 403
            Refused("PATCH", path, {"title": "x"}, 404, "objective_not_found"),
        )
    # and nobody aligns to what they cannot see
    Refused(
        "POST", f"{API}/objectives", aligned, 404, "objective_not_found", "parent_objective_id"
    ).check(client, world["sue"].headers)


def test_realign_and_reassign(client: Any, world: World) -> None:
    parent = objective_in(world, "platform", "draft")
    child = objective_in(world, "platform", "draft")
    max_ = world["max"].headers
    path = f"{API}/objectives/{child.objective_id}"
    _ok(
        client.patch(
            path,
            json={
                "parent_objective_id": str(parent.objective_id),
                "parent_key_result_id": str(parent.key_result_id),
            },
            headers=max_,
        )
    )
    body = _ok(client.get(path, headers=max_))
    assert body["parent_key_result_id"] == str(parent.key_result_id)
    sales = {"owner_team_id": str(world.teams["sales"])}
    refuses(
        client,
        max_,
        Refused("PATCH", path, sales, 403, "not_allowed"),
        Refused("PATCH", path, {"owner_team_id": None, "owner_person_id": None}, 422, "one_owner"),
    )
    _ok(client.patch(path, json={"owner_person_id": str(world["max"].person_id)}, headers=max_))
    assert _ok(client.get(path, headers=max_))["owner_person_id"] == str(world["max"].person_id)


def test_the_actor_is_never_taken_from_the_body(client: Any, world: World) -> None:
    built = objective_in(world, "platform", "draft")
    response = client.post(
        f"{API}/objectives/{built.objective_id}/submit",
        json={"approver_id": str(world["mia"].person_id), "actor": str(world["ceo"].person_id)},
        headers=world["max"].headers,
    )
    _problem(response, 422, "extra_forbidden", "actor")
    objective = world.ledger.get_objective(built.objective_id)
    assert objective.status.value == "draft"


def test_request_ids_are_recorded_on_events(client: Any, world: World) -> None:
    built = objective_in(world, "platform", "draft")
    response = client.post(
        f"{API}/objectives/{built.objective_id}/submit",
        json={"approver_id": str(world["mia"].person_id)},
        headers={**world["max"].headers, "X-Request-ID": "req-42"},
    )
    assert response.headers["X-Request-ID"] == "req-42"
    events = list(world.ledger.repository.event_store.get(built.objective_id))
    assert events[-1].request_id == "req-42"
    assert events[-1].actor == str(world["max"].person_id)


def test_an_e_mail_someone_changed_to_cannot_be_registered(
    client: Any, world: World, ledger: OkrLedger
) -> None:
    """Registration reads who has an address now (the directory's e-mail index), not only who
    registered with it: 409 `email_taken` naming the field; the address left is free."""
    admin = world["admin"].headers
    zoe = _ok(
        client.post(f"{API}/people", json={"name": "Zoe", "email": "zoe@a.example"}, headers=admin),
        201,
    )
    ledger.change_email(UUID(zoe["id"]), "zoe@b.example", "married", CommandContext.system())
    taken = {"name": "Z", "email": "Zoe@B.example"}
    Refused("POST", f"{API}/people", taken, 409, "email_taken", "email").check(client, admin)
    again = client.post(
        f"{API}/people", json={"name": "Y", "email": "zoe@a.example"}, headers=admin
    )
    assert _ok(again, 201)["id"] != zoe["id"]


def test_an_admin_changes_a_person_s_e_mail_over_http(
    client: Any, world: World, ledger: OkrLedger
) -> None:
    """POST /people/{id}/email: the same person (id, history) with a new address, which is then
    taken; a taken address is 409 `email_taken`, a stale If-Match 412, bad input 422."""
    admin = world["admin"].headers
    zoe = _ok(
        client.post(f"{API}/people", json={"name": "Zoe", "email": "zoe@a.example"}, headers=admin),
        201,
    )
    path = f"{API}/people/{zoe['id']}/email"
    changed = _ok(
        client.post(
            path,
            json={"email": "zoe@b.example", "reason": "married"},
            headers={**admin, "If-Match": f'"{zoe["version"]}"'},
        )
    )
    assert changed["id"] == zoe["id"] and changed["version"] == zoe["version"] + 1
    read = _ok(client.get(f"{API}/people/{zoe['id']}", headers=admin))
    assert read["email"] == "zoe@b.example"
    events = list(ledger.repository.event_store.get(UUID(zoe["id"])))
    assert type(events[-1]).__name__ == "EmailChanged" and events[-1].reason == "married"
    seen, by_max = {"If-Match": f'"{zoe["version"]}"'}, world["max"].headers
    people, nobody = f"{API}/people", f"{API}/people/{uuid4()}/email"
    taken = {"name": "Z", "email": "ZOE@b.example"}
    mistake = {"email": "max@acme.example", "reason": "mistake"}
    again = {"email": "zoe@c.example", "reason": "again"}
    empty = {"email": "zoe@c.example", "reason": ""}
    by_max_body = {"email": "zoe@d.example", "reason": "x"}
    refuses(
        client,
        admin,
        Refused("POST", people, taken, 409, "email_taken", "email"),
        Refused("POST", path, mistake, 409, "email_taken", "email"),
        Refused("POST", path, again, 412, "version_mismatch", headers=seen),
        Refused("POST", path, {"email": "zoe@c.example"}, 422, "missing", "reason"),
        Refused("POST", path, empty, 422, "string_too_short", "reason"),
        Refused(
            "POST", path, {"email": "not an address", "reason": "x"}, 422, "email_invalid", "email"
        ),
        Refused("POST", path, by_max_body, 403, "admin_only", headers=by_max),
        Refused("POST", nobody, {"email": "q@d.example", "reason": "x"}, 404, "person_not_found"),
    )
    assert "/api/v1/people/{person_id}/email" in client.get(f"{API}/openapi.json").json()["paths"]
