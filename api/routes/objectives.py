"""Objectives and key results: draft, negotiate, amend, check in, grade, reflect, carry over.

Thin adapters: each route parses the request, calls its use case (`api/usecases/objectives.py`:
authorization, If-Match as the expected version, the command) and shapes the HTTP answer. The
routes of one shape are a table (`api/routes/commands.py`); the others are written out.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from api import positions, present
from api import schemas as s
from api.deps import (
    NOW,
    Instant,
    PrincipalDep,
    ReadAt,
    Services,
    ServicesDep,
    StorePositionDep,
    etag,
    log_position,
    visible_objective,
)
from api.errors import ApiError, not_found
from api.routes import WRITE, ObjectivesDep, problems, router
from api.routes.commands import Command, Param, naming, query, register
from api.usecases.objectives import ObjectiveUseCases as U
from api.usecases.queries import moment
from infra.answer import pin

objectives = router("objectives")

_CREATE = problems(403, 404, 409)
_ONE = "/objectives/{objective_id}"
_KR = _ONE + "/key-results/{key_result_id}"


_KR_OUT = naming(s.KeyResultCommandResult, "key_result_id")
_AMENDMENT_OUT = naming(s.AmendmentCommandResult, "amendment_id")
_CHECK_IN_OUT = naming(s.CheckInCommandResult, "check_in_id")

# ------------------------------------------------------------------- drafting

register(
    objectives,
    ObjectivesDep,
    _CREATE,
    Command(
        "POST",
        "/objectives",
        "draft_objective",
        "Draft an objective",
        """Drafts an objective in a cycle that is planning or active, owned by the caller, a team
        the caller belongs to, or (for managers) a team below one they manage.""",
        U.draft,
        s.ObjectiveCreate,
        status_code=201,
        if_match=False,
        location="/api/v1/objectives/{id}",
    ),
)


@objectives.get(
    "/objectives/{objective_id}",
    response_model=s.ObjectiveOut,
    responses=problems(404),
    summary="Read an objective (now or as of an instant)",
)
def read_objective(
    objective_id: UUID,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    __: StorePositionDep,
    as_of: Annotated[
        Instant | None,
        Query(
            description="RFC 3339 instant: the objective as it stood then (404 if it did "
            "not exist yet)."
        ),
    ] = None,
    position: Annotated[
        int | None,
        log_position(
            "A log position (a notification id, e.g. a read's `OKR-Position`): the objective as "
            "it stood there (404 if it did not exist yet)."
        ),
    ] = None,
) -> s.ObjectiveOut:
    """The objective with its key results, check-ins (corrections included), negotiation
    and amendments. The `ETag` is its version (at `as_of` or `position`, the version it had
    then); `OKR-Position` is the position of the event that made that version (live), or the
    position asked for (`as_of`, `position`)."""
    at = ReadAt(as_of, position).either()
    version = None
    if at != NOW:
        version = _version_at(services, objective_id, at)
    objective = visible_objective(services, principal, objective_id, version)
    if version is None:
        positions.saw_aggregate(services.ledger, objective.id, objective.version)
    response.headers["ETag"] = etag(objective.version)
    return present.objective(objective, as_of)


def _version_at(services: Services, objective_id: UUID, at: ReadAt) -> int:
    readmodels = services.readmodels
    if readmodels is None:
        raise ApiError(
            503, "projections_unavailable", "as_of needs the read models; start with okr serve"
        )
    position = moment(services, readmodels, at)
    assert position is not None
    pin(position)
    version = readmodels.version_at_position(objective_id, position) if position else None
    if version is None:
        raise not_found("objective", objective_id)
    return version


register(
    objectives,
    ObjectivesDep,
    WRITE,
    Command(
        "PATCH",
        _ONE,
        "update_objective",
        "Reword, realign and/or reassign an objective",
        """One atomic change. Realign by sending `parent_objective_id` (and optionally
        `parent_key_result_id`; null detaches); reassign by sending one of `owner_team_id` /
        `owner_person_id`. After approval a `reason` is required (409/422 otherwise).""",
        U.update,
        s.ObjectivePatch,
    ),
    Command(
        "POST",
        _ONE + "/abandon",
        "abandon_objective",
        "Abandon an objective",
        "The objective stays in the tree and history as abandoned; the reason is recorded.",
        U.abandon,
        s.Reason,
    ),
    # key results
    Command(
        "POST",
        _ONE + "/key-results",
        "add_key_result",
        "Add a key result to a draft",
        """A metric key result needs a target (and, to increase or decrease, a baseline on the
        right side of it); a milestone is done or not.""",
        U.add_key_result,
        s.KeyResultCreate,
        status_code=201,
        location="/api/v1/objectives/{objective_id}",
        out=_KR_OUT,
    ),
    Command(
        "PATCH",
        _KR,
        "update_key_result",
        "Edit a key result of a draft",
        """Only while the objective is a draft (or changes were requested / countered); after
        approval this is 409 `amendment_required`: propose an amendment.""",
        U.update_key_result,
        s.KeyResultPatch,
        out=_KR_OUT,
    ),
    Command(
        "DELETE",
        _KR,
        "remove_key_result",
        "Remove a key result from a draft",
        "Only while the objective is a draft; after approval propose an amendment.",
        U.remove_key_result,
        extras=(query("reason", str, "Why (optional).", "", max_length=2000),),
        out=_KR_OUT,
    ),
)


# ----------------------------------------------------------------- negotiation

register(
    objectives,
    ObjectivesDep,
    WRITE,
    Command(
        "POST",
        _ONE + "/submit",
        "submit",
        "Submit for approval",
        "Asks `approver_id` (not the caller) to approve; the objective needs a key result.",
        U.submit,
        s.Submit,
    ),
    Command(
        "POST",
        _ONE + "/approve",
        "approve",
        "Approve (manager)",
        "Nobody approves their own proposal (409 `no_self_approval`).",
        U.approve,
    ),
    Command(
        "POST",
        _ONE + "/request-changes",
        "request_changes",
        "Request changes (manager)",
        "Sends the objective back to its contributors with a comment.",
        U.request_changes,
        s.Comment,
    ),
    Command(
        "POST",
        _ONE + "/counter-propose",
        "counter_propose",
        "Counter-propose concrete changes (manager)",
        "The contributor then accepts (approving the objective with the changes) or revises.",
        U.counter_propose,
        s.CounterProposalIn,
    ),
    Command(
        "POST",
        _ONE + "/accept-counter",
        "accept_counter",
        "Accept the counter-proposal",
        """The contributor accepts the manager's counter-proposal: its changes apply and the
        objective is approved (by the manager who proposed them).""",
        U.accept_counter,
    ),
    Command(
        "POST",
        _ONE + "/withdraw",
        "withdraw",
        "Withdraw a submission",
        "Takes a submitted objective back to draft.",
        U.withdraw,
    ),
    # amendments
    Command(
        "POST",
        _ONE + "/amendments",
        "propose_amendment",
        "Propose an amendment to an approved objective",
        "Moving a target, baseline, weight or scope after approval: the goalpost ledger.",
        U.propose_amendment,
        s.AmendmentCreate,
        status_code=201,
        out=_AMENDMENT_OUT,
    ),
    Command(
        "POST",
        _ONE + "/amendments/{amendment_id}/approve",
        "approve_amendment",
        "Approve an amendment (manager)",
        """The amendment's changes apply now; its proposer cannot approve it (409
        `no_self_approval`).""",
        lambda uses, objective_id, amendment_id, body, expected: uses.approve_amendment(
            objective_id, amendment_id, body.comment if body else "", expected
        ),
        extras=(Param("body", s.OptionalComment | None, None),),
        out=_AMENDMENT_OUT,
    ),
    Command(
        "POST",
        _ONE + "/amendments/{amendment_id}/reject",
        "reject_amendment",
        "Reject an amendment (manager)",
        "The amendment stays in the history as rejected, with the comment.",
        U.reject_amendment,
        s.Comment,
        out=_AMENDMENT_OUT,
    ),
    # tracking
    Command(
        "POST",
        _KR + "/check-ins",
        "check_in",
        "Check in progress",
        """A value, a confidence (0-10), a note and the day the value is true for (within the
        cycle, not in the future). Only approved objectives in an active or grading cycle.""",
        U.check_in,
        s.CheckInCreate,
        status_code=201,
        out=_CHECK_IN_OUT,
    ),
    Command(
        "POST",
        _KR + "/check-ins/{check_in_id}/corrections",
        "correct_check_in",
        "Correct a check-in",
        """A new check-in supersedes the wrong one (which stays in the history); `check_in_id`
        in the answer is the correction's id.""",
        U.correct_check_in,
        s.CorrectionCreate,
        status_code=201,
        out=_CHECK_IN_OUT,
    ),
    # grading
    Command(
        "POST",
        _KR + "/grade",
        "grade_key_result",
        "Grade a key result",
        """In the grading phase. Owners self-assess; a manager above them may adjust with a
        comment (422 `adjustment_needs_comment` without one).""",
        U.grade_key_result,
        s.KeyResultGrade,
        out=_KR_OUT,
    ),
    Command(
        "POST",
        _ONE + "/grade",
        "grade_objective",
        "Grade the objective",
        "Without a score the key results' weighted mean stands (all must be graded).",
        U.grade,
        s.ObjectiveGrade,
    ),
    Command(
        "POST",
        _ONE + "/reflection",
        "reflect",
        "Write the reflection",
        "The owners' self-assessment in words, in the grading phase.",
        U.reflect,
        s.Reflection,
    ),
    Command(
        "POST",
        _ONE + "/carry-over",
        "carry_over",
        "Carry over into a later cycle",
        """Drafts a successor in `to_cycle_id` with the unfinished key results (same lineage).
        The answer's `id` is the new objective.""",
        U.carry_over,
        s.CarryOver,
        status_code=201,
        location="/api/v1/objectives/{id}",
    ),
)
