"""The strategy: mission, vision, values, perspectives and themes (GET/PUT /strategy), the north
star, the strategy map (now or as of an instant), and where objectives sit in it (their theme,
their key results' KPIs, check-ins taken from a KPI).

Reads come from the strategy read models (`ReadModels.strategy`); private objectives the caller
may not see are left out of every answer, as elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Response

from api import policy, positions, visibility
from api import schemas as s
from api import strategy_schemas as ss
from api.deps import (
    IfMatchDep,
    Instant,
    MinPositionDep,
    PrincipalDep,
    ReadModelsDep,
    Services,
    ServicesDep,
    answer,
    etag,
)
from api.errors import invalid, not_found
from api.policy import Principal
from api.routes import StrategyDep, problems, router
from domain.application import CommandResult
from infra.readmodels import ReadModels

strategy = router("strategy")

Json = dict[str, Any]
Position = Annotated[
    int | None, Query(ge=0, le=2**62, description="A log position (a notification id).")
]
AsOf = Annotated[Instant | None, Query(description="RFC 3339 instant: as it stood then.")]
_READ = problems(404, 504)
_WRITE = problems(403, 404, 409, 412)


# ------------------------------------------------------------------ helpers


def moment(
    services: Services,
    readmodels: ReadModels,
    as_of: datetime | None,
    position: int | None,
) -> int | None:
    """The log position to answer at: live (None), `position`, or the one at `as_of`."""
    if as_of is not None and position is not None:
        raise invalid("as_of_or_position", "give as_of or position, not both", "position")
    if as_of is not None:
        return readmodels.position_at(as_of) or 0
    if position is None:
        return None
    head = services.ledger.recorder.max_notification_id() or 0
    if position > head:
        raise invalid("position_beyond_log", f"the log ends at position {head}", "position")
    return position


def hidden_objectives(services: Services, principal: Principal, readmodels: ReadModels) -> set[str]:
    """Ids (as strings) of the private objectives the caller may not see."""
    if policy.reads_everything(principal):
        return set()
    found = readmodels.strategy.private_objectives()
    with services.directory.current() as directory:
        return visibility.hidden_ids(found, visibility.viewer(directory, principal))


def without_hidden(
    items: Iterable[Json], hidden: set[str], key: str = "objective_id"
) -> list[Json]:
    return [i for i in items if str(i.get(key)) not in hidden]


# ----------------------------------------------------------------- strategy


@strategy.get(
    "/strategy",
    response_model=ss.StrategyOut,
    responses=_READ,
    summary="The strategy (now or as of an instant)",
)
def read_strategy(
    services: ServicesDep,
    readmodels: ReadModelsDep,
    _: PrincipalDep,
    __: MinPositionDep,
    response: Response,
    as_of: AsOf = None,
    position: Position = None,
) -> Json:
    """Mission, vision, values, the perspectives (top row first) with their themes, the themes'
    "drives" links, the north-star KPI and the quality checks' levels. The `ETag` is the
    strategy's version (404 `strategy_not_found` before it is defined)."""
    at = moment(services, readmodels, as_of, position)
    found = readmodels.strategy.strategy(at)
    if found is None:
        raise not_found("strategy", "of this organisation")
    response.headers["ETag"] = etag(found["version"])
    return found


