"""The sentences declared as tables (switches, cycle phases): each event reads as it always did."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.base import CommandContext, OkrAggregate
from domain.channel import ChatChannel
from domain.cycle import Cadence, Cycle, Scoring
from domain.person import Person
from domain.webhook import WebhookEndpoint
from projections.base import Logged
from projections.catalogue import narrate
from projections.narrative import Context, advance

CTX = CommandContext("admin")


def narrations(aggregate: OkrAggregate) -> list[tuple[Any, ...]]:
    """How each of the aggregate's pending events reads, against the context before it."""
    context = Context()
    out = []
    for position, event in enumerate(aggregate.collect_events(), start=1):
        logged = Logged.of(position, event)
        n = narrate(context, logged)
        out.append((n.entity_type, n.entity_id, n.cycle_id, n.action, n.before, n.after))
        advance(context, logged)
    return out[1:]  # after the creation


def test_a_person_switched_off_and_on() -> None:
    person = Person.register("Ada", "ada@example.com", CTX)
    person.deactivate("left", CTX)
    person.reactivate("back", CTX)
    p = person.id
    assert narrations(person) == [
        ("person", p, None, "person deactivated", {"active": True}, {"active": False}),
        ("person", p, None, "person reactivated", {"active": False}, {"active": True}),
    ]


@pytest.mark.parametrize(
    ("make", "entity_type", "noun"),
    [
        (
            lambda: WebhookEndpoint.register("https://hooks.example.com/okr", ["*"], False, CTX),
            "webhook_endpoint",
            "webhook endpoint",
        ),
        (
            lambda: ChatChannel.connect("slack", None, "https://hooks.slack.com/services/x", CTX),
            "chat_channel",
            "chat channel",
        ),
    ],
)
def test_an_endpoint_or_a_channel_disabled_and_reenabled(
    make: Any, entity_type: str, noun: str
) -> None:
    switched = make()
    switched.disable("too noisy", CTX)
    switched.reenable(CTX)
    i = switched.id
    assert narrations(switched) == [
        (entity_type, i, None, f"{noun} disabled", {"enabled": True}, {"enabled": False}),
        (entity_type, i, None, f"{noun} re-enabled", {"enabled": False}, {"enabled": True}),
    ]


def test_a_cycle_through_its_phases() -> None:
    cycle = Cycle.plan(
        "2025 Q1", date(2025, 1, 1), date(2025, 3, 31), CTX, Cadence.WEEKLY, Scoring.SCALE
    )
    cycle.start(CTX)
    cycle.open_grading(CTX)
    cycle.close(CTX)
    cycle.reopen("a late grade", CTX)
    c = cycle.id

    def phase(action: str, before: str, after: str) -> tuple[Any, ...]:
        return ("cycle", c, c, action, {"phase": before}, {"phase": after})

    assert narrations(cycle) == [
        phase("cycle '2025 Q1' started", "planning", "active"),
        phase("grading opened for cycle '2025 Q1'", "active", "grading"),
        phase("cycle '2025 Q1' closed", "grading", "closed"),
        phase("cycle '2025 Q1' reopened", "closed", "grading"),
    ]
