"""Personal data: encrypted per person at rest, and forgotten for good without breaking the chain."""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest
from pydantic import SecretStr

from domain.access import Role
from domain.application import OkrLedger
from domain.errors import RuleViolated
from domain.person import person_id_for
from infra.audit.export import export_bundle
from infra.audit.personal import PersonalDataError, forget_person, personal_keys
from infra.audit.verify import audit_verify
from infra.eventstore import eventsourcing_env
from projections.base import Logged, fold
from projections.folds import FOLDS
from tests.audit.conftest import ADMIN, EVENTS, an_org, okr, sql

if TYPE_CHECKING:
    from pathlib import Path

    from infra.settings import Settings

pytestmark = pytest.mark.postgres

NAME, EMAIL = "Person Number1", "person1@acme.example"


def stored_rows(database_url: str) -> list[tuple[Any, ...]]:
    return sql(
        database_url,
        f"SELECT notification_id, originator_id, originator_version, topic, state FROM {EVENTS} "
        "ORDER BY notification_id",
    )


def folded(ledger: OkrLedger) -> dict[str, Any]:
    """Every read-side fold rebuilt from the log, as JSON."""
    logged = [
        Logged.of(n.id, ledger.mapper.to_domain_event(n))
        for n in ledger.recorder.select_notifications(start=None, limit=10_000)
    ]
    return {name: a_fold.to_json(fold(a_fold, logged)) for name, a_fold in FOLDS.items()}


def test_names_and_emails_are_stored_only_as_ciphertext(
    ledger: OkrLedger, database_url: str
) -> None:
    person_id = ledger.register_person(NAME, EMAIL, ADMIN).id
    ledger.rename_person(person_id, "Person Renamed", ADMIN)
    raw = b"".join(bytes(row[4]) for row in stored_rows(database_url))
    for secret in (b"Number1", b"Renamed", b"person1@", b"acme.example"):
        assert secret not in raw
    person = ledger.get_person(person_id)
    assert (person.name, person.email) == ("Person Renamed", EMAIL)
    assert ledger.get_person(person_id, version=1).name == NAME
    state = json.loads(stored_rows(database_url)[0][4])
    assert set(state["name"]) == {"_pii_", "ct"} and set(state["email"]) == {"_pii_", "ct"}


def test_person_ids_are_keyed_by_a_secret(ledger: OkrLedger, es_env: dict[str, str]) -> None:
    person_id = ledger.register_person(NAME, EMAIL, ADMIN).id
    assert person_id != person_id_for(EMAIL)  # the public uuid5 does not find them
    assert ledger.person_id_secret is not None
    assert person_id == person_id_for(EMAIL, ledger.person_id_secret)
    again = OkrLedger(env=es_env)  # another process on the same store: the same secret
    try:
        assert again.person_id_secret == ledger.person_id_secret
        assert again.find_person_by_email(EMAIL.upper()) is not None
    finally:
        again.close()
    with pytest.raises(PersonalDataError, match="without OKR_PERSON_ID_SECRET"):
        OkrLedger(env={**es_env, OkrLedger.PERSON_ID_SECRET: "ab" * 32})


def test_a_configured_secret_is_held_to(database_url: str, settings: Settings) -> None:
    configured = settings.model_copy(update={"person_id_secret": SecretStr("cd" * 32)})
    env = eventsourcing_env(database_url, configured)
    ledger = OkrLedger(env=env)
    try:
        person_id = ledger.register_person(NAME, EMAIL, ADMIN).id
        assert person_id == person_id_for(EMAIL, bytes.fromhex("cd" * 32))
    finally:
        ledger.close()
    rows = sql(database_url, "SELECT mode, value FROM okrledger_secrets")
    assert rows[0][0] == "configured" and bytes(rows[0][1]) != bytes.fromhex("cd" * 32)
    for other in (
        {**env, OkrLedger.PERSON_ID_SECRET: "ef" * 32},
        eventsourcing_env(database_url, settings),
    ):
        with pytest.raises(PersonalDataError, match=r"differs|missing"):
            OkrLedger(env=other)


