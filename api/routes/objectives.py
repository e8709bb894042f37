"""Objectives and key results: draft, negotiate, amend, check in, grade, reflect, carry over.

Thin adapters: each route parses the request, calls its use case (`api/usecases/objectives.py`:
authorization, If-Match as the expected version, the command) and shapes the HTTP answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from api import positions, present
from api import schemas as s
from api.deps import (
    IfMatchDep,
    Instant,
    PrincipalDep,
    Services,
    ServicesDep,
    StorePositionDep,
    answer,
    etag,
    visible_objective,
)
from api.errors import ApiError, invalid, not_found
from api.routes import ObjectivesDep, problems, router
from domain.application import CommandResult
from infra.answer import pin

objectives = router("objectives")

_WRITE = problems(403, 404, 409, 412)
_CREATE = problems(403, 404, 409)


# ------------------------------------------------------------------- drafting


@objectives.post(
    "/objectives",
    status_code=201,
    response_model=s.CommandResult,
    responses=_CREATE,
    summary="Draft an objective",
)
def draft_objective(
    body: s.ObjectiveCreate,
    uses: ObjectivesDep,
    response: Response,
) -> CommandResult:
    """Drafts an objective in a cycle that is planning or active, owned by the caller, a team
    the caller belongs to, or (for managers) a team below one they manage."""
    result = uses.draft(body)
    return answer(response, result, location=f"/api/v1/objectives/{result.id}")


@objectives.get(
    "/objectives/{objective_id}",
    response_model=s.Objective,
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
        Query(
            ge=0,
            le=2**62,
            description="A log position (a notification id, e.g. a read's `OKR-Position`): the "
            "objective as it stood there (404 if it did not exist yet).",
        ),
    ] = None,
) -> s.Objective:
    """The objective with its key results, check-ins (corrections included), negotiation
    and amendments. The `ETag` is its version (at `as_of` or `position`, the version it had
    then); `OKR-Position` is the position of the event that made that version (live), or the
    position asked for (`as_of`, `position`)."""
    if as_of is not None and position is not None:
        raise invalid("as_of_or_position", "give as_of or position, not both", "position")
    version = None
    if as_of is not None or position is not None:
        version = _version_at(services, objective_id, as_of, position)
    objective = visible_objective(services, principal, objective_id, version)
    if version is None:
        positions.saw_aggregate(services.ledger, objective.id, objective.version)
    response.headers["ETag"] = etag(objective.version)
    return present.objective(objective, as_of)


def _version_at(
    services: Services, objective_id: UUID, as_of: datetime | None, position: int | None
) -> int:
    readmodels = services.readmodels
    if readmodels is None:
        raise ApiError(
            503, "projections_unavailable", "as_of needs the read models; start with okr serve"
        )
    if position is not None:
        head = services.ledger.recorder.max_notification_id() or 0
        if position > head:
            raise invalid("position_beyond_log", f"the log ends at position {head}", "position")
    else:
        assert as_of is not None
        position = readmodels.position_at(as_of) or 0
    pin(position)
    version = readmodels.version_at_position(objective_id, position) if position else None
    if version is None:
        raise not_found("objective", objective_id)
    return version


@objectives.patch(
    "/objectives/{objective_id}",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Reword, realign and/or reassign an objective",
)
def update_objective(
    objective_id: UUID,
    body: s.ObjectivePatch,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """One atomic change. Realign by sending `parent_objective_id` (and optionally
    `parent_key_result_id`; null detaches); reassign by sending one of `owner_team_id` /
    `owner_person_id`. After approval a `reason` is required (409/422 otherwise)."""
    return answer(response, uses.update(objective_id, body, expected))


@objectives.post(
    "/objectives/{objective_id}/abandon",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Abandon an objective",
)
def abandon_objective(
    objective_id: UUID,
    body: s.Reason,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The objective stays in the tree and history as abandoned; the reason is recorded."""
    return answer(response, uses.abandon(objective_id, body, expected))


# ----------------------------------------------------------------- key results


