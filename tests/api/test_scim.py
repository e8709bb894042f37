"""SCIM 2.0 provisioning at /scim/v2 on the real server: discovery, Users CRUD, the userName
filter, PATCH (active: false deprovisions), DELETE deactivates and keeps history; and the
conformance checks of scim2-tester run against the live server over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from api.app import create_app
from domain.access import Role
from domain.application import OkrLedger
from domain.base import CommandContext
from domain.person import Person
from infra.readmodels import ReadModels
from infra.settings import Settings
from tests.api.conftest import make_app
from tests.servers import served as serve_app

TOKEN = "scim-secret-of-the-identity-provider"
MEDIA = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def scim_url(ledger: OkrLedger, readmodels: ReadModels) -> Iterator[str]:
    app = make_app(
        ledger, readmodels, Settings(environment="test", scim_token=TOKEN), wait_timeout=5.0
    )
    with serve_app(app) as url:
        yield url


@pytest.fixture
def scim(scim_url: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": MEDIA}
    with httpx.Client(base_url=scim_url + "/scim/v2", headers=headers) as client:
        yield client


def _create(scim: httpx.Client, email: str, name: str = "Zoe Park") -> dict[str, Any]:
    body = {"schemas": [USER], "userName": email, "name": {"formatted": name}, "active": True}
    created = scim.post("/Users", json=body)
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith(MEDIA)
    data: dict[str, Any] = created.json()
    return data


def test_discovery_names_users_and_what_is_supported(scim: httpx.Client) -> None:
    config = scim.get("/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True and config["filter"]["supported"] is True
    assert config["bulk"]["supported"] is False
    types = scim.get("/ResourceTypes").json()
    assert [t["name"] for t in types["Resources"]] == ["User", "Group"]
    schemas = scim.get("/Schemas").json()
    assert [s["id"] for s in schemas["Resources"]] == [USER, GROUP]


def test_create_read_filter_replace_and_a_duplicate(scim: httpx.Client, ledger: OkrLedger) -> None:
    user = _create(scim, "zoe@acme.example")
    assert user["userName"] == "zoe@acme.example" and user["active"] is True
    assert scim.get(f"/Users/{user['id']}").json()["displayName"] == "Zoe Park"
    found = scim.get("/Users", params={"filter": 'userName eq "zoe@acme.example"'}).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user["id"]
    none = scim.get("/Users", params={"filter": 'userName eq "nobody@acme.example"'}).json()
    assert none["totalResults"] == 0
    replaced = scim.put(
        f"/Users/{user['id']}",
        json={"schemas": [USER], "userName": "zoe@acme.example", "name": {"formatted": "Zoe Kim"}},
    )
    assert replaced.status_code == 200 and replaced.json()["displayName"] == "Zoe Kim"
    person = ledger.find_person_by_email("zoe@acme.example")
    assert person is not None and person.name == "Zoe Kim"
    again = scim.post("/Users", json={"schemas": [USER], "userName": "zoe@acme.example"})
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"


def test_a_renamed_e_mail_keeps_the_person_their_id_and_history(
    scim: httpx.Client, ledger: OkrLedger
) -> None:
    """PUT and PATCH change the e-mail as a `Person.EmailChanged` event (sealed like the
    registered e-mail): same id, same history; the filter finds the new address without reading
    everyone's events; the new address is taken (409), the old one is free for someone new."""
    user = _create(scim, "ada@acme.example", "Ada Byron")
    person_id = UUID(user["id"])
    body = {"schemas": [USER], "userName": "ada@lovelace.example", "displayName": "Ada Byron"}
    replaced = scim.put(f"/Users/{user['id']}", json=body)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["id"] == user["id"]
    assert replaced.json()["emails"] == [{"value": "ada@lovelace.example"}]
    patch = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "emails", "value": [{"value": "ada@ae.example"}]}],
    }
    patched = scim.patch(f"/Users/{user['id']}", json=patch)
    assert patched.status_code == 200 and patched.json()["emails"] == [{"value": "ada@ae.example"}]
    events = list(ledger.repository.event_store.get(person_id))
    changes = [e for e in events if isinstance(e, Person.EmailChanged)]
    assert [(e.email, e.actor, e.reason) for e in changes] == [
        ("ada@lovelace.example", "scim", "scim"),
        ("ada@ae.example", "scim", "scim"),
    ]
    assert isinstance(events[0], Person.Registered) and events[0].email == "ada@acme.example"
    assert ledger.get_person(person_id).email == "ada@ae.example"
    stored = ledger.recorder.select_events(person_id)
    assert not any(b"ada@ae.example" in record.state for record in stored)  # sealed
    assert any("EmailChanged" in record.topic and b"scim" in record.state for record in stored)
    # The filter follows the change (userName is still the one linked by the PUT).
    found = scim.get("/Users", params={"filter": 'userName eq "ada@lovelace.example"'}).json()
    assert [r["id"] for r in found["Resources"]] == [user["id"]]
    taken = scim.post("/Users", json={"schemas": [USER], "userName": "ada@ae.example"})
    assert taken.status_code == 409 and taken.json()["scimType"] == "uniqueness"
    other = _create(scim, "bob@acme.example", "Bob")
    clash = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "emails", "value": [{"value": "ada@ae.example"}]}],
    }
    refused = scim.patch(f"/Users/{other['id']}", json=clash)
    assert refused.status_code == 409 and refused.json()["scimType"] == "uniqueness"
    reused = _create(scim, "ada@acme.example", "Another Ada")  # the old address is free again
    assert reused["id"] != user["id"]


