"""Initiatives: the work meant to move key results, with an owner, a status and notes."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.errors import InvalidValue, RuleViolated
from domain.initiative import Initiative, InitiativeStatus, KeyResultRef
from tests.unit.builders import ALICE, BOB, ctx, settled
from tests.unit.gwt import classes, created, refused, when

KR1 = KeyResultRef(uuid4(), uuid4())
KR2 = KeyResultRef(uuid4(), uuid4())


def an_initiative(status: InitiativeStatus = InitiativeStatus.PLANNED) -> Initiative:
    initiative = Initiative.launch(
        title="Checkout rebuild", owner_person_id=ALICE, key_results=[KR1], ctx=ctx(ALICE)
    )
    if status in (InitiativeStatus.IN_PROGRESS, InitiativeStatus.DONE):
        initiative.change_status(InitiativeStatus.IN_PROGRESS, ctx(ALICE))
    if status == InitiativeStatus.DONE:
        initiative.change_status(InitiativeStatus.DONE, ctx(ALICE), note="shipped")
    if status == InitiativeStatus.CANCELLED:
        initiative.change_status(InitiativeStatus.CANCELLED, ctx(BOB), reason="no budget")
    return settled(initiative)


def test_launched_planned_with_the_key_results_it_moves() -> None:
    initiative = Initiative.launch(
        title=" Checkout rebuild ",
        owner_person_id=ALICE,
        key_results=[KR1, KR2, KR1],
        ctx=ctx(ALICE),
    )
    assert created(initiative, Initiative.Launched) == {
        "actor": str(ALICE),
        "reason": "",
        "title": "Checkout rebuild",
        "description": "",
        "owner_person_id": ALICE,
        "key_results": [
            {"objective_id": KR1.objective_id, "key_result_id": KR1.key_result_id},
            {"objective_id": KR2.objective_id, "key_result_id": KR2.key_result_id},
        ],
    }
    assert initiative.status == InitiativeStatus.PLANNED


def test_an_initiative_moves_at_least_one_key_result() -> None:
    with pytest.raises(InvalidValue) as info:
        Initiative.launch(title="x", owner_person_id=ALICE, key_results=[], ctx=ctx(ALICE))
    assert (info.value.rule, info.value.field) == ("key_results_required", "key_result_ids")


@pytest.mark.parametrize(
    ("start", "to", "event", "reason"),
    [
        (InitiativeStatus.PLANNED, InitiativeStatus.IN_PROGRESS, Initiative.Started, ""),
        (InitiativeStatus.PLANNED, InitiativeStatus.DONE, Initiative.Completed, ""),
        (InitiativeStatus.IN_PROGRESS, InitiativeStatus.DONE, Initiative.Completed, ""),
        (InitiativeStatus.IN_PROGRESS, InitiativeStatus.CANCELLED, Initiative.Cancelled, "why"),
        (InitiativeStatus.DONE, InitiativeStatus.IN_PROGRESS, Initiative.Reopened, "why"),
        (InitiativeStatus.CANCELLED, InitiativeStatus.IN_PROGRESS, Initiative.Reopened, "why"),
    ],
)
def test_status_moves(
    start: InitiativeStatus, to: InitiativeStatus, event: type, reason: str
) -> None:
    initiative = an_initiative(start)
    events = when(
        initiative, lambda: initiative.change_status(to, ctx(ALICE), note="n", reason=reason)
    )
    assert classes(events) == [event]
    assert initiative.status == to
    assert initiative.notes[-1].text == "n"


@pytest.mark.parametrize(
    ("start", "to", "rule"),
    [
        (InitiativeStatus.PLANNED, InitiativeStatus.PLANNED, "status_unchanged"),
        (InitiativeStatus.IN_PROGRESS, InitiativeStatus.PLANNED, "status_transition_invalid"),
        (InitiativeStatus.DONE, InitiativeStatus.CANCELLED, "status_transition_invalid"),
    ],
)
def test_status_moves_that_are_refused(
    start: InitiativeStatus, to: InitiativeStatus, rule: str
) -> None:
    initiative = an_initiative(start)
    refused(initiative, lambda: initiative.change_status(to, ctx(ALICE)), rule, error=RuleViolated)


def test_cancelling_and_reopening_say_why() -> None:
    initiative = an_initiative(InitiativeStatus.IN_PROGRESS)
    refused(
        initiative,
        lambda: initiative.change_status(InitiativeStatus.CANCELLED, ctx(ALICE)),
        "text_required",
        "reason",
    )
    with pytest.raises(InvalidValue):
        initiative.change_status("paused", ctx(ALICE))  # type: ignore[arg-type]


def test_key_results_are_linked_once_and_the_last_one_stays() -> None:
    initiative = an_initiative()
    events = when(initiative, lambda: initiative.link_key_result(KR2, ctx(ALICE)))
    assert classes(events) == [Initiative.KeyResultLinked]
    refused(
        initiative,
        lambda: initiative.link_key_result(KR2, ctx(ALICE)),
        "key_result_already_linked",
    )
    events = when(initiative, lambda: initiative.unlink_key_result(KR1, ctx(ALICE)))
    assert initiative.key_results == [KR2]
    refused(
        initiative,
        lambda: initiative.unlink_key_result(KR2, ctx(ALICE)),
        "key_results_required",
    )


def test_a_closed_initiative_takes_notes_but_no_new_key_results() -> None:
    initiative = an_initiative(InitiativeStatus.DONE)
    refused(initiative, lambda: initiative.link_key_result(KR2, ctx(ALICE)), "initiative_closed")
    events = when(initiative, lambda: initiative.add_note("Lessons written up", ctx(ALICE)))
    assert classes(events) == [Initiative.NoteAdded]
    assert [n.text for n in initiative.notes] == ["shipped", "Lessons written up"]