@strategy.put(
    "/strategy",
    response_model=s.CommandResult,
    responses=problems(403, 409, 412),
    summary="Define or revise the strategy (admins, managers)",
)
def put_strategy(
    body: ss.StrategyPut,
    uses: StrategyDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Makes the strategy say exactly this: each difference is its own event (mission
    restated, theme added, revised, retired, drives changed ...). The first definition needs no
    reason; every later change does (422 `text_required`, field `reason`)."""
    return answer(response, uses.put_strategy(body, expected))


@strategy.post(
    "/strategy/north-star",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Choose the north-star KPI (admins, managers)",
)
def choose_north_star(
    body: ss.NorthStar,
    uses: StrategyDep,
    response: Response,
) -> CommandResult:
    """One KPI is the north star at a time; choosing another moves it. `kpi_id: null`
    withdraws it."""
    return answer(response, uses.choose_north_star(body))


@strategy.get(
    "/strategy/map",
    response_model=ss.StrategyMapOut,
    responses=_READ,
    summary="The strategy map of a cycle (now or as of an instant)",
)
def strategy_map(
    services: ServicesDep,
    readmodels: ReadModelsDep,
    principal: PrincipalDep,
    _: MinPositionDep,
    cycle_id: Annotated[UUID, Query(description="The cycle whose objectives are placed.")],
    as_of: AsOf = None,
    position: Position = None,
) -> Json:
    """Perspectives as rows (top first); in each, its themes (coloured by their objectives and
    KPIs), the cycle's objectives placed by theme (or their own perspective) and the KPIs.
    Links: `aligns_to` (objective → nearest placed objective above it), `drives` (theme →
    theme) and `measured_by` (objective → KPI). Colours: green, amber, red, grey."""
    with services.directory.current() as directory:
        known = cycle_id in directory.cycles
    if not known:
        raise not_found("cycle", cycle_id, "cycle_id")
    at = moment(services, readmodels, as_of, position)
    data = readmodels.strategy.strategy_map(cycle_id, at)
    hidden = hidden_objectives(services, principal, readmodels)
    if hidden:
        for row in data["rows"]:
            row["objectives"] = without_hidden(row["objectives"], hidden)
            for theme in row["themes"]:
                theme["objective_ids"] = [o for o in theme["objective_ids"] if o not in hidden]
        data["unplaced"] = without_hidden(data["unplaced"], hidden)
        data["links"] = [
            link
            for link in data["links"]
            if link["source"] not in hidden and link["target"] not in hidden
        ]
    data["as_of"] = as_of.isoformat() if as_of else None
    if data.get("position") is None:
        data["position"] = positions.reflected()
    return data


# ------------------------------------------------------- objectives in it


@strategy.put(
    "/objectives/{objective_id}/theme",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Tag an objective with a strategic theme",
)
def tag_objective(
    objective_id: UUID,
    body: ss.ObjectiveTheme,
    uses: StrategyDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Places the objective in the theme (and so in its perspective on the strategy map).
    Allowed in any phase but closed, approval or not: the theme is not negotiated content."""
    return answer(response, uses.tag_objective(objective_id, body, expected))


@strategy.put(
    "/objectives/{objective_id}/key-results/{key_result_id}/kpi",
    response_model=s.KeyResultCommandResult,
    responses=_WRITE,
    summary="Link a key result to a KPI",
)
def link_kpi(
    objective_id: UUID,
    key_result_id: UUID,
    body: ss.KeyResultKpi,
    uses: StrategyDep,
    expected: IfMatchDep,
    response: Response,
) -> s.KeyResultCommandResult:
    """A metric key result in the KPI's unit can then take its check-ins from the KPI's latest
    measurement (422 `kpi_link_needs_metric`, `kpi_unit_mismatch`)."""
    result = answer(response, uses.link_kpi(objective_id, key_result_id, body, expected))
    return s.KeyResultCommandResult(
        id=result.id, version=result.version, position=result.position, key_result_id=key_result_id
    )


@strategy.post(
    "/objectives/{objective_id}/key-results/{key_result_id}/check-ins/from-kpi",
    status_code=201,
    response_model=s.CheckInCommandResult,
    responses=_WRITE,
    summary="Check in with the linked KPI's latest measurement",
)
def check_in_from_kpi(
    objective_id: UUID,
    key_result_id: UUID,
    body: ss.KpiCheckIn,
    uses: StrategyDep,
    expected: IfMatchDep,
    response: Response,
) -> s.CheckInCommandResult:
    """The value is the KPI's latest live measurement, effective at the end of its period (or
    today, or the cycle's end). 409 `key_result_not_linked`, `kpi_not_measured`,
    `kpi_measurement_before_cycle`."""
    result = uses.check_in_from_kpi(objective_id, key_result_id, body, expected)
    answer(response, result)
    assert result.extra_id is not None
    return s.CheckInCommandResult(
        id=result.id, version=result.version, position=result.position, check_in_id=result.extra_id
    )