def test_patch_active_false_deprovisions_and_the_persons_token_is_refused_at_once(
    scim: httpx.Client, scim_url: str, ledger: OkrLedger
) -> None:
    user = _create(scim, "yan@acme.example")
    person_id = ledger.find_person_by_email("yan@acme.example").id  # type: ignore[union-attr]
    secret, _ = ledger.issue_token(person_id, Role.MEMBER, CommandContext.system())
    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{scim_url}/api/v1/me", headers=bearer).status_code == 200
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    patched = scim.patch(f"/Users/{user['id']}", json=body)
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert httpx.get(f"{scim_url}/api/v1/me", headers=bearer).status_code == 401
    (deactivated,) = [
        e for e in ledger.repository.event_store.get(person_id) if isinstance(e, Person.Deactivated)
    ]
    assert (deactivated.actor, deactivated.reason) == ("scim", "scim")


def test_delete_deactivates_keeps_the_history_and_hides_the_user(
    scim: httpx.Client, ledger: OkrLedger
) -> None:
    user = _create(scim, "xia@acme.example")
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    assert scim.get(f"/Users/{user['id']}").status_code == 404
    person = ledger.find_person_by_email("xia@acme.example")
    assert person is not None and person.active is False  # the person and history stay


def test_without_the_token_nothing_and_unconfigured_no_scim(
    scim_url: str, ledger: OkrLedger, readmodels: ReadModels
) -> None:
    refused = httpx.get(f"{scim_url}/scim/v2/Users", headers={"Authorization": "Bearer guess"})
    assert refused.status_code == 401 and refused.json()["status"] == "401"
    app = create_app(ledger, readmodels=readmodels, settings=Settings(environment="test"))
    with serve_app(app) as url:
        off = httpx.get(f"{url}/scim/v2/Users", headers={"Authorization": f"Bearer {TOKEN}"})
        assert off.status_code == 404


