"""The API's routes, one module per resource; `problems()` documents their error answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from api import positions
from api.deps import (
    Instant,
    PrincipalDep,
    Services,
    context_of,
    etag,
    log_position,
)
from api.errors import PROBLEM_MEDIA_TYPE
from api.idempotency import IdempotentRoute
from api.policy import Principal
from api.schemas import ProblemOut
from api.usecases import Caller, UseCases
from api.usecases.audit import AuditUseCases
from api.usecases.objectives import ObjectiveUseCases
from api.usecases.queries import QueryUseCases
from api.usecases.registry import RegistryUseCases
from api.usecases.sources import SourceUseCases
from api.usecases.strategy import StrategyUseCases
from api.usecases.strategy_reads import StrategyQueries
from api.usecases.webhooks import WebhookUseCases
from domain.application import OkrLedger
from domain.base import OkrAggregate
from projections.directory import DirectoryState

_MEANING = {
    401: "No bearer token, or an unknown, revoked or deactivated one (`token_missing`, "
    "`token_invalid`).",
    403: "The caller's role or team membership does not allow this.",
    404: "An id that does not exist (or a private objective the caller may not see).",
    409: "A domain rule forbids this now (the rule is named), a concurrent write won "
    "(`concurrent_write`, with `current_version`), or an Idempotency-Key is in use.",
    412: "If-Match named a version that is no longer current (`version_mismatch`).",
    422: "A value breaks a rule: the field and the rule are named. Text with a control "
    "character is `control_character`; a body that is not JSON in UTF-8 is `json_invalid`, an "
    "empty one `body_required`, one that is not an object `body_not_object` (field `body`).",
    503: "The event store is busy or unreachable, or no read models run here; retry.",
    504: "The read models did not reach `min_position` in time (`projection_lagging`).",
    502: "A data source failed to answer with a number (the rule names why: "
    "`source_timeout`, `source_http_status`, `source_not_a_number`, `source_sql_error` …).",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI error responses: always 401, 422 and 503, plus `codes`."""
    return {
        code: {
            "model": ProblemOut,
            "description": _MEANING[code],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in sorted({401, 422, 503, *codes})
    }


def router(tag: str) -> APIRouter:
    return APIRouter(tags=[tag], route_class=IdempotentRoute)


Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Items to skip.")]
Position = Annotated[int | None, log_position("A log position (a notification id).")]
AsOf = Annotated[Instant | None, Query(description="RFC 3339 instant: as it stood then.")]
Json = dict[str, Any]
"""A read model's answer, checked and documented by the route's response model."""
READ = problems(404, 504)
"""The answers of a read from the read models: an unknown id, read models lagging."""
WRITE = problems(403, 404, 409, 412)
"""The answers of a command on one aggregate."""


def page(items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    """One page of `items`, with the total: the fields of every `…Page` answer."""
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "limit": limit,
        "offset": offset,
    }


E = TypeVar("E")


def directory_list(
    services: Services,
    entries: Callable[[DirectoryState], dict[UUID, E]],
    present_one: Callable[[UUID, E, int], Any],
    keep: Callable[[E], bool],
) -> list[Any]:
    """The people, teams or cycles (`entries`) of the directory that `keep` keeps, presented
    with their versions; the read's position is the directory's."""
    with services.directory.current() as directory:
        positions.saw_directory(services.directory)
        return [
            present_one(aggregate_id, entry, services.directory.version(aggregate_id))
            for aggregate_id, entry in entries(directory).items()
            if keep(entry)
        ]


def read_from_store(response: Response, ledger: OkrLedger, aggregate: OkrAggregate) -> None:
    """A read of one aggregate from the event store: its `ETag` and its `OKR-Position`."""
    positions.saw_aggregate(ledger, aggregate.id, aggregate.version)
    response.headers["ETag"] = etag(aggregate.version)


# ------------------------------------------------------------ the use cases, per request


def _caller_of(request: Request, principal: Principal) -> Caller:
    services: Services = request.app.state.services
    return Caller(services, principal, context_of(request, principal))


async def _caller(request: Request, principal: PrincipalDep) -> Caller:
    return _caller_of(request, principal)


CallerDep = Annotated[Caller, Depends(_caller)]


def _for_caller(kind: Callable[[Caller], UseCases]) -> Any:
    """A dependency making `kind`'s use cases for the request's caller."""

    async def make(request: Request, principal: PrincipalDep) -> UseCases:
        return kind(_caller_of(request, principal))

    return Depends(make)


ObjectivesDep = Annotated[ObjectiveUseCases, _for_caller(ObjectiveUseCases)]
"""The objectives' use cases for the caller (api/usecases/objectives.py)."""
RegistryDep = Annotated[RegistryUseCases, _for_caller(RegistryUseCases)]
"""The registry's use cases (admins only: a 403 before the body is looked at)."""
StrategyDep = Annotated[StrategyUseCases, _for_caller(StrategyUseCases)]
"""The strategy's use cases for the caller: the strategy, KPIs, initiatives, objectives in it."""
QueriesDep = Annotated[QueryUseCases, _for_caller(QueryUseCases)]
"""The reads of the tree and its history for the caller (api/usecases/queries.py)."""
AuditDep = Annotated[AuditUseCases, _for_caller(AuditUseCases)]
"""The audit reads (auditors and admins only: a 403 otherwise)."""
StrategyReadsDep = Annotated[StrategyQueries, _for_caller(StrategyQueries)]
"""The strategy's reads for the caller: the strategy and its map, KPIs, initiatives, lint."""
SourcesDep = Annotated[SourceUseCases, _for_caller(SourceUseCases)]
"""Key results' data sources for the caller (api/usecases/sources.py)."""
WebhooksDep = Annotated[WebhookUseCases, _for_caller(WebhookUseCases)]
"""The webhook endpoints' use cases (admins only: a 403 otherwise)."""
