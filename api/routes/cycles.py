"""Cycles and their phases: planning → active → grading → closed (admins move them)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from api import positions, present
from api import schemas as s
from api.deps import (
    IfMatchDep,
    LedgerDep,
    PrincipalDep,
    ServicesDep,
    StorePositionDep,
    answer,
)
from api.routes import Limit, Offset, RegistryDep, page, problems, read_from_store, router
from domain.application import CommandResult
from domain.cycle import Phase

cycles = router("cycles")


@cycles.post(
    "/cycles",
    status_code=201,
    response_model=s.CommandResult,
    responses=problems(403),
    summary="Plan a cycle (admin)",
)
def plan_cycle(
    body: s.CycleCreate,
    uses: RegistryDep,
    response: Response,
) -> CommandResult:
    """A cycle (usually a quarter) starts in the planning phase."""
    result = uses.plan_cycle(body)
    return answer(response, result, location=f"/api/v1/cycles/{result.id}")


@cycles.get("/cycles", response_model=s.CyclesPage, responses=problems(), summary="List cycles")
def list_cycles(
    services: ServicesDep,
    _: PrincipalDep,
    __: StorePositionDep,
    phase: Annotated[Phase | None, Query(description="Only cycles in this phase.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> s.CyclesPage:
    """Cycles, latest start first."""
    with services.directory.current() as directory:
        positions.saw_directory(services.directory)
        items = [
            present.cycle_entry(cid, entry, services.directory.version(cid))
            for cid, entry in directory.cycles.items()
            if phase is None or entry.phase == phase.value
        ]
    items.sort(key=lambda c: c.starts_on, reverse=True)
    return s.CyclesPage(**page(items, limit, offset))


@cycles.get(
    "/cycles/{cycle_id}", response_model=s.Cycle, responses=problems(404), summary="Read a cycle"
)
def read_cycle(
    cycle_id: UUID, ledger: LedgerDep, _: PrincipalDep, __: StorePositionDep, response: Response
) -> s.Cycle:
    """One cycle with its dates, cadence, scoring and phase; the `ETag` is its version."""
    cycle = ledger.get_cycle(cycle_id)
    read_from_store(response, ledger, cycle)
    return present.cycle(cycle)


_PHASE_ERRORS = problems(403, 404, 409, 412)


@cycles.post(
    "/cycles/{cycle_id}/start",
    response_model=s.CommandResult,
    responses=_PHASE_ERRORS,
    summary="Start tracking (admin)",
)
def start_cycle(
    cycle_id: UUID,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """planning → active (409 `wrong_cycle_phase` from any other phase)."""
    return answer(response, uses.change_phase(cycle_id, "start", expected))


@cycles.post(
    "/cycles/{cycle_id}/grading",
    response_model=s.CommandResult,
    responses=_PHASE_ERRORS,
    summary="Open grading (admin)",
)
def open_grading(
    cycle_id: UUID,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """active → grading: owners grade their key results and reflect."""
    return answer(response, uses.change_phase(cycle_id, "grading", expected))


@cycles.post(
    "/cycles/{cycle_id}/close",
    response_model=s.CommandResult,
    responses=_PHASE_ERRORS,
    summary="Close the cycle (admin)",
)
def close_cycle(
    cycle_id: UUID,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """grading → closed: a closed cycle refuses every change."""
    return answer(response, uses.change_phase(cycle_id, "close", expected))


@cycles.post(
    "/cycles/{cycle_id}/reopen",
    response_model=s.CommandResult,
    responses=_PHASE_ERRORS,
    summary="Reopen a closed cycle (admin)",
)
def reopen_cycle(
    cycle_id: UUID,
    body: s.Reason,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """closed → grading, with a reason (itself an event)."""
    return answer(response, uses.change_phase(cycle_id, "reopen", expected, body.reason))
