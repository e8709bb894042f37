"""Person ids and forgetting in the domain, on in-memory persistence (no database)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, uuid5

import pytest

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.errors import InvalidValue, RuleViolated
from domain.person import forgotten_name, person_id_for

ADMIN = CommandContext.system()
SECRET = "42" * 32


def a_ledger(secret: str | None = SECRET) -> OkrLedger:
    env = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if secret is not None:
        env[OkrLedger.PERSON_ID_SECRET] = secret
    return OkrLedger(env=env)


def test_without_a_secret_ids_are_the_public_uuid5() -> None:
    assert person_id_for(" Ada@Example.com") == uuid5(
        NAMESPACE_URL, "okrledger:person:ada@example.com"
    )


def test_keyed_ids_depend_on_the_secret_and_the_generation() -> None:
    key = bytes.fromhex(SECRET)
    ids = {
        person_id_for("ada@example.com", key),
        person_id_for("ada@example.com", key, generation=1),
        person_id_for("ada@example.com", bytes(32)),
        person_id_for("ada@example.com"),
    }
    assert len(ids) == 4
    assert person_id_for("ADA@example.com ", key) == person_id_for("ada@example.com", key)
    assert person_id_for("ada@example.com", key).version == 4


def test_a_forgotten_address_registers_again_as_someone_new() -> None:
    ledger = a_ledger()
    first = ledger.register_person("Ada", "ada@example.com", ADMIN).id
    assert first == ledger.person_id_for("ada@example.com")
    ledger.forget_person(first, 7, "asked", ADMIN)
    person = ledger.get_person(first)
    assert (person.name, person.email, person.active, person.forgotten) == (
        forgotten_name(7),
        "",
        False,
        True,
    )
    assert ledger.find_person_by_email("ada@example.com") is None
    second = ledger.register_person("Ada", "ada@example.com", ADMIN).id
    assert second == ledger.person_id_for("ada@example.com", generation=1)
    with pytest.raises(RuleViolated, match="already registered"):
        ledger.register_person("Ada", "ada@example.com", ADMIN)


@pytest.mark.parametrize(
    "command",
    [
        lambda ledger, pid: ledger.forget_person(pid, 2, "again", ADMIN),
        lambda ledger, pid: ledger.rename_person(pid, "Back", ADMIN),
        lambda ledger, pid: ledger.reactivate_person(pid, "back", ADMIN),
    ],
    ids=["forget", "rename", "reactivate"],
)
def test_a_forgotten_person_stays_forgotten(command: object) -> None:
    ledger = a_ledger()
    person_id = ledger.register_person("Ada", "ada@example.com", ADMIN).id
    ledger.forget_person(person_id, 1, "asked", ADMIN)
    with pytest.raises(RuleViolated, match="forgotten"):
        command(ledger, person_id)  # type: ignore[operator]


def test_forgetting_needs_a_reason() -> None:
    ledger = a_ledger(None)
    person_id = ledger.register_person("Ada", "ada@example.com", ADMIN).id
    with pytest.raises(InvalidValue, match="reason"):
        ledger.forget_person(person_id, 1, "  ", ADMIN)