def test_forgetting_a_person(
    ledger: OkrLedger,
    settings: Settings,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    org = an_org(ledger)
    person_id = org.people[EMAIL]
    ledger.rename_person(person_id, "Person Renamed", ADMIN)
    secret, _ = ledger.issue_token(person_id, Role.MEMBER, ADMIN)
    before = stored_rows(database_url)
    assert "Person Renamed" in json.dumps(folded(ledger)["directory"])

    ran = okr(
        settings,
        "person",
        "forget",
        EMAIL,
        "--reason",
        "left; asked for erasure",
        "--yes",
        monkeypatch=monkeypatch,
    )
    assert ran.exit_code == 0, ran.output
    assert "forgotten person #1" in ran.output

    # No stored event changed; one was added, and the chain still verifies.
    after = stored_rows(database_url)
    assert after[: len(before)] == before
    assert [row[3] for row in after[len(before) :]] == ["domain.person:Person.Forgotten"]
    assert audit_verify(ledger, settings=settings).ok
    verified = okr(settings, "audit", "verify", monkeypatch=monkeypatch)
    assert verified.exit_code == 0, verified.output

    # Every stored person event decodes to the placeholder; the key is gone.
    for stored in ledger.recorder.select_events(person_id):
        event = ledger.mapper.to_domain_event(stored)
        for field in ("name", "email"):
            if field in event.__dict__:
                assert event.__dict__[field] in ("forgotten person #1", "")
    person = ledger.get_person(person_id)
    assert (person.name, person.email, person.active, person.forgotten) == (
        "forgotten person #1",
        "",
        False,
        True,
    )
    key = personal_keys(ledger).lookup(person_id)
    assert key is not None and (key.key, key.forgotten_number) == (None, 1)
    assert ledger.authenticate(secret) is None  # their tokens stop working

    # Views rebuilt from the log, and exports, show the placeholder and nothing else.
    views = json.dumps(folded(ledger))
    assert "forgotten person #1" in views
    summary = export_bundle(ledger, tmp_path / "export", settings=settings)
    assert summary.report.ok, summary.report
    for path in (tmp_path / "export").iterdir():
        text = path.read_bytes()
        for personal in (b"Number1", b"Person Renamed", EMAIL.encode(), b"person1"):
            assert personal not in text, (path.name, personal)
    people = [
        json.loads(line) for line in (tmp_path / "export" / "people.jsonl").read_text().splitlines()
    ]
    assert {"id": str(person_id), "name": "forgotten person #1", "forgotten": True} in people
    assert sum(p["forgotten"] for p in people) == 1

    # The address is free again and looks unused; a new registration is a new person.
    assert ledger.find_person_by_email(EMAIL) is None
    again = ledger.register_person("Someone Else", EMAIL, ADMIN).id
    assert again != person_id and ledger.get_person(again).name == "Someone Else"
    assert ledger.find_person_by_email(EMAIL).id == again  # type: ignore[union-attr]
    # Forgetting them too gives the next number; a forgotten person cannot be renamed.
    second = forget_person(ledger, EMAIL, "asked too", ADMIN)
    assert second.number == 2
    with pytest.raises(RuleViolated, match="forgotten"):
        ledger.rename_person(person_id, "Back again", ADMIN)


def test_the_providers_subject_is_sealed_and_erased_with_the_person(
    ledger: OkrLedger, database_url: str
) -> None:
    """The provider's `sub` (and a SCIM userName, kept the same way) is personal data."""
    person_id = ledger.register_person(NAME, EMAIL, ADMIN).id
    ledger.link_identity(person_id, "https://idp.acme.example", "sub-person1-4711", ADMIN)
    raw = b"".join(bytes(row[4]) for row in stored_rows(database_url))
    assert b"sub-person1-4711" not in raw and b"https://idp.acme.example" in raw
    linked = [e for e in ledger.repository.event_store.get(person_id) if "subject" in e.__dict__]
    assert [e.subject for e in linked] == ["sub-person1-4711"]
    assert "sub-person1-4711" in json.dumps(folded(ledger)["directory"])

    forget_person(ledger, EMAIL, "asked for erasure", ADMIN)
    linked = [e for e in ledger.repository.event_store.get(person_id) if "subject" in e.__dict__]
    assert [e.subject for e in linked] == [""]
    assert "sub-person1-4711" not in json.dumps(folded(ledger))


def test_the_api_shows_the_forgotten_person(ledger: OkrLedger, settings: Settings) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.app import create_app
    from infra.readmodels import ReadModels

    org = an_org(ledger)
    admin = ledger.register_person("The Admin", "admin@acme.example", ADMIN).id
    token, _ = ledger.issue_token(admin, Role.ADMIN, ADMIN)
    person_id = org.people[EMAIL]
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(ledger, readmodels=ReadModels(ledger, settings), wait_timeout=30)
    with TestClient(app) as client:
        before = client.get(f"/api/v1/people/{person_id}", headers=headers)
        assert before.status_code == 200 and before.json()["name"] == NAME
        forget_person(ledger, EMAIL, "asked for erasure", ADMIN)
        answers = [
            client.get(f"/api/v1/people/{person_id}", headers=headers),
            client.get("/api/v1/people", headers=headers),
            client.get("/api/v1/audit", headers=headers),
        ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert NAME not in answer.text and EMAIL not in answer.text
    assert answers[0].json()["name"] == "forgotten person #1"


def test_personal_data_stored_in_clear_cannot_be_forgotten(
    es_env: dict[str, str], database_url: str
) -> None:
    """People registered before encryption keep readable events; erasing them is refused."""
    plain = OkrLedger(env={**es_env, "PERSISTENCE_MODULE": "eventsourcing.postgres"})
    try:
        person_id = plain.register_person(NAME, EMAIL, ADMIN).id
    finally:
        plain.close()
    assert person_id == person_id_for(EMAIL)  # public ids, as before keyed ids existed
    ledger = OkrLedger(env=es_env)  # the audited store keeps them working ("public" ids)
    try:
        assert ledger.person_id_secret is None
        assert ledger.get_person(person_id).name == NAME
        with pytest.raises(PersonalDataError, match="stored unencrypted"):
            forget_person(ledger, EMAIL, "asked", ADMIN)
        assert ledger.get_person(person_id).name == NAME  # nothing was destroyed
    finally:
        ledger.close()
    assert isinstance(person_id, UUID)
