"""The OKR quality coach: findings for a cycle (GET /lint), for a draft being written (POST
/lint/draft), and how strict each check is (GET/PUT /quality-checks)."""

from __future__ import annotations

from uuid import UUID

from api import positions
from api import strategy_schemas as ss
from api.deps import PrincipalDep, ServicesDep
from api.routes import READ, Json, StrategyDep, StrategyReadsDep, problems, router
from api.routes.commands import (
    AT,
    Command,
    ModelRead,
    id_filter,
    query,
    register,
    register_model_read,
)
from api.usecases.strategy_reads import StrategyQueries as Q
from domain.quality import CHECKS, Check
from infra import answer

coach = router("quality coach")


register_model_read(
    coach,
    ModelRead(
        "/lint",
        "lint_cycle",
        "Lint a cycle's OKRs",
        """The quality coach's findings, each with its check, level (warn or block), the field to
        change, a message and a suggestion: key results with no measure, tasks instead of outcomes,
        overloaded owners, too few or too many key results, vague wording, missing baselines,
        stretch targets on committed objectives, unaligned objectives, duplicate key results.""",
        Q.lint_cycle,
        ss.Lint,
        (
            query("cycle_id", UUID, "The cycle to lint."),
            id_filter("objective_id", "Only the findings about this objective."),
            AT,
        ),
        versioned=False,
    ),
)


@coach.post(
    "/lint/draft",
    response_model=ss.Lint,
    responses=READ,
    summary="Lint an objective while it is being written",
)
def lint_draft(
    body: ss.LintDraft,
    reads: StrategyReadsDep,
) -> Json:
    """What the coach would say about this draft among its cycle's objectives, before it is
    saved (the drafting page calls this as one types). Writes nothing."""
    return reads.lint_draft(body)


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


register(
    coach,
    StrategyDep,
    problems(403, 409),
    Command(
        "PUT",
        "/quality-checks/{check}",
        "configure_check",
        "Set how strict a quality check is (admins)",
        """`off`, `warn` or `block`: with `block`, submitting an objective with such a finding is a
        409 naming the check as its rule (and the field to change).""",
        lambda uses, check, body: uses.configure_quality_check(check.value, body),
        ss.QualityCheckLevel,
        if_match=False,
        types=(("check", Check),),
    ),
)