def test_any_user_name_external_id_patch_remove_attributes_and_search(
    scim: httpx.Client, ledger: OkrLedger
) -> None:
    body = {
        "schemas": [USER],
        "userName": "w.wu",
        "externalId": "00u1abc",
        "displayName": "Wei Wu",
        "emails": [{"value": "wei@acme.example", "primary": True, "type": "work"}],
        "active": True,
    }
    created = scim.post("/Users", json=body)
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["userName"], user["externalId"]) == ("w.wu", "00u1abc")
    assert user["emails"] == [{"value": "wei@acme.example"}]
    person_id = ledger.find_person_by_email("wei@acme.example").id  # type: ignore[union-attr]
    clash = scim.post("/Users", json={**body, "emails": [{"value": "other@acme.example"}]})
    assert clash.status_code == 409 and clash.json()["scimType"] == "uniqueness"
    only = scim.get(f"/Users/{user['id']}", params={"attributes": "externalId"}).json()
    assert set(only) == {"schemas", "id", "externalId"}
    without = scim.get("/Users", params={"excludedAttributes": "emails,displayName"}).json()
    assert all("emails" not in r and "displayName" not in r for r in without["Resources"])
    found = scim.post(
        "/Users/.search",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "w.wu"',
            "attributes": ["userName"],
        },
    ).json()
    assert found["totalResults"] == 1 and found["Resources"][0] == {
        "schemas": [USER],
        "id": user["id"],
        "userName": "w.wu",
    }
    ops = [
        {"op": "remove", "path": "externalId"},
        {"op": "replace", "path": "userName", "value": "wei.wu"},
    ]
    patched = scim.patch(f"/Users/{user['id']}", json={"schemas": [PATCH], "Operations": ops})
    assert patched.status_code == 200, patched.text
    assert "externalId" not in patched.json() and patched.json()["userName"] == "wei.wu"
    refused = scim.patch(
        f"/Users/{user['id']}",
        json={"schemas": [PATCH], "Operations": [{"op": "remove", "path": "emails"}]},
    )
    assert refused.status_code == 400 and "cannot be removed" in refused.json()["detail"]
    events = [e for e in ledger.repository.event_store.get(person_id)][1:]
    assert [type(e).__name__ for e in events] == [
        "IdentityLinked",  # userName
        "IdentityLinked",  # externalId
        "IdentityLinked",  # the new userName
        "IdentityUnlinked",  # externalId removed
    ]
    assert {e.actor for e in events} == {"scim"}


