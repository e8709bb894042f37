"""Objectives and key results: draft, negotiate, amend, check in, grade, reflect, carry over.

Each command loads the objective once to authorize (a private objective the caller may not see
is a 404), then runs the application's command with If-Match as its expected version.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from api import policy, positions, present
from api import schemas as s
from api.deps import (
    ContextDep,
    IfMatchDep,
    Instant,
    PrincipalDep,
    Services,
    ServicesDep,
    StorePositionDep,
    answer,
    authorize,
    etag,
    execute,
    facts_of,
    visible_objective,
)
from api.errors import ApiError, forbidden, invalid, not_found
from api.policy import Principal
from api.routes import problems, router
from domain.application import CommandResult
from domain.errors import NotFound
from domain.objective import Objective
from infra.answer import pin
from projections.directory import DirectoryState

objectives = router("objectives")

_WRITE = problems(403, 404, 409, 412)
_CREATE = problems(403, 404, 409)
_CONTRIBUTORS = "only the objective's owners and the managers above them may do this"
_DECIDERS = "only a manager of the owning team (or above it), or the named approver, decides"


def _contributor(services: Services, principal: Principal, objective_id: UUID) -> Objective:
    objective = visible_objective(services, principal, objective_id)
    authorize(services, principal, objective, policy.may_contribute, _CONTRIBUTORS)
    return objective


def _decider(services: Services, principal: Principal, objective_id: UUID) -> Objective:
    objective = visible_objective(services, principal, objective_id)
    authorize(services, principal, objective, policy.may_decide, _DECIDERS)
    return objective


def _visible_parent(services: Services, principal: Principal, parent_id: UUID | None) -> None:
    """An objective may align only to a parent its author can see."""
    if parent_id is None:
        return
    try:
        visible_objective(services, principal, parent_id)
    except (NotFound, ApiError):
        raise not_found("objective", parent_id, "parent_objective_id") from None


def _may_own(
    services: Services,
    principal: Principal,
    owner_team_id: UUID | None,
    owner_person_id: UUID | None,
) -> None:
    if not services.directory.ask(
        lambda d: policy.may_reassign_to(d, principal, owner_team_id, owner_person_id)
    ):
        raise forbidden(
            "not_allowed",
            "members draft for themselves or a team they belong to; managers also for the "
            "teams below them",
        )


def _run(
    services: Services, objective_id: UUID, response: Response, command: Callable[[], CommandResult]
) -> CommandResult:
    return answer(response, execute(services.ledger, objective_id, command))


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
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
) -> CommandResult:
    """Drafts an objective in a cycle that is planning or active, owned by the caller, a team
    the caller belongs to, or (for managers) a team below one they manage."""
    _may_own(services, principal, body.owner_team_id, body.owner_person_id)
    _visible_parent(services, principal, body.parent_objective_id)
    ledger = services.ledger
    result = execute(
        ledger,
        None,
        lambda: ledger.draft_objective(
            cycle_id=body.cycle_id,
            title=body.title,
            kind=body.kind,
            ctx=ctx,
            owner_team_id=body.owner_team_id,
            owner_person_id=body.owner_person_id,
            description=body.description,
            perspective=body.perspective,
            parent_objective_id=body.parent_objective_id,
            parent_key_result_id=body.parent_key_result_id,
            private=body.private,
        ),
    )
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
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """One atomic change. Realign by sending `parent_objective_id` (and optionally
    `parent_key_result_id`; null detaches); reassign by sending one of `owner_team_id` /
    `owner_person_id`. After approval a `reason` is required (409/422 otherwise)."""
    _contributor(services, principal, objective_id)
    sent = body.model_fields_set
    realign = bool({"parent_objective_id", "parent_key_result_id"} & sent)
    reassign = bool({"owner_team_id", "owner_person_id"} & sent)
    if not (realign or reassign or {"title", "description"} & sent):
        raise invalid("nothing_to_change", "send at least one field to change", "body")
    if reassign:
        if (body.owner_team_id is None) == (body.owner_person_id is None):
            raise invalid(
                "one_owner",
                "an objective is owned by exactly one team or one person",
                "owner_team_id",
            )
        _may_own(services, principal, body.owner_team_id, body.owner_person_id)
    if realign:
        _visible_parent(services, principal, body.parent_objective_id)
    ledger = services.ledger
    return _run(
        services,
        objective_id,
        response,
        lambda: ledger.update_objective(
            objective_id,
            ctx,
            title=body.title,
            description=body.description,
            realign=realign,
            parent_objective_id=body.parent_objective_id,
            parent_key_result_id=body.parent_key_result_id,
            reassign=reassign,
            owner_team_id=body.owner_team_id,
            owner_person_id=body.owner_person_id,
            reason=body.reason,
            expected_version=expected,
        ),
    )


@objectives.post(
    "/objectives/{objective_id}/abandon",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Abandon an objective",
)
def abandon_objective(
    objective_id: UUID,
    body: s.Reason,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The objective stays in the tree and history as abandoned; the reason is recorded."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    return _run(
        services,
        objective_id,
        response,
        lambda: ledger.abandon_objective(objective_id, body.reason, ctx, expected),
    )


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
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.KeyResultCommandResult:
    """A metric key result needs a target (and, to increase or decrease, a baseline on the
    right side of it); a milestone is done or not."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    result = _run(
        services,
        objective_id,
        response,
        lambda: ledger.add_key_result(
            objective_id,
            title=body.title,
            measure=body.measure,
            ctx=ctx,
            baseline=body.baseline,
            target=body.target,
            unit=body.unit,
            direction=body.direction,
            weight=body.weight,
            expected_version=expected,
        ),
    )
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
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.KeyResultCommandResult:
    """Only while the objective is a draft (or changes were requested / countered); after
    approval this is 409 `amendment_required`: propose an amendment."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    result = _run(
        services,
        objective_id,
        response,
        lambda: ledger.update_key_result(
            objective_id,
            key_result_id,
            ctx,
            title=body.title,
            baseline=body.baseline,
            target=body.target,
            weight=body.weight,
            reason=body.reason,
            expected_version=expected,
        ),
    )
    return _with_key_result(result)


@objectives.delete(
    "/objectives/{objective_id}/key-results/{key_result_id}",
    response_model=s.KeyResultCommandResult,
    responses=_WRITE,
    summary="Remove a key result from a draft",
)
def remove_key_result(
    objective_id: UUID,
    key_result_id: UUID,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
    reason: Annotated[str, Query(max_length=2000, description="Why (optional).")] = "",
) -> s.KeyResultCommandResult:
    """Only while the objective is a draft; after approval propose an amendment."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    result = _run(
        services,
        objective_id,
        response,
        lambda: ledger.remove_key_result(objective_id, key_result_id, ctx, reason, expected),
    )
    return _with_key_result(result)


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
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Asks `approver_id` (not the caller) to approve; the objective needs a key result."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    return _run(
        services,
        objective_id,
        response,
        lambda: ledger.submit_objective(objective_id, body.approver_id, ctx, expected),
    )


