"""The objective's events keep the topics stored in the database, though its commands live in
mixins of their own modules (domain/objective_*.py)."""

from __future__ import annotations

from eventsourcing.utils import get_topic, resolve_topic

from domain.base import OkrAggregate
from domain.objective import Objective


def test_every_objective_event_keeps_its_stored_topic() -> None:
    events = [
        value
        for name, value in vars(Objective).items()
        if isinstance(value, type) and issubclass(value, OkrAggregate.Event) and name != "Event"
    ]
    assert len(events) >= 29
    for event_class in events:
        topic = f"domain.objective:Objective.{event_class.__name__}"
        assert get_topic(event_class) == topic
        assert resolve_topic(topic) is event_class
    assert get_topic(Objective) == "domain.objective:Objective"
