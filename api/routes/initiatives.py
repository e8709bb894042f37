"""Initiatives: the projects meant to move key results, listed under their key results."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Response

from api import schemas as s
from api import strategy_policy
from api import strategy_schemas as ss
from api.deps import (
    ContextDep,
    IfMatchDep,
    MinPositionDep,
    PrincipalDep,
    ReadModelsDep,
    Services,
    ServicesDep,
    etag,
    facts_of,
    visible_objective,
)
from api.errors import ApiError, forbidden, not_found
from api.policy import ObjectiveFacts, Principal
from api.routes import problems, router
from api.routes.strategy import (
    AsOf,
    Position,
    hidden_objectives,
    moment,
    run,
    wait_for_head,
    without_hidden,
)
from domain.application import CommandResult
from domain.errors import NotFound
from domain.initiative import InitiativeStatus, KeyResultRef
from infra.readmodels import ReadModels

initiatives = router("initiatives")

Json = dict[str, Any]
_READ = problems(404, 504)
_WRITE = problems(403, 404, 409, 412)


def _ref(
    services: Services, principal: Principal, readmodels: ReadModels, kr_id: UUID, field: str
) -> tuple[KeyResultRef, ObjectiveFacts]:
    """The key result's objective (which the caller must be able to see)."""
    objective_id = readmodels.strategy.objective_of_key_result(kr_id)
    if objective_id is None:
        wait_for_head(services, readmodels)
        objective_id = readmodels.strategy.objective_of_key_result(kr_id)
    if objective_id is None:
        raise not_found("key_result", kr_id, field)
    try:
        objective = visible_objective(services, principal, objective_id)
    except (NotFound, ApiError):
        raise not_found("key_result", kr_id, field) from None
    return KeyResultRef(objective_id, kr_id), facts_of(objective)


def _facts(services: Services, refs: list[KeyResultRef]) -> list[ObjectiveFacts]:
    out = []
    for objective_id in dict.fromkeys(r.objective_id for r in refs):
        try:
            out.append(facts_of(services.ledger.get_objective(objective_id)))
        except NotFound:
            continue
    return out


def _may_update(services: Services, principal: Principal, initiative_id: UUID) -> None:
    initiative = services.ledger.get_initiative(initiative_id)
    facts = _facts(services, initiative.key_results)
    if not services.directory.ask(
        lambda d: strategy_policy.may_update_initiative(
            d, principal, initiative.owner_person_id, facts
        )
    ):
        raise forbidden(
            "not_allowed",
            "only the initiative's owner, admins and the contributors of its objectives may "
            "change it",
        )


@initiatives.post(
    "/initiatives",
    status_code=201,
    response_model=s.CommandResult,
    responses=problems(403, 404, 409),
    summary="Launch an initiative",
)
def launch_initiative(
    body: ss.InitiativeCreate,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    readmodels: ReadModelsDep,
    response: Response,
) -> CommandResult:
    """A planned initiative moving the given key results (each found by its id); the caller
    contributes to (or manages) at least one of their objectives."""
    pairs = [
        _ref(services, principal, readmodels, k, "key_result_ids") for k in body.key_result_ids
    ]
    if not services.directory.ask(
        lambda d: strategy_policy.may_launch_initiative(d, principal, [f for _, f in pairs])
    ):
        raise forbidden(
            "not_allowed", "launch initiatives for key results of objectives you work on"
        )
    ledger = services.ledger
    return run(
        services,
        None,
        response,
        lambda: ledger.launch_initiative(
            title=body.title,
            owner_person_id=body.owner_person_id or principal.person_id,
            key_results=[r for r, _ in pairs],
            ctx=ctx,
            description=body.description,
        ),
        location=None,
    )