@objectives.post(
    "/objectives/{objective_id}/approve",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Approve (manager)",
)
def approve(
    objective_id: UUID,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Nobody approves their own proposal (409 `no_self_approval`)."""
    _decider(services, principal, objective_id)
    ledger = services.ledger
    return _run(
        services,
        objective_id,
        response,
        lambda: ledger.approve_objective(objective_id, ctx, expected),
    )


@objectives.post(
    "/objectives/{objective_id}/request-changes",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Request changes (manager)",
)
def request_changes(
    objective_id: UUID,
    body: s.Comment,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Sends the objective back to its contributors with a comment."""
    _decider(services, principal, objective_id)
    ledger = services.ledger
    return _run(
        services,
        objective_id,
        response,
        lambda: ledger.request_changes(objective_id, body.comment, ctx, expected),
    )


@objectives.post(
    "/objectives/{objective_id}/counter-propose",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Counter-propose concrete changes (manager)",
)
def counter_propose(
    objective_id: UUID,
    body: s.CounterProposal,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The contributor then accepts (approving the objective with the changes) or revises."""
    _decider(services, principal, objective_id)
    ledger = services.ledger
    return _run(
        services,
        objective_id,
        response,
        lambda: ledger.counter_propose(
            objective_id, body.changes.as_domain(), body.comment, ctx, expected
        ),
    )


@objectives.post(
    "/objectives/{objective_id}/accept-counter",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Accept the counter-proposal",
)
def accept_counter(
    objective_id: UUID,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The contributor accepts the manager's counter-proposal: its changes apply and the
    objective is approved (by the manager who proposed them)."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    return _run(
        services,
        objective_id,
        response,
        lambda: ledger.accept_counter_proposal(objective_id, ctx, expected),
    )


@objectives.post(
    "/objectives/{objective_id}/withdraw",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Withdraw a submission",
)
def withdraw(
    objective_id: UUID,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Takes a submitted objective back to draft."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    return _run(
        services,
        objective_id,
        response,
        lambda: ledger.withdraw_objective(objective_id, ctx, expected),
    )


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
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.AmendmentCommandResult:
    """Moving a target, baseline, weight or scope after approval: the goalpost ledger."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    result = _run(
        services,
        objective_id,
        response,
        lambda: ledger.propose_amendment(
            objective_id, body.changes.as_domain(), body.reason, ctx, expected
        ),
    )
    return _with_amendment(result)


@objectives.post(
    "/objectives/{objective_id}/amendments/{amendment_id}/approve",
    response_model=s.AmendmentCommandResult,
    responses=_WRITE,
    summary="Approve an amendment (manager)",
)
def approve_amendment(
    objective_id: UUID,
    amendment_id: UUID,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
    body: s.OptionalComment | None = None,
) -> s.AmendmentCommandResult:
    """The amendment's changes apply now; its proposer cannot approve it (409
    `no_self_approval`)."""
    _decider(services, principal, objective_id)
    ledger = services.ledger
    comment = body.comment if body else ""
    result = _run(
        services,
        objective_id,
        response,
        lambda: ledger.approve_amendment(objective_id, amendment_id, ctx, comment, expected),
    )
    return _with_amendment(result)


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
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.AmendmentCommandResult:
    """The amendment stays in the history as rejected, with the comment."""
    _decider(services, principal, objective_id)
    ledger = services.ledger
    result = _run(
        services,
        objective_id,
        response,
        lambda: ledger.reject_amendment(objective_id, amendment_id, body.comment, ctx, expected),
    )
    return _with_amendment(result)


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
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.CheckInCommandResult:
    """A value, a confidence (0-10), a note and the day the value is true for (within the
    cycle, not in the future). Only approved objectives in an active or grading cycle."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    result = _run(
        services,
        objective_id,
        response,
        lambda: ledger.check_in(
            objective_id,
            key_result_id,
            body.value,
            body.confidence,
            ctx,
            body.note,
            body.effective_on,
            expected,
        ),
    )
    return _with_check_in(result)


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
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.CheckInCommandResult:
    """A new check-in supersedes the wrong one (which stays in the history); `check_in_id`
    in the answer is the correction's id."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    result = _run(
        services,
        objective_id,
        response,
        lambda: ledger.correct_check_in(
            objective_id,
            key_result_id,
            check_in_id,
            body.value,
            body.reason,
            ctx,
            body.confidence,
            body.note,
            expected,
        ),
    )
    return _with_check_in(result)


