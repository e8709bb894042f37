"""Events declared as `Assigns` (domain/base.py) set the aggregate's attributes named like their
fields, and only those: also as the classes eventsourcing redefines on each aggregate's `Event`
base (without annotations of their own), and when an aggregate is rebuilt from its events."""

from __future__ import annotations

import dataclasses

from domain.base import Assigns, OkrAggregate
from domain.kpi import Kpi
from domain.team import Team
from tests.unit.builders import ADMIN, an_org, ctx
from tests.unit.projections.test_catalogue import domain_events

STAMP = {f.name for f in dataclasses.fields(OkrAggregate.Event)}


def test_each_assigning_event_sets_exactly_its_own_fields() -> None:
    assigning = [e for e in domain_events() if issubclass(e, Assigns)]
    assert len(assigning) >= 15
    for event_class in assigning:
        own = {f.name for f in dataclasses.fields(event_class)} - STAMP
        assert own and set(event_class._assigns) == own, event_class.__qualname__


def test_the_assigned_values_hold_when_the_aggregate_is_rebuilt_from_its_events() -> None:
    org = an_org()
    app = org.app
    app.rename_team(org.team_id, "Platform Engineering", ctx(ADMIN), "grew")
    app.move_team(org.team_id, None, ctx(ADMIN))
    events = list(app.repository.event_store.get(org.team_id))
    assert {type(e).__qualname__ for e in events} >= {"Team.Renamed", "Team.Moved"}
    rebuilt = app.repository.get(org.team_id, version=events[-1].originator_version)
    assert isinstance(rebuilt, Team)
    assert (rebuilt.name, rebuilt.parent_id) == ("Platform Engineering", None)


def test_an_event_with_more_to_do_keeps_its_own_apply() -> None:
    assert not issubclass(Kpi.Defined, Assigns)
    assert not issubclass(Kpi.MeasurementRecorded, Assigns)
