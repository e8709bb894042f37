"""The bulk check-in (`domain.objective_bulk.report_progress`) is `Objective.check_in`: for the
same input, the same refusal (rule, message, field) or the same event, stored byte for byte
alike (the check-in's new id aside), and the same objective afterwards."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.base import CommandContext
from domain.cycle import Phase
from domain.errors import OkrError
from domain.objective import Objective, Status
from domain.objective_bulk import report_progress
from tests.unit.builders import ALICE, BOB, NOW, Q2_END, Q2_START, advance, an_objective
from tests.unit.test_event_encoding import MAPPER

_values = st.one_of(
    st.floats(),
    st.sampled_from([0.0, 1.0, 0.5, -3.0, 1e300]),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.just("7"),
)
_confidences = st.one_of(st.integers(-2, 12), st.booleans(), st.just(7.0), st.none())
_days = st.one_of(
    st.none(),
    st.dates(Q2_START - timedelta(days=3), Q2_END + timedelta(days=3)),
)
_notes = st.one_of(st.just(""), st.text(max_size=6), st.sampled_from(["  ok  ", "a\x00b", "x\ny"]))
_ats = st.one_of(
    st.none(),
    st.datetimes(
        datetime(2025, 4, 1), datetime(2025, 7, 2), timezones=st.just(UTC)
    ),  # before and after some of the dates
)


@st.composite
def _entries(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "kr": draw(st.sampled_from([0, 1, 2, "unknown"])),
        "value": draw(_values),
        "confidence": draw(_confidences),
        "effective_on": draw(_days),
        "note": draw(_notes),
        "at": draw(_ats),
        "provenance": draw(st.sampled_from([None, {"source": "import", "row": "7"}])),
    }


def _outcome(action: Any) -> tuple[str, Any]:
    try:
        return "made", action()
    except OkrError as error:
        return "refused", (type(error), error.rule, error.message, error.field)


def _stored(event: Any, like: Any) -> tuple[str, bytes]:
    """The event as stored, with the new check-in id and the time (when the command took
    its clock's) of `like`."""
    same = copy.copy(event)
    object.__setattr__(same, "check_in_id", like.check_in_id)
    object.__setattr__(same, "timestamp", like.timestamp)
    stored = MAPPER.to_stored_event(same)
    return stored.topic, stored.state


def _check_ins(objective: Objective, clock: bool) -> list[list[dict[str, Any]]]:
    aside = ("id", "superseded_by", "recorded_at") if clock else ("id", "superseded_by")
    return [
        [{k: v for k, v in dataclasses.asdict(c).items() if k not in aside} for c in kr.check_ins]
        for kr in objective.key_results.values()
    ]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=st.lists(_entries(), min_size=1, max_size=8),
    phase=st.sampled_from([Phase.ACTIVE, Phase.GRADING, Phase.PLANNING, Phase.CLOSED]),
    status=st.sampled_from(["approved", "in_review", "abandoned"]),
    removed=st.booleans(),
)
def test_the_bulk_check_in_is_the_command(
    entries: list[dict[str, Any]], phase: Phase, status: str, removed: bool
) -> None:
    builder = an_objective().with_kr().with_milestone().with_kr(title="Third")
    builder = builder.submitted() if status == "in_review" else builder.approved()
    if status == "abandoned":
        builder = builder.abandoned_()
    state = builder.build()
    cycle = state.cycle
    if removed and status == "approved":
        # a removed key result, through an approved amendment
        objective = state.objective
        objective.propose_amendment(
            cycle, {"remove_key_results": [str(state.kr_ids[2])]}, "drop it", _ctx(None, None)
        )
        amendment = next(iter(objective.amendments))
        objective.approve_amendment(cycle, amendment, CommandContext(actor=str(BOB), at=NOW))
        objective.collect_events()
    if phase != Phase.PLANNING:
        advance(cycle, phase)
    command, bulk = copy.deepcopy(state.objective), copy.deepcopy(state.objective)
    clock = False
    for entry in entries:
        kr_id = uuid4() if entry["kr"] == "unknown" else state.kr_ids[entry["kr"]]
        request = uuid4().hex
        args = (cycle, kr_id, entry["value"], entry["confidence"])
        rest = (entry["note"], entry["effective_on"])
        theirs = _outcome(
            lambda: command.check_in(*args, _ctx(entry, request), *rest)  # noqa: B023
        )
        mine = _outcome(lambda: report_progress(bulk, *args, _ctx(entry, request), *rest))  # noqa: B023
        assert mine[0] == theirs[0], (mine, theirs)
        if theirs[0] == "refused":
            assert mine == theirs
        their_events, my_events = command.collect_events(), bulk.collect_events()
        assert len(their_events) == len(my_events)
        for their, my in zip(their_events, my_events, strict=True):
            assert type(my) is type(their)
            assert list(my.__dict__) == list(their.__dict__)  # the same order: the same bytes
            if entry["at"] is not None:
                assert my.timestamp == their.timestamp == entry["at"]
            assert _stored(my, their) == _stored(their, their)
        assert bulk.version == command.version
        clock = clock or entry["at"] is None  # the command took its clock's time: they differ
        if not clock:
            assert bulk.modified_on == command.modified_on
    assert _check_ins(bulk, clock) == _check_ins(command, clock)


def _ctx(entry: dict[str, Any] | None, request: str | None) -> CommandContext:
    if entry is None:
        return CommandContext(actor=str(ALICE), at=NOW)
    return CommandContext(
        actor=str(ALICE),
        request_id=request or "r",
        at=entry["at"],
        provenance=entry["provenance"],
    )


def test_a_typical_import_row_takes_the_fast_way() -> None:
    """The property above would pass if every check-in went to the command; this one fails
    unless an ordinary check-in is made without it."""
    state = an_objective().with_kr().checked_in(0, 1.0).build()
    objective, cycle = state.objective, state.cycle
    assert objective.status == Status.APPROVED
    calls: list[Any] = []
    original = Objective.check_in
    Objective.check_in = lambda *a, **k: calls.append(a) or original(*a, **k)  # type: ignore[method-assign]
    try:
        report_progress(
            objective,
            cycle,
            state.kr_ids[0],
            42.0,
            7,
            CommandContext(actor="a", at=NOW, provenance={"row": "2"}),
            "",
            date(2025, 5, 1),
        )
    finally:
        Objective.check_in = original  # type: ignore[method-assign]
    assert calls == []
    assert objective.key_results[state.kr_ids[0]].check_ins[-1].value == 42.0
    assert objective.collect_events()[-1].provenance == {"row": "2"}  # type: ignore[attr-defined]
