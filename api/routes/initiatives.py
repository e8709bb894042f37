"""Initiatives: the projects meant to move key results, listed under their key results."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Response

from api import schemas as s
from api import strategy_schemas as ss
from api.deps import (
    IfMatchDep,
    MinPositionDep,
    PrincipalDep,
    ReadModelsDep,
    ServicesDep,
    answer,
    etag,
)
from api.errors import not_found
from api.routes import StrategyDep, problems, router
from api.routes.strategy import (
    AsOf,
    Position,
    hidden_objectives,
    moment,
    without_hidden,
)
from domain.application import CommandResult
from domain.initiative import InitiativeStatus

initiatives = router("initiatives")

Json = dict[str, Any]
_READ = problems(404, 504)
_WRITE = problems(403, 404, 409, 412)


@initiatives.post(
    "/initiatives",
    status_code=201,
    response_model=s.CommandResult,
    responses=problems(403, 404, 409),
    summary="Launch an initiative",
)
def launch_initiative(
    body: ss.InitiativeCreate,
    uses: StrategyDep,
    readmodels: ReadModelsDep,
    response: Response,
) -> CommandResult:
    """A planned initiative moving the given key results (each found by its id); the caller
    contributes to (or manages) at least one of their objectives."""
    return answer(response, uses.launch_initiative(body, readmodels))


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
    uses: StrategyDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """planned → in_progress → done; cancelled with a reason; done or cancelled back to
    in_progress with a reason (409 `status_transition_invalid` otherwise)."""
    return answer(response, uses.update_initiative(initiative_id, body, expected))


@initiatives.post(
    "/initiatives/{initiative_id}/key-results",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Let an initiative move another key result",
)
def link_key_result(
    initiative_id: UUID,
    body: ss.InitiativeLink,
    uses: StrategyDep,
    readmodels: ReadModelsDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The key result must be live; an initiative that is done or cancelled takes no new
    ones (409 `initiative_closed`)."""
    return answer(response, uses.link_initiative(initiative_id, body, readmodels, expected))


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
    uses: StrategyDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """An initiative keeps at least one key result (409 `key_results_required`)."""
    result = uses.unlink_initiative(initiative_id, key_result_id, body, expected)
    return answer(response, result)