def test_what_an_identity_provider_sends_beyond_the_kept_attributes_is_ignored(
    scim: httpx.Client, ledger: OkrLedger
) -> None:
    body = {
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "UserName": "vic@acme.example",
        "name": {"givenName": "Vic", "familyName": "Ode"},
        "emails": [{"value": "vic@acme.example", "type": "work", "display": "Vic"}],
        "title": "Engineer",
        "locale": "en-GB",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
    }
    created = scim.post("/Users", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["displayName"] == "Vic Ode" and "title" not in created.json()
    assert ledger.find_person_by_email("vic@acme.example").name == "Vic Ode"  # type: ignore[union-attr]


def test_a_user_without_any_e_mail_is_refused_naming_the_field(scim: httpx.Client) -> None:
    refused = scim.post("/Users", json={"schemas": [USER], "userName": "no-mail"})
    assert refused.status_code == 400 and refused.json()["scimType"] == "invalidValue"
    assert refused.json()["detail"].startswith("emails:")


def test_scim2_tester_conformance(scim_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every check of scim2-tester passes against the running server: discovery, CRUD and
    PATCH, for Users and Groups (its PUT check of a User sends a new random e-mail, kept as an e-mail change of the same
    person)."""
    http = httpx2.Client(
        base_url=scim_url + "/scim/v2", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    client = SyncSCIMClient(http)
    client.discover()
    results = check_server(client)
    with capsys.disabled():
        for result in results:
            print(f"scim2-tester {result.status.name:8} {result.title} {result.reason or ''}")
    failed = [(r.title, r.reason) for r in results if r.status != Status.SUCCESS]
    assert failed == []
    assert len(results) >= 51
    created = {r.reason for r in results if r.title == "object_creation"}
    assert {reason.split(" object")[0] for reason in created} == {
        "Successfully created User",
        "Successfully created Group",
    }


def _group_members(group: dict[str, Any]) -> list[str]:
    return [m["value"] for m in group.get("members", [])]


def test_groups_are_teams_and_each_membership_change_is_an_event_with_a_reason(
    scim: httpx.Client, ledger: OkrLedger
) -> None:
    ann, ben, cat = (
        _create(scim, f"{n}@acme.example", n.title())["id"] for n in ("ann", "ben", "cat")
    )
    body = {"schemas": [GROUP], "displayName": "Platform", "members": [{"value": ann}]}
    created = scim.post("/Groups", json=body)
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["displayName"] == "Platform" and _group_members(group) == [ann]
    assert group["members"][0]["$ref"].endswith(f"/Users/{ann}")
    team_id = UUID(group["id"])
    assert ledger.get_team(team_id).name == "Platform"

    def patch(*operations: dict[str, Any]) -> dict[str, Any]:
        answer = scim.patch(
            f"/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": list(operations)}
        )
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data

    assert _group_members(patch({"op": "add", "path": "members", "value": [{"value": ben}]})) == [
        ann,
        ben,
    ]
    removed = patch({"op": "remove", "path": f'members[value eq "{ann}"]'})
    assert _group_members(removed) == [ben]
    replaced = patch(
        {"op": "replace", "path": "members", "value": [{"value": cat}]},
        {"op": "replace", "path": "displayName", "value": "Platform team"},
    )
    assert _group_members(replaced) == [cat] and replaced["displayName"] == "Platform team"
    found = scim.get("/Groups", params={"filter": 'displayName eq "Platform team"'}).json()
    assert [g["id"] for g in found["Resources"]] == [group["id"]]
    assert (
        scim.get("/Groups", params={"filter": 'displayName eq "Nope"'}).json()["totalResults"] == 0
    )
    put = scim.put(
        f"/Groups/{group['id']}",
        json={"schemas": [GROUP], "displayName": "Platform team", "members": [{"value": ann}]},
    )
    assert put.status_code == 200 and _group_members(put.json()) == [ann]
    unknown = scim.patch(
        f"/Groups/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": str(uuid4())}]}],
        },
    )
    assert unknown.status_code == 400 and unknown.json()["scimType"] == "invalidValue"

    events = [
        (type(e).__name__, str(getattr(e, "person_id", "")), e.actor, e.reason)
        for e in ledger.repository.event_store.get(team_id)
    ]
    assert events == [
        ("Formed", "", "scim", "scim"),
        ("MemberAdded", ann, "scim", "scim"),
        ("MemberAdded", ben, "scim", "scim"),
        ("MemberRemoved", ann, "scim", "scim"),
        ("Renamed", "", "scim", "scim"),
        ("MemberAdded", cat, "scim", "scim"),
        ("MemberRemoved", ben, "scim", "scim"),
        ("MemberAdded", ann, "scim", "scim"),
        ("MemberRemoved", cat, "scim", "scim"),
    ]
    # The access history shows the membership and that SCIM granted it.
    admin = ledger.register_person("Root", "root@acme.example", CommandContext.system())
    secret, _ = ledger.issue_token(admin.id, Role.ADMIN, CommandContext.system())
    access = httpx.get(
        str(scim.base_url).removesuffix("/scim/v2/") + "/api/v1/access",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert access.status_code == 200, access.text
    (ann_access,) = [p for p in access.json()["people"] if p["person_id"] == ann]
    (membership,) = ann_access["teams"]
    assert membership["team"] == "Platform team"
    assert (membership["granted_by"]["actor"], membership["granted_by"]["reason"]) == (
        "scim",
        "scim",
    )
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert scim.get(f"/Groups/{group['id']}").status_code == 404
    disbanded = ledger.get_team(team_id)
    assert disbanded.disbanded and len(list(ledger.repository.event_store.get(team_id))) == 10
