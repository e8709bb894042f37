"""Initiatives: the projects meant to move key results, listed under their key results."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Response

from api import schemas as s
from api import strategy_schemas as ss
from api.deps import (
    MinPositionDep,
    ReadModelsDep,
    etag,
)
from api.routes import StrategyDep, StrategyReadsDep, problems, router
from api.routes.commands import Command, Param, register
from api.routes.strategy import (
    AsOf,
    Position,
)
from api.usecases.strategy import StrategyUseCases as S
from domain.initiative import InitiativeStatus

initiatives = router("initiatives")

Json = dict[str, Any]
_READ = problems(404, 504)
_WRITE = problems(403, 404, 409, 412)


_READMODELS = Param("readmodels", ReadModelsDep)

register(
    initiatives,
    StrategyDep,
    problems(403, 404, 409),
    Command(
        "POST",
        "/initiatives",
        "launch_initiative",
        "Launch an initiative",
        """A planned initiative moving the given key results (each found by its id); the caller
        contributes to (or manages) at least one of their objectives.""",
        S.launch_initiative,
        ss.InitiativeCreate,
        status_code=201,
        if_match=False,
        extras=(_READMODELS,),
    ),
)


@initiatives.get(
    "/initiatives",
    response_model=ss.InitiativesPage,
    responses=_READ,
    summary="Initiatives, by key result, objective, cycle or status",
)
def list_initiatives(
    reads: StrategyReadsDep,
    _: MinPositionDep,
    objective_id: Annotated[UUID | None, Query(description="Moving this objective's KRs.")] = None,
    key_result_id: Annotated[UUID | None, Query(description="Moving this key result.")] = None,
    cycle_id: Annotated[UUID | None, Query(description="Moving this cycle's KRs.")] = None,
    status: Annotated[InitiativeStatus | None, Query(description="Only these.")] = None,
    as_of: AsOf = None,
    position: Position = None,
) -> Json:
    """In launch order, with their key results (objective, title, progress) and notes."""
    return reads.initiatives(objective_id, key_result_id, cycle_id, status, as_of, position)


@initiatives.get(
    "/initiatives/{initiative_id}",
    response_model=ss.InitiativeOut,
    responses=_READ,
    summary="One initiative",
)
def read_initiative(
    initiative_id: UUID,
    reads: StrategyReadsDep,
    _: MinPositionDep,
    response: Response,
    as_of: AsOf = None,
    position: Position = None,
) -> Json:
    """Its status, owner, notes and the key results it moves; the `ETag` is its version."""
    found = reads.initiative(initiative_id, as_of, position)
    response.headers["ETag"] = etag(found["version"])
    return found


_ONE = "/initiatives/{initiative_id}"

register(
    initiatives,
    StrategyDep,
    _WRITE,
    Command(
        "PATCH",
        _ONE,
        "update_initiative",
        "Move an initiative's status, add a note, retitle or hand it over",
        """planned → in_progress → done; cancelled with a reason; done or cancelled back to
        in_progress with a reason (409 `status_transition_invalid` otherwise).""",
        S.update_initiative,
        ss.InitiativePatch,
    ),
    Command(
        "POST",
        _ONE + "/key-results",
        "link_key_result",
        "Let an initiative move another key result",
        """The key result must be live; an initiative that is done or cancelled takes no new
        ones (409 `initiative_closed`).""",
        S.link_initiative,
        ss.InitiativeLink,
        extras=(_READMODELS,),
    ),
    Command(
        "POST",
        _ONE + "/key-results/{key_result_id}/unlink",
        "unlink_key_result",
        "Stop an initiative moving a key result",
        "An initiative keeps at least one key result (409 `key_results_required`).",
        S.unlink_initiative,
        s.OptionalComment,
    ),
)
