"""The check-in fast paths (three events in four are check-ins) give what the general code gives:
the narration of `Objective.ProgressReported` is what `about_objective` and the helpers phrase, and the
tree's check-in points equal (and encode as) the ones the dataclass's `__init__` builds."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.objective import Objective
from projections import codec
from projections.base import Logged
from projections.catalogue import narrate
from projections.narrative import (
    Context,
    Narration,
    _kr,
    _on_day,
    about_objective,
    advance,
    number,
    q,
)
from projections.tree import CheckInPoint, _point
from tests.unit.projections.story import first_quarter

STORY = first_quarter()
CONTEXT = Context()
for _logged in STORY.ledger.log():
    advance(CONTEXT, _logged)
KEY_RESULTS = sorted(
    (node.objective_id, kr_id)
    for node in CONTEXT.tree.objectives.values()
    for kr_id in node.key_results
)
A_CHECK_IN = next(
    lg.event for lg in STORY.ledger.log() if type(lg.event) is Objective.ProgressReported
)
A_CORRECTION = next(
    lg.event for lg in STORY.ledger.log() if type(lg.event) is Objective.CheckInCorrected
)


def _reference(context: Context, e: Objective.ProgressReported) -> Narration:
    """The phrasing through the general helpers (as before the fast path)."""
    kr = _kr(context, e, e.key_result_id)
    action = (
        f"check-in on {q(kr.title)}: {number(e.value)} (confidence {e.confidence})"
        f" for {_on_day(e.effective_on)}"
    )
    after = {
        "check_in_id": str(e.check_in_id),
        "value": e.value,
        "confidence": e.confidence,
        "note": e.note,
        "effective_on": _on_day(e.effective_on),
    }
    return about_objective(context, e, action, {}, after, key_result_id=e.key_result_id)


def _like(event: Any, **changes: Any) -> Any:
    """A copy of a domain event with some fields changed (events are frozen)."""
    copy = object.__new__(type(event))
    object.__setattr__(copy, "__dict__", {**event.__dict__, **changes})
    return copy


values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**18), 10**18),
    st.sampled_from([0.0, 40.0, 32.5, 1e15, -0.0, 99.95]),
)
check_ins = st.fixed_dictionaries(
    {
        "check_in_id": st.uuids(),
        "value": values,
        "confidence": st.integers(0, 10),
        "note": st.text(max_size=20),
        "effective_on": st.dates(min_value=date(2000, 1, 1)),
        "timestamp": st.datetimes(timezones=st.just(UTC)),
    }
)


@settings(max_examples=200, deadline=None)
@given(fields=check_ins, where=st.sampled_from(KEY_RESULTS))
def test_a_check_in_reads_as_the_general_phrasing(
    fields: dict[str, Any], where: tuple[UUID, UUID]
) -> None:
    objective_id, kr_id = where
    event = _like(A_CHECK_IN, originator_id=objective_id, key_result_id=kr_id, **fields)
    logged = Logged(10_000, datetime(2025, 2, 1, tzinfo=UTC), event)
    assert narrate(CONTEXT, logged) == _reference(CONTEXT, event)


@settings(max_examples=100, deadline=None)
@given(fields=check_ins, correction=st.booleans())
def test_a_check_in_point_is_what_its_init_builds(fields: dict[str, Any], correction: bool) -> None:
    event = _like(A_CORRECTION if correction else A_CHECK_IN, **fields)
    built = CheckInPoint(
        event.check_in_id,
        event.effective_on,
        event.timestamp,
        event.value,
        event.confidence,
        event.note,
    )
    fast = _point(event)
    assert fast == built
    assert codec.dump(fast) == codec.dump(built)
    # Every slot set, and the JSON encoders' output (which follows the fields' order) the same.
    assert all(
        getattr(fast, f.name) == getattr(built, f.name) for f in dataclasses.fields(CheckInPoint)
    )
    assert orjson.dumps(fast) == orjson.dumps(built)
