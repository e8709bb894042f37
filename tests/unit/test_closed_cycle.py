"""A closed cycle refuses every objective command; reopening (with a reason) allows grading again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from domain.cycle import Phase
from domain.errors import RuleViolated
from domain.objective import Objective
from tests.unit.builders import (
    ADMIN,
    ALICE,
    BOB,
    Given,
    advance,
    an_objective,
    ctx,
    metric,
    next_quarter,
)
from tests.unit.gwt import classes, refused, when


def closed_with_history() -> tuple[Given, Any]:
    """Approved, checked in and corrected, a pending amendment, graded, reflected, closed."""
    given = an_objective().with_kr().with_milestone().checked_in(0, 150).checked_in(1, 0).build()
    o, c = given.objective, given.cycle
    amendment_id = o.propose_amendment(c, {"title": "Renamed"}, "clearer", ctx(ALICE))
    advance(c, Phase.GRADING)
    o.grade_key_result(c, given.kr_ids[0], ctx(ALICE))
    o.reflect(c, "Learned a lot", ctx(ALICE))
    o.collect_events()
    advance(c, Phase.CLOSED)
    return given, amendment_id


COMMANDS: dict[str, Callable[[Given, Any], Any]] = {
    "reword": lambda g, a: g.objective.reword(g.cycle, "T", None, ctx(), "r"),
    "realign": lambda g, a: g.objective.realign(g.cycle, None, None, ctx(), "r"),
    "reassign": lambda g, a: g.objective.reassign(g.cycle, None, BOB, ctx(), "r"),
    "abandon": lambda g, a: g.objective.abandon(g.cycle, "r", ctx()),
    "add_key_result": lambda g, a: g.objective.add_key_result(**metric(), cycle=g.cycle, ctx=ctx()),
    "update_key_result": lambda g, a: g.objective.update_key_result(
        g.cycle, g.kr_ids[0], ctx(), target=300
    ),
    "remove_key_result": lambda g, a: g.objective.remove_key_result(g.cycle, g.kr_ids[1], ctx()),
    "submit": lambda g, a: g.objective.submit_for_approval(g.cycle, BOB, ctx()),
    "approve": lambda g, a: g.objective.approve(g.cycle, ctx(BOB)),
    "request_changes": lambda g, a: g.objective.request_changes(g.cycle, "c", ctx(BOB)),
    "counter_propose": lambda g, a: g.objective.counter_propose(
        g.cycle, {"title": "T"}, "c", ctx(BOB)
    ),
    "accept_counter": lambda g, a: g.objective.accept_counter_proposal(g.cycle, ctx()),
    "withdraw": lambda g, a: g.objective.withdraw(g.cycle, ctx()),
    "propose_amendment": lambda g, a: g.objective.propose_amendment(
        g.cycle, {"title": "T"}, "r", ctx()
    ),
    "approve_amendment": lambda g, a: g.objective.approve_amendment(g.cycle, a, ctx(BOB)),
    "reject_amendment": lambda g, a: g.objective.reject_amendment(g.cycle, a, "no", ctx(BOB)),
    "check_in": lambda g, a: g.objective.check_in(g.cycle, g.kr_ids[0], 170, 8, ctx()),
    "correct_check_in": lambda g, a: g.objective.correct_check_in(
        g.cycle, g.kr_ids[0], g.check_in_ids(0)[0], 140, "r", ctx()
    ),
    "grade_key_result": lambda g, a: g.objective.grade_key_result(
        g.cycle, g.kr_ids[1], ctx(), achieved=True, comment="c"
    ),
    "grade": lambda g, a: g.objective.grade(g.cycle, ctx(), score=0.5, comment="c"),
    "reflect": lambda g, a: g.objective.reflect(g.cycle, "More", ctx()),
    "carry_over": lambda g, a: g.objective.carry_over(next_quarter(), g.cycle, ctx()),
    "tag_theme": lambda g, a: g.objective.tag_theme(g.cycle, uuid4(), ctx()),
    "link_key_result_to_kpi": lambda g, a: g.objective.link_key_result_to_kpi(
        g.cycle, g.kr_ids[0], uuid4(), "", ctx()
    ),
    "unlink_key_result_from_kpi": lambda g, a: g.objective.unlink_key_result_from_kpi(
        g.cycle, g.kr_ids[0], ctx()
    ),
    "attach_source": lambda g, a: g.objective.attach_source(
        g.cycle, g.kr_ids[0], {"kind": "sql", "connection": "dw", "query": "SELECT 1"}, "r", ctx()
    ),
    "detach_source": lambda g, a: g.objective.detach_source(g.cycle, g.kr_ids[0], "r", ctx()),
    "take_fetched_value": lambda g, a: g.objective.take_fetched_value(
        g.cycle, g.kr_ids[0], uuid4(), 170, ctx()
    ),
}


def test_every_objective_command_is_listed() -> None:
    """If the aggregate grows a command, this list (and the rule) must grow with it."""
    public = {  # the aggregate's own and its mixins' (domain/objective_*.py)
        name
        for part in Objective.__mro__
        if part.__module__.startswith("domain.objective")
        for name, member in vars(part).items()
        if callable(member) and not name.startswith("_") and name[0].islower()
    }
    queries = {"content", "content_hash", "key_result", "draft", "quality_spec"}
    aliases = {"submit_for_approval": "submit", "accept_counter_proposal": "accept_counter"}
    assert {aliases.get(n, n) for n in public - queries} == set(COMMANDS)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_closed_cycle_refuses_every_objective_command(name: str) -> None:
    given, amendment_id = closed_with_history()
    refused(
        (given.objective, given.cycle),
        lambda: COMMANDS[name](given, amendment_id),
        "wrong_cycle_phase",
        error=RuleViolated,
    )


@pytest.mark.parametrize("name", ["submit", "add_key_result", "update_key_result", "reword"])
def test_a_draft_left_in_a_closed_cycle_stays_as_it_is(name: str) -> None:
    given = an_objective().with_kr().with_kr(title="B").in_phase(Phase.CLOSED).build()
    refused(given.objective, lambda: COMMANDS[name](given, None), "wrong_cycle_phase")


def test_drafting_into_a_closed_cycle_is_refused() -> None:
    given = an_objective().in_phase(Phase.CLOSED).build()
    with pytest.raises(RuleViolated) as info:
        Objective.draft(
            cycle=given.cycle,
            owner_team_id=None,
            owner_person_id=ALICE,
            title="Late",
            kind="committed",  # type: ignore[arg-type]
            ctx=ctx(),
        )
    assert info.value.rule == "wrong_cycle_phase"


def test_after_reopening_grades_can_be_corrected_again() -> None:
    given, _ = closed_with_history()
    o, c = given.objective, given.cycle
    events = when(c, lambda: c.reopen("the milestone was done after all", ctx(ADMIN)))
    assert classes(events) == [c.Reopened]
    events = when(
        o,
        lambda: o.grade_key_result(
            c, given.kr_ids[1], ctx(BOB), achieved=True, comment="shipped on the last day"
        ),
    )
    assert classes(events) == [Objective.KeyResultGraded]
    advance(c, Phase.CLOSED)
    refused(o, lambda: COMMANDS["grade"](given, None), "wrong_cycle_phase")