@objectives.post(
    "/objectives/{objective_id}/key-results",
    status_code=201,
    response_model=s.KeyResultCommandResult,
    responses=_WRITE,
    summary="Add a key result to a draft",
)
def add_key_result(
    objective_id: UUID,
    body: s.KeyResultCreate,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.KeyResultCommandResult:
    """A metric key result needs a target (and, to increase or decrease, a baseline on the
    right side of it); a milestone is done or not."""
    result = answer(response, uses.add_key_result(objective_id, body, expected))
    response.headers["Location"] = f"/api/v1/objectives/{objective_id}"
    return _with_key_result(result)


def _with_key_result(result: CommandResult) -> s.KeyResultCommandResult:
    assert result.extra_id is not None
    return s.KeyResultCommandResult(
        id=result.id,
        version=result.version,
        position=result.position,
        key_result_id=result.extra_id,
    )


@objectives.patch(
    "/objectives/{objective_id}/key-results/{key_result_id}",
    response_model=s.KeyResultCommandResult,
    responses=_WRITE,
    summary="Edit a key result of a draft",
)
def update_key_result(
    objective_id: UUID,
    key_result_id: UUID,
    body: s.KeyResultPatch,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.KeyResultCommandResult:
    """Only while the objective is a draft (or changes were requested / countered); after
    approval this is 409 `amendment_required`: propose an amendment."""
    result = uses.update_key_result(objective_id, key_result_id, body, expected)
    return _with_key_result(answer(response, result))


@objectives.delete(
    "/objectives/{objective_id}/key-results/{key_result_id}",
    response_model=s.KeyResultCommandResult,
    responses=_WRITE,
    summary="Remove a key result from a draft",
)
def remove_key_result(
    objective_id: UUID,
    key_result_id: UUID,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
    reason: Annotated[str, Query(max_length=2000, description="Why (optional).")] = "",
) -> s.KeyResultCommandResult:
    """Only while the objective is a draft; after approval propose an amendment."""
    result = uses.remove_key_result(objective_id, key_result_id, reason, expected)
    return _with_key_result(answer(response, result))


# ----------------------------------------------------------------- negotiation


@objectives.post(
    "/objectives/{objective_id}/submit",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Submit for approval",
)
def submit(
    objective_id: UUID,
    body: s.Submit,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Asks `approver_id` (not the caller) to approve; the objective needs a key result."""
    return answer(response, uses.submit(objective_id, body, expected))


@objectives.post(
    "/objectives/{objective_id}/approve",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Approve (manager)",
)
def approve(
    objective_id: UUID,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Nobody approves their own proposal (409 `no_self_approval`)."""
    return answer(response, uses.approve(objective_id, expected))


@objectives.post(
    "/objectives/{objective_id}/request-changes",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Request changes (manager)",
)
def request_changes(
    objective_id: UUID,
    body: s.Comment,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Sends the objective back to its contributors with a comment."""
    return answer(response, uses.request_changes(objective_id, body, expected))


@objectives.post(
    "/objectives/{objective_id}/counter-propose",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Counter-propose concrete changes (manager)",
)
def counter_propose(
    objective_id: UUID,
    body: s.CounterProposal,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The contributor then accepts (approving the objective with the changes) or revises."""
    return answer(response, uses.counter_propose(objective_id, body, expected))


@objectives.post(
    "/objectives/{objective_id}/accept-counter",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Accept the counter-proposal",
)
def accept_counter(
    objective_id: UUID,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The contributor accepts the manager's counter-proposal: its changes apply and the
    objective is approved (by the manager who proposed them)."""
    return answer(response, uses.accept_counter(objective_id, expected))


@objectives.post(
    "/objectives/{objective_id}/withdraw",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Withdraw a submission",
)
def withdraw(
    objective_id: UUID,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Takes a submitted objective back to draft."""
    return answer(response, uses.withdraw(objective_id, expected))


# ------------------------------------------------------------------ amendments


def _with_amendment(result: CommandResult) -> s.AmendmentCommandResult:
    assert result.extra_id is not None
    return s.AmendmentCommandResult(
        id=result.id, version=result.version, position=result.position, amendment_id=result.extra_id
    )


@objectives.post(
    "/objectives/{objective_id}/amendments",
    status_code=201,
    response_model=s.AmendmentCommandResult,
    responses=_WRITE,
    summary="Propose an amendment to an approved objective",
)
def propose_amendment(
    objective_id: UUID,
    body: s.AmendmentCreate,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.AmendmentCommandResult:
    """Moving a target, baseline, weight or scope after approval: the goalpost ledger."""
    return _with_amendment(answer(response, uses.propose_amendment(objective_id, body, expected)))


@objectives.post(
    "/objectives/{objective_id}/amendments/{amendment_id}/approve",
    response_model=s.AmendmentCommandResult,
    responses=_WRITE,
    summary="Approve an amendment (manager)",
)
def approve_amendment(
    objective_id: UUID,
    amendment_id: UUID,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
    body: s.OptionalComment | None = None,
) -> s.AmendmentCommandResult:
    """The amendment's changes apply now; its proposer cannot approve it (409
    `no_self_approval`)."""
    comment = body.comment if body else ""
    result = uses.approve_amendment(objective_id, amendment_id, comment, expected)
    return _with_amendment(answer(response, result))


@objectives.post(
    "/objectives/{objective_id}/amendments/{amendment_id}/reject",
    response_model=s.AmendmentCommandResult,
    responses=_WRITE,
    summary="Reject an amendment (manager)",
)
def reject_amendment(
    objective_id: UUID,
    amendment_id: UUID,
    body: s.Comment,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.AmendmentCommandResult:
    """The amendment stays in the history as rejected, with the comment."""
    result = uses.reject_amendment(objective_id, amendment_id, body, expected)
    return _with_amendment(answer(response, result))


# -------------------------------------------------------------------- tracking


def _with_check_in(result: CommandResult) -> s.CheckInCommandResult:
    assert result.extra_id is not None
    return s.CheckInCommandResult(
        id=result.id, version=result.version, position=result.position, check_in_id=result.extra_id
    )


@objectives.post(
    "/objectives/{objective_id}/key-results/{key_result_id}/check-ins",
    status_code=201,
    response_model=s.CheckInCommandResult,
    responses=_WRITE,
    summary="Check in progress",
)
def check_in(
    objective_id: UUID,
    key_result_id: UUID,
    body: s.CheckInCreate,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.CheckInCommandResult:
    """A value, a confidence (0-10), a note and the day the value is true for (within the
    cycle, not in the future). Only approved objectives in an active or grading cycle."""
    result = uses.check_in(objective_id, key_result_id, body, expected)
    return _with_check_in(answer(response, result))


@objectives.post(
    "/objectives/{objective_id}/key-results/{key_result_id}/check-ins/{check_in_id}/corrections",
    status_code=201,
    response_model=s.CheckInCommandResult,
    responses=_WRITE,
    summary="Correct a check-in",
)
def correct_check_in(
    objective_id: UUID,
    key_result_id: UUID,
    check_in_id: UUID,
    body: s.CorrectionCreate,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.CheckInCommandResult:
    """A new check-in supersedes the wrong one (which stays in the history); `check_in_id`
    in the answer is the correction's id."""
    result = uses.correct_check_in(objective_id, key_result_id, check_in_id, body, expected)
    return _with_check_in(answer(response, result))


# --------------------------------------------------------------------- grading


@objectives.post(
    "/objectives/{objective_id}/key-results/{key_result_id}/grade",
    response_model=s.KeyResultCommandResult,
    responses=_WRITE,
    summary="Grade a key result",
)
def grade_key_result(
    objective_id: UUID,
    key_result_id: UUID,
    body: s.KeyResultGrade,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.KeyResultCommandResult:
    """In the grading phase. Owners self-assess; a manager above them may adjust with a
    comment (422 `adjustment_needs_comment` without one)."""
    result = uses.grade_key_result(objective_id, key_result_id, body, expected)
    return _with_key_result(answer(response, result))


@objectives.post(
    "/objectives/{objective_id}/grade",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Grade the objective",
)
def grade_objective(
    objective_id: UUID,
    body: s.ObjectiveGrade,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Without a score the key results' weighted mean stands (all must be graded)."""
    return answer(response, uses.grade(objective_id, body, expected))


@objectives.post(
    "/objectives/{objective_id}/reflection",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Write the reflection",
)
def reflect(
    objective_id: UUID,
    body: s.Reflection,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The owners' self-assessment in words, in the grading phase."""
    return answer(response, uses.reflect(objective_id, body, expected))


@objectives.post(
    "/objectives/{objective_id}/carry-over",
    status_code=201,
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Carry over into a later cycle",
)
def carry_over(
    objective_id: UUID,
    body: s.CarryOver,
    uses: ObjectivesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Drafts a successor in `to_cycle_id` with the unfinished key results (same lineage).
    The answer's `id` is the new objective."""
    result = uses.carry_over(objective_id, body, expected)
    return answer(response, result, location=f"/api/v1/objectives/{result.id}")
