"""The event catalogue: it holds every event the domain defines, every fold accounts for each
catalogued event, and no fold's handlers change without its stored views' version in mind.

Run `python -m tests.unit.projections.test_catalogue` to print the folds' fingerprints as
`fold_fingerprints.json` records them (see docs/adding-an-event.md).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic

import domain
from domain.base import OkrAggregate
from domain.objective import Objective
from domain.person import Person
from infra.audit.personal import PERSONAL_FIELDS
from infra.kafka import envelope
from infra.views.model import OWN_OBJECTIVE_ONLY
from projections import narrative
from projections.base import DataclassFold, Logged
from projections.catalogue import CATALOGUE, Catalogue, UncataloguedEvent, narrate
from projections.coverage import fingerprint, gaps
from projections.folds import FOLDS
from projections.narrative import Context
from projections.tree import TreeFold

RECORDED = Path(__file__).with_name("fold_fingerprints.json")
EVENT_BASES = ("Event", "Created")
"""The event base classes eventsourcing gives each aggregate: never stored, not catalogued."""


def domain_events() -> list[type[Any]]:
    """Every event class declared in an aggregate of a `domain` module, found by walking them."""
    found: list[type[Any]] = []
    for info in pkgutil.iter_modules(domain.__path__):
        module = importlib.import_module(f"domain.{info.name}")
        for aggregate in vars(module).values():
            if not (
                isinstance(aggregate, type)
                and issubclass(aggregate, OkrAggregate)
                and aggregate.__module__ == module.__name__
            ):
                continue
            for name, value in vars(aggregate).items():
                if (
                    isinstance(value, type)
                    and issubclass(value, OkrAggregate.Event)
                    and name not in EVENT_BASES
                ):
                    found.append(value)
    return found


def fingerprints() -> dict[str, dict[str, Any]]:
    return {
        name: {"version": a_fold.version, "fingerprint": fingerprint(a_fold)}
        for name, a_fold in FOLDS.items()
        if isinstance(a_fold, DataclassFold)
    }


# ------------------------------------------------------------------ entries


def test_the_catalogue_holds_every_event_the_domain_defines_once() -> None:
    defined = domain_events()
    assert len(defined) > 80
    missing = sorted(c.__qualname__ for c in defined if not CATALOGUE.has(c))
    assert missing == [], f"events without a catalogue entry (and so without a phraser): {missing}"
    assert sorted(CATALOGUE.type_names()) == sorted(c.__qualname__ for c in defined)
    assert len(set(CATALOGUE.classes())) == len(CATALOGUE)


def test_each_entry_is_the_event_its_aggregate_resolves_by_its_type_name() -> None:
    for entry in CATALOGUE:
        aggregate_name, _, event_name = entry.type_name.partition(".")
        assert entry.aggregate.__name__ == aggregate_name
        assert getattr(entry.aggregate, event_name) is entry.event_class
        assert CATALOGUE.named(entry.type_name) is entry
        assert CATALOGUE.entry(entry.event_class) is entry


def test_personal_fields_are_fields_of_their_event() -> None:
    for entry in CATALOGUE:
        names = {f.name for f in dataclasses.fields(entry.event_class)}
        assert set(entry.personal) <= names, entry.type_name


def test_only_objective_events_are_objective_local() -> None:
    local = [entry for entry in CATALOGUE if entry.objective_local]
    assert local and all(entry.aggregate is Objective for entry in local)


def test_folds_named_in_ignored_by_exist() -> None:
    for entry in CATALOGUE:
        assert set(entry.ignored_by) <= set(FOLDS), entry.type_name


def test_an_event_is_catalogued_once() -> None:
    with pytest.raises(ValueError, match="catalogued twice"):
        Catalogue(narrative.ENTRIES, narrative.ENTRIES)


def test_an_uncatalogued_event_is_refused_not_narrated_generically() -> None:
    event = object.__new__(Objective.Event)
    object.__setattr__(event, "__dict__", {"originator_id": UUID(int=1)})
    with pytest.raises(UncataloguedEvent, match=r"Objective\.Event"):
        narrate(Context(), Logged(1, datetime(2026, 1, 1, tzinfo=UTC), event))
    with pytest.raises(UncataloguedEvent):
        CATALOGUE.entry(Objective.Event)


# ---------------------------------------------------------------- consumers


def test_the_kafka_envelope_decodes_exactly_the_catalogued_types() -> None:
    assert envelope.event_classes() == {e.type_name: e.event_class for e in CATALOGUE}


def test_the_personal_data_mapper_seals_the_catalogued_personal_fields() -> None:
    assert dict(PERSONAL_FIELDS) == {
        get_topic(Person.Registered): ("name", "email"),
        get_topic(Person.Renamed): ("name",),
        get_topic(Person.EmailChanged): ("email",),
        get_topic(Person.IdentityLinked): ("subject",),
    }


def test_shards_skip_the_catalogued_objective_local_events() -> None:
    assert (
        Objective.ProgressReported,
        Objective.CheckInCorrected,
        Objective.KeyResultGraded,
        Objective.Graded,
        Objective.Reflected,
    ) == OWN_OBJECTIVE_ONLY


# -------------------------------------------------------------------- folds


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_every_fold_handles_or_ignores_every_catalogued_event(name: str) -> None:
    a_fold = FOLDS[name]
    assert isinstance(a_fold, DataclassFold)
    assert gaps(a_fold) == []


class _Forgetful(TreeFold):
    """The tree, had its author forgotten one event."""

    def reactions(self) -> Mapping[type[Any], Callable[..., Any]]:
        return {c: h for c, h in super().reactions().items() if c is not Objective.Approved}


class _Both(TreeFold):
    ignores = (*TreeFold.ignores, Objective.Approved)


def test_a_fold_that_forgets_an_event_fails_the_check() -> None:
    assert gaps(_Forgetful()) == [
        "tree: Objective.Approved is neither handled nor ignored"
        " (add a handler, or list it in _Forgetful.ignores)"
    ]
    assert gaps(_Both()) == ["tree: Objective.Approved is both handled and ignored"]


def test_a_fold_may_not_ignore_an_aggregate_it_partly_handles() -> None:
    class Wholesale(TreeFold):
        ignores = (*TreeFold.ignores, Objective)

    problems = gaps(Wholesale())
    assert any("ignores Objective wholesale" in p for p in problems)


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_each_folds_code_matches_the_fingerprint_recorded_for_its_version(name: str) -> None:
    recorded = json.loads(RECORDED.read_text())
    now = fingerprints()[name]
    assert recorded.get(name) == now, (
        f"The {name} fold's handlers (or what they call) changed since its fingerprint was"
        f" recorded. If its stored rows change, bump its version (the stored views are rebuilt"
        f" on upgrade); then record {json.dumps({name: now})} in {RECORDED.name}"
        f" (`python -m tests.unit.projections.test_catalogue` prints them all)."
    )


def test_a_changed_handler_changes_the_fingerprint_of_its_fold_and_its_readers() -> None:
    class Changed(TreeFold):
        def reactions(self) -> Mapping[type[Any], Callable[..., Any]]:
            return {**super().reactions(), Objective.Approved: _another_handler}

    assert fingerprint(Changed()) != fingerprint(TreeFold())
    assert fingerprint(_Forgetful()) != fingerprint(TreeFold())
    assert fingerprint(TreeFold()) == fingerprint(TreeFold())


def _another_handler(state: Any, event: Any, logged: Logged) -> None:
    state.objectives[event.originator_id].status = "approved, differently"


if __name__ == "__main__":
    print(json.dumps(fingerprints(), indent=2))
