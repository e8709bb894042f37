"""The OKR quality coach: findings for a cycle (GET /lint), for a draft being written (POST
/lint/draft), and how strict each check is (GET/PUT /quality-checks)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import Query, Response

from api import deps, positions
from api import schemas as s
from api import strategy_schemas as ss
from api.deps import (
    MinPositionDep,
    PrincipalDep,
    ReadModelsDep,
    Services,
    ServicesDep,
    visible_objective,
)
from api.errors import not_found
from api.policy import Principal
from api.routes import StrategyDep, problems, router
from api.routes.strategy import AsOf, Position, hidden_objectives, moment
from domain.application import CommandResult
from domain.quality import CHECKS, Check, KeyResultSpec, ObjectiveSpec
from infra import answer
from infra.readmodels import ReadModels

coach = router("quality coach")

Json = dict[str, Any]
_READ = problems(404, 504)


def _cycle(services: Services, cycle_id: UUID) -> None:
    with services.directory.current() as directory:
        known = cycle_id in directory.cycles
    if not known:
        raise not_found("cycle", cycle_id, "cycle_id")


def _answer(
    services: Services,
    principal: Principal,
    readmodels: ReadModels,
    cycle_id: UUID,
    objective_id: UUID | None,
    findings: list[Json],
) -> Json:
    hidden = hidden_objectives(services, principal, readmodels)
    if hidden:
        findings = [
            f
            for f in findings
            if str(f.get("objective_id")) not in hidden
            and not ({str(r) for r in f.get("related", [])} & hidden)
        ]
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["check"]] = counts.get(finding["check"], 0) + 1
    return {
        "cycle_id": cycle_id,
        "objective_id": objective_id,
        "findings": findings,
        "counts": counts,
        "blocking": sum(1 for f in findings if f["level"] == "block"),
    }


@coach.get("/lint", response_model=ss.Lint, responses=_READ, summary="Lint a cycle's OKRs")
def lint_cycle(
    services: ServicesDep,
    readmodels: ReadModelsDep,
    principal: PrincipalDep,
    _: MinPositionDep,
    cycle_id: Annotated[UUID, Query(description="The cycle to lint.")],
    objective_id: Annotated[
        UUID | None, Query(description="Only the findings about this objective.")
    ] = None,
    as_of: AsOf = None,
    position: Position = None,
) -> Json:
    """The quality coach's findings, each with its check, level (warn or block), the field to
    change, a message and a suggestion: key results with no measure, tasks instead of outcomes,
    overloaded owners, too few or too many key results, vague wording, missing baselines,
    stretch targets on committed objectives, unaligned objectives, duplicate key results."""
    _cycle(services, cycle_id)
    if objective_id is not None:
        visible_objective(services, principal, objective_id)
    at = moment(services, readmodels, as_of, position)
    findings = readmodels.strategy.lint(cycle_id, objective_id, at)
    return _answer(services, principal, readmodels, cycle_id, objective_id, findings)


@coach.post(
    "/lint/draft",
    response_model=ss.Lint,
    responses=_READ,
    summary="Lint an objective while it is being written",
)
def lint_draft(
    body: ss.LintDraft,
    services: ServicesDep,
    readmodels: ReadModelsDep,
    principal: PrincipalDep,
) -> Json:
    """What the coach would say about this draft among its cycle's objectives, before it is
    saved (the drafting page calls this as one types). Writes nothing."""
    _cycle(services, body.cycle_id)
    objective_id = body.objective_id or uuid4()
    spec = ObjectiveSpec(
        objective_id=objective_id,
        cycle_id=body.cycle_id,
        title=body.title,
        kind=body.kind.value,
        owner_team_id=body.owner_team_id,
        owner_person_id=body.owner_person_id
        if body.owner_person_id or body.owner_team_id
        else principal.person_id,
        parent_objective_id=body.parent_objective_id,
        key_results=tuple(
            KeyResultSpec(
                kr.key_result_id or uuid4(),
                kr.title,
                kr.measure.value,
                kr.baseline,
                kr.target,
                kr.unit,
                kr.direction.value,
            )
            for kr in body.key_results
        ),
    )
    findings = readmodels.strategy.lint_specs([spec], objective_id)
    return _answer(services, principal, readmodels, body.cycle_id, body.objective_id, findings)


@coach.get(
    "/quality-checks",
    response_model=ss.QualityChecks,
    responses=problems(),
    summary="The quality checks and how strict each is",
)
def quality_checks(services: ServicesDep, _: PrincipalDep) -> Json:
    """Every check with what it looks for and its level: off, warn (the default) or block
    (an objective with such a finding cannot be submitted for approval)."""
    ledger = services.ledger
    head = ledger.recorder.max_notification_id() or 0
    policy = ledger.find_quality_policy()
    if policy is None:
        answer.saw(head)  # no policy when the log ended there, so none at head either
    else:
        positions.saw_aggregate(ledger, policy.id, policy.version)
    levels = policy.as_dict() if policy is not None else ledger.quality_levels()
    return {
        "checks": [
            {"check": c.value, "description": CHECKS[c], "level": levels[c.value]} for c in Check
        ]
    }


@coach.put(
    "/quality-checks/{check}",
    response_model=s.CommandResult,
    responses=problems(403, 409),
    summary="Set how strict a quality check is (admins)",
)
def configure_check(
    check: Check,
    body: ss.QualityCheckLevel,
    uses: StrategyDep,
    response: Response,
) -> CommandResult:
    """`off`, `warn` or `block`: with `block`, submitting an objective with such a finding is a
    409 naming the check as its rule (and the field to change)."""
    return deps.answer(response, uses.configure_quality_check(check.value, body))
