"""The person registry: registration, e-mail normalisation, renaming, (de)activation."""

from __future__ import annotations

import pytest

from domain.errors import InvalidValue, RuleViolated
from domain.person import Person, normalise_email, person_id_for
from tests.unit.builders import ADMIN, a_person, ctx
from tests.unit.gwt import classes, created, payload, refused, when


class TestRegister:
    def test_registers_with_a_normalised_email_and_an_id_derived_from_it(self) -> None:
        person = Person.register("  Alice Liddell ", "  Alice@Example.COM ", ctx(ADMIN))

        assert created(person, Person.Registered) == {
            "actor": ADMIN,
            "reason": "",
            "name": "Alice Liddell",
            "email": "alice@example.com",
        }
        assert person.id == person_id_for("alice@example.com")
        assert (person.name, person.email, person.active) == (
            "Alice Liddell",
            "alice@example.com",
            True,
        )

    def test_the_same_address_in_any_case_or_padding_is_the_same_person(self) -> None:
        assert person_id_for("BOB@example.com ") == person_id_for("bob@EXAMPLE.com")
        assert person_id_for("bob@example.com") != person_id_for("rob@example.com")

    @pytest.mark.parametrize(
        "email", ["", "bob", "bob@", "@example.com", "bob@example", "b ob@example.com", "a@b@c.d"]
    )
    def test_refuses_what_is_not_an_email_address(self, email: str) -> None:
        with pytest.raises(InvalidValue) as info:
            Person.register("Bob", email, ctx(ADMIN))
        assert (info.value.rule, info.value.field) == ("email_invalid", "email")

    def test_normalise_email_trims_and_lowercases(self) -> None:
        assert normalise_email(" Carol.D@Mail.Example.ORG\t") == "carol.d@mail.example.org"

    @pytest.mark.parametrize(
        ("name", "rule"),
        [("", "text_required"), ("   ", "text_required"), ("x" * 201, "text_too_long")],
    )
    def test_needs_a_name_of_bounded_length(self, name: str, rule: str) -> None:
        with pytest.raises(InvalidValue) as info:
            Person.register(name, "alice@example.com", ctx(ADMIN))
        assert (info.value.rule, info.value.field) == (rule, "name")

    def test_a_name_of_exactly_200_characters_is_fine(self) -> None:
        assert Person.register("x" * 200, "alice@example.com", ctx(ADMIN)).name == "x" * 200


class TestKeyedIds:
    SECRET = bytes.fromhex("ab" * 32)

    def test_with_a_deployment_secret_ids_are_keyed_and_still_stable(self) -> None:
        keyed = person_id_for("Alice@Example.com", self.SECRET)
        assert keyed == person_id_for(" alice@example.com", self.SECRET)
        assert keyed != person_id_for("alice@example.com")  # not the public uuid5
        assert keyed != person_id_for("alice@example.com", bytes.fromhex("cd" * 32))

    def test_each_generation_of_an_address_has_its_own_id(self) -> None:
        for secret in (None, self.SECRET):
            ids = {person_id_for("alice@example.com", secret, g) for g in range(3)}
            assert len(ids) == 3

    def test_registering_with_a_given_id(self) -> None:
        person_id = person_id_for("alice@example.com", self.SECRET, 1)
        person = Person.register("Alice", "alice@example.com", ctx(ADMIN), person_id)
        assert person.id == person_id


class TestForget:
    def test_forgetting_erases_name_and_email_and_deactivates(self) -> None:
        person = a_person()
        events = when(person, lambda: person.forget(7, "erasure request", ctx(ADMIN)))
        assert classes(events) == [Person.Forgotten]
        assert payload(events[0]) == {"actor": ADMIN, "reason": "erasure request", "number": 7}
        assert (person.name, person.email, person.active, person.forgotten) == (
            "forgotten person #7",
            "",
            False,
            True,
        )

    def test_forgetting_needs_a_reason(self) -> None:
        person = a_person()
        refused(person, lambda: person.forget(1, " ", ctx(ADMIN)), "text_required", "reason")

    def test_a_forgotten_person_stays_forgotten(self) -> None:
        person = a_person()
        person.forget(3, "erasure request", ctx(ADMIN))
        person.collect_events()
        for command in [
            lambda: person.rename("Alice", ctx(ADMIN)),
            lambda: person.reactivate("back", ctx(ADMIN)),
            lambda: person.forget(4, "again", ctx(ADMIN)),
        ]:
            refused(person, command, "person_forgotten", error=RuleViolated)
        refused(person, lambda: person.deactivate("r", ctx(ADMIN)), "person_inactive")


class TestRename:
    def test_renames(self) -> None:
        person = a_person()
        events = when(person, lambda: person.rename(" Alice L. ", ctx(ADMIN)))
        assert classes(events) == [Person.Renamed]
        assert payload(events[0]) == {"actor": ADMIN, "reason": "", "name": "Alice L."}
        assert person.name == "Alice L."

    def test_refuses_an_empty_name(self) -> None:
        person = a_person()
        refused(person, lambda: person.rename(" ", ctx(ADMIN)), "text_required", "name")


class TestActivation:
    def test_deactivation_needs_a_reason(self) -> None:
        person = a_person()
        refused(person, lambda: person.deactivate("  ", ctx(ADMIN)), "text_required", "reason")

    def test_deactivates_with_the_reason_recorded(self) -> None:
        person = a_person()
        events = when(person, lambda: person.deactivate("left the company", ctx(ADMIN)))
        assert classes(events) == [Person.Deactivated]
        assert payload(events[0]) == {"actor": ADMIN, "reason": "left the company"}
        assert person.active is False

    def test_cannot_deactivate_twice(self) -> None:
        person = a_person()
        person.deactivate("left", ctx(ADMIN))
        person.collect_events()
        refused(
            person,
            lambda: person.deactivate("again", ctx(ADMIN)),
            "person_inactive",
            error=RuleViolated,
        )

    def test_reactivates_a_deactivated_person_with_a_reason(self) -> None:
        person = a_person()
        person.deactivate("left", ctx(ADMIN))
        person.collect_events()
        refused(person, lambda: person.reactivate("", ctx(ADMIN)), "text_required", "reason")
        events = when(person, lambda: person.reactivate("came back", ctx(ADMIN)))
        assert classes(events) == [Person.Reactivated]
        assert payload(events[0])["reason"] == "came back"
        assert person.active is True

    def test_cannot_reactivate_an_active_person(self) -> None:
        person = a_person()
        refused(
            person,
            lambda: person.reactivate("why", ctx(ADMIN)),
            "person_active",
            error=RuleViolated,
        )