# --------------------------------------------------------------------- grading


def _grader(services: Services, principal: Principal, objective_id: UUID, comment: str) -> None:
    """Owners grade (the self-assessment); a manager above them may adjust, with a comment."""
    facts = facts_of(visible_objective(services, principal, objective_id))

    def decide(directory: DirectoryState) -> tuple[bool, bool]:
        allowed = policy.may_contribute(directory, principal, facts) or policy.may_decide(
            directory, principal, facts
        )
        return allowed, policy.grade_is_adjustment(directory, principal, facts)

    allowed, adjustment = services.directory.ask(decide)
    if not allowed:
        raise forbidden("not_allowed", _CONTRIBUTORS)
    if adjustment and not comment.strip():
        raise invalid(
            "adjustment_needs_comment",
            "a manager adjusting the owners' grade says why in a comment",
            "comment",
        )


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
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> s.KeyResultCommandResult:
    """In the grading phase. Owners self-assess; a manager above them may adjust with a
    comment (422 `adjustment_needs_comment` without one)."""
    _grader(services, principal, objective_id, body.comment)
    ledger = services.ledger
    result = _run(
        services,
        objective_id,
        response,
        lambda: ledger.grade_key_result(
            objective_id, key_result_id, ctx, body.score, body.achieved, body.comment, expected
        ),
    )
    return _with_key_result(result)


@objectives.post(
    "/objectives/{objective_id}/grade",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Grade the objective",
)
def grade_objective(
    objective_id: UUID,
    body: s.ObjectiveGrade,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Without a score the key results' weighted mean stands (all must be graded)."""
    _grader(services, principal, objective_id, body.comment)
    ledger = services.ledger
    return _run(
        services,
        objective_id,
        response,
        lambda: ledger.grade_objective(objective_id, ctx, body.score, body.comment, expected),
    )


@objectives.post(
    "/objectives/{objective_id}/reflection",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Write the reflection",
)
def reflect(
    objective_id: UUID,
    body: s.Reflection,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The owners' self-assessment in words, in the grading phase."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    return _run(
        services,
        objective_id,
        response,
        lambda: ledger.reflect(objective_id, body.text, ctx, expected),
    )


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
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Drafts a successor in `to_cycle_id` with the unfinished key results (same lineage).
    The answer's `id` is the new objective."""
    _contributor(services, principal, objective_id)
    ledger = services.ledger
    result = execute(
        ledger,
        objective_id,
        lambda: ledger.carry_over(objective_id, body.to_cycle_id, ctx, expected),
    )
    return answer(response, result, location=f"/api/v1/objectives/{result.id}")
