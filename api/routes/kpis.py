"""KPIs: defined by admins and managers, measured by their owners, read as a dashboard (current
value, status colour, trend, history) now or as of an instant."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Response

from api import positions
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

kpis = router("kpis")

Json = dict[str, Any]
_READ = problems(404, 504)
_WRITE = problems(403, 404, 409, 412)


def _measured_result(result: CommandResult) -> ss.MeasurementCommandResult:
    assert result.extra_id is not None
    return ss.MeasurementCommandResult(
        id=result.id,
        version=result.version,
        position=result.position,
        measurement_id=result.extra_id,
    )


@kpis.post(
    "/kpis",
    status_code=201,
    response_model=s.CommandResult,
    responses=problems(403, 404, 409),
    summary="Define a KPI (admins, managers)",
)
def define_kpi(
    body: ss.KpiCreate,
    uses: StrategyDep,
    response: Response,
) -> CommandResult:
    """A KPI with a unit, a direction (which way is good), an owner (default: the caller) and
    green / amber thresholds. `north_star: true` makes it the strategy's north star in the same
    write (taking over from the previous one)."""
    result = answer(response, uses.define_kpi(body))
    response.headers["Location"] = f"/api/v1/kpis/{result.id}"
    return result


@kpis.get("/kpis", response_model=ss.KpisPage, responses=_READ, summary="The KPI dashboard")
def list_kpis(
    services: ServicesDep,
    readmodels: ReadModelsDep,
    principal: PrincipalDep,
    _: MinPositionDep,
    as_of: AsOf = None,
    position: Position = None,
    include_retired: Annotated[bool, Query(description="Retired KPIs too.")] = False,
) -> Json:
    """Every KPI, the north star first: current value, status colour, trend and history (the
    trend chart), with the key results that follow it."""
    at = moment(services, readmodels, as_of, position)
    items = readmodels.strategy.kpis(at, include_retired)
    hidden = hidden_objectives(services, principal, readmodels)
    for item in items:
        item["key_results"] = without_hidden(item["key_results"], hidden)
    return {"items": items, "position": at if at is not None else positions.reflected()}


@kpis.get(
    "/kpis/{kpi_id}",
    response_model=ss.KpiOut,
    responses=_READ,
    summary="One KPI (now or as of an instant)",
)
def read_kpi(
    kpi_id: UUID,
    services: ServicesDep,
    readmodels: ReadModelsDep,
    principal: PrincipalDep,
    _: MinPositionDep,
    response: Response,
    as_of: AsOf = None,
    position: Position = None,
) -> Json:
    """Its definition, thresholds (and their changes), the live measurements per period, the
    corrections (superseded measurements stay), status, trend. The `ETag` is its version."""
    at = moment(services, readmodels, as_of, position)
    found = readmodels.strategy.kpi(kpi_id, at)
    if found is None:
        raise not_found("kpi", kpi_id)
    found["key_results"] = without_hidden(
        found["key_results"], hidden_objectives(services, principal, readmodels)
    )
    response.headers["ETag"] = etag(found["version"])
    return found


@kpis.patch(
    "/kpis/{kpi_id}",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Rename, hand over or retag a KPI (admins, managers)",
)
def update_kpi(
    kpi_id: UUID,
    body: ss.KpiPatch,
    uses: StrategyDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """One atomic change; retag by sending `perspective` and/or `theme_id` (null clears)."""
    return answer(response, uses.update_kpi(kpi_id, body, expected))


@kpis.post(
    "/kpis/{kpi_id}/thresholds",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Move a KPI's thresholds (admins, managers; with a reason)",
)
def change_thresholds(
    kpi_id: UUID,
    body: ss.ThresholdsChange,
    uses: StrategyDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """New thresholds recolour every value, past ones included, so the reason is required."""
    return answer(response, uses.change_thresholds(kpi_id, body, expected))


@kpis.post(
    "/kpis/{kpi_id}/retire",
    response_model=s.CommandResult,
    responses=_WRITE,
    summary="Retire a KPI (admins, managers; with a reason)",
)
def retire_kpi(
    kpi_id: UUID,
    body: s.Reason,
    uses: StrategyDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """It keeps its history but takes no more measurements; a retired north star leaves the
    strategy without one."""
    return answer(response, uses.retire_kpi(kpi_id, body, expected))


@kpis.post(
    "/kpis/{kpi_id}/measurements",
    status_code=201,
    response_model=ss.MeasurementCommandResult,
    responses=_WRITE,
    summary="Record a measurement (the KPI's owner)",
)
def record_measurement(
    kpi_id: UUID,
    body: ss.MeasurementCreate,
    uses: StrategyDep,
    expected: IfMatchDep,
    response: Response,
) -> ss.MeasurementCommandResult:
    """One live measurement per period (409 `period_already_measured`: correct it instead); a
    period that has not started is a 422 `period_in_future`."""
    return _measured_result(answer(response, uses.record_measurement(kpi_id, body, expected)))


@kpis.post(
    "/kpis/{kpi_id}/measurements/{measurement_id}/corrections",
    status_code=201,
    response_model=ss.MeasurementCommandResult,
    responses=_WRITE,
    summary="Correct a measurement (the KPI's owner; with a reason)",
)
def correct_measurement(
    kpi_id: UUID,
    measurement_id: UUID,
    body: ss.MeasurementCorrection,
    uses: StrategyDep,
    expected: IfMatchDep,
    response: Response,
) -> ss.MeasurementCommandResult:
    """A new measurement for the same period supersedes the wrong one, which stays in the
    history (409 `measurement_superseded` when correcting a corrected one)."""
    result = uses.correct_measurement(kpi_id, measurement_id, body, expected)
    return _measured_result(answer(response, result))
