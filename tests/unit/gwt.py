"""Given / when / then for aggregates, with no database (Commanded style).

given = an_objective().submitted().build()          # given: a state built by builders
events = when(given.objective, lambda: ...)           # when: one command
assert classes(events) == [Objective.Approved]        # then: these events ...
error = refused(given.objective, lambda: ..., ...)    # ... or this error, and nothing changed
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from domain.errors import OkrError

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic", "request_id"}


def when(aggregate: Any, command: Callable[[], Any]) -> list[Any]:
    """Run one command against a settled aggregate; answer the events it caused."""
    assert not aggregate.pending_events, "the given state must have no pending events"
    version = aggregate.version
    command()
    events = list(aggregate.collect_events())
    assert [e.originator_version for e in events] == list(
        range(version + 1, version + 1 + len(events))
    ), "events follow the aggregate's version without gaps"
    return events


def classes(events: list[Any]) -> list[type]:
    return [type(e) for e in events]


def payload(event: Any) -> dict[str, Any]:
    """What an event says, without the envelope (ids, version, time, request, and the
    provenance when the values were typed in)."""
    return {
        k: v
        for k, v in vars(event).items()
        if k not in _ENVELOPE and not (k == "provenance" and v is None)
    }


def created(aggregate: Any, kind: type) -> dict[str, Any]:
    """What the one event that created `aggregate` says (it must be a `kind`)."""
    [event] = aggregate.collect_events()
    assert type(event) is kind
    return payload(event)


def refused(
    aggregates: Any,
    command: Callable[[], Any],
    rule: str,
    field: str | None = None,
    error: type[OkrError] = OkrError,
) -> OkrError:
    """The command raises `error` naming `rule` (and `field`), and changes nothing at all.

    `aggregates` is one aggregate or a tuple of them; each must equal, attribute for attribute,
    a deep copy taken before the command, and have no pending events.
    """
    group = aggregates if isinstance(aggregates, tuple) else (aggregates,)
    before = [copy.deepcopy(a) for a in group]
    with pytest.raises(error) as info:
        command()
    assert info.value.rule == rule, f"expected rule {rule!r}, got {info.value.rule!r}: {info.value}"
    if field is not None:
        assert info.value.field == field, f"expected field {field!r}, got {info.value.field!r}"
    for aggregate, snapshot in zip(group, before, strict=True):
        assert not aggregate.pending_events, "a refused command must not record events"
        assert aggregate == snapshot, "a refused command must not change the aggregate"
    return info.value