@initiatives.get(
    "/initiatives",
    response_model=ss.InitiativesPage,
    responses=_READ,
    summary="Initiatives, by key result, objective, cycle or status",
)
def list_initiatives(
    services: ServicesDep,
    readmodels: ReadModelsDep,
    principal: PrincipalDep,
    _: MinPositionDep,
    objective_id: Annotated[UUID | None, Query(description="Moving this objective's KRs.")] = None,
    key_result_id: Annotated[UUID | None, Query(description="Moving this key result.")] = None,
    cycle_id: Annotated[UUID | None, Query(description="Moving this cycle's KRs.")] = None,
    status: Annotated[InitiativeStatus | None, Query(description="Only these.")] = None,
    as_of: AsOf = None,
    position: Position = None,
) -> Json:
    """In launch order, with their key results (objective, title, progress) and notes."""
    at = moment(services, readmodels, as_of, position)
    items = readmodels.strategy.initiatives(
        objective_id=objective_id,
        key_result_id=key_result_id,
        cycle_id=cycle_id,
        status=status.value if status else None,
        position=at,
    )
    hidden = hidden_objectives(services, principal, readmodels)
    for item in items:
        item["key_results"] = without_hidden(item["key_results"], hidden)
    return {"items": [i for i in items if i["key_results"] or not hidden]}


@initiatives.get(
    "/initiatives/{initiative_id}",
    response_model=ss.InitiativeOut,
    responses=_READ,
    summary="One initiative",
)
def read_initiative(
    initiative_id: UUID,
    services: ServicesDep,
    readmodels: ReadModelsDep,
    principal: PrincipalDep,
    _: MinPositionDep,
    response: Response,
    as_of: AsOf = None,
    position: Position = None,
) -> Json:
    """Its status, owner, notes and the key results it moves; the `ETag` is its version."""
    at = moment(services, readmodels, as_of, position)
    found = readmodels.strategy.initiative(initiative_id, at)
    if found is None:
        raise not_found("initiative", initiative_id)
    found["key_results"] = without_hidden(
        found["key_results"], hidden_objectives(services, principal, readmodels)
    )
    response.headers["ETag"] = etag(found["version"])
    return found


@initiatives.patch(
    "/initiatives/{initiative_id}",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Move an initiative's status, add a note, retitle or hand it over",
)
def update_initiative(
    initiative_id: UUID,
    body: ss.InitiativePatch,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """planned → in_progress → done; cancelled with a reason; done or cancelled back to
    in_progress with a reason (409 `status_transition_invalid` otherwise)."""
    _may_update(services, principal, initiative_id)
    ledger = services.ledger
    return run(
        services,
        initiative_id,
        response,
        lambda: ledger.update_initiative(
            initiative_id,
            ctx,
            title=body.title,
            description=body.description,
            owner_person_id=body.owner_person_id,
            status=body.status,
            note=body.note,
            reason=body.reason,
            expected_version=expected,
        ),
    )


@initiatives.post(
    "/initiatives/{initiative_id}/key-results",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Let an initiative move another key result",
)
def link_key_result(
    initiative_id: UUID,
    body: ss.InitiativeLink,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    readmodels: ReadModelsDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The key result must be live; an initiative that is done or cancelled takes no new
    ones (409 `initiative_closed`)."""
    _may_update(services, principal, initiative_id)
    ref, _ = _ref(services, principal, readmodels, body.key_result_id, "key_result_id")
    ledger = services.ledger
    return run(
        services,
        initiative_id,
        response,
        lambda: ledger.link_initiative(initiative_id, ref, ctx, body.reason, expected),
    )


@initiatives.post(
    "/initiatives/{initiative_id}/key-results/{key_result_id}/unlink",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Stop an initiative moving a key result",
)
def unlink_key_result(
    initiative_id: UUID,
    key_result_id: UUID,
    body: s.OptionalComment,
    ctx: ContextDep,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """An initiative keeps at least one key result (409 `key_results_required`)."""
    _may_update(services, principal, initiative_id)
    initiative = services.ledger.get_initiative(initiative_id)
    ref = next((r for r in initiative.key_results if r.key_result_id == key_result_id), None)
    if ref is None:
        raise not_found("key_result", key_result_id, "key_result_id")
    ledger = services.ledger
    return run(
        services,
        initiative_id,
        response,
        lambda: ledger.unlink_initiative(initiative_id, ref, ctx, body.comment, expected),
    )
