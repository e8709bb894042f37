"""Cycles and their phases: planning → active → grading → closed (admins move them)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from api import positions, present
from api import schemas as s
from api.deps import (
    AdminDep,
    ContextDep,
    IfMatchDep,
    LedgerDep,
    PrincipalDep,
    ServicesDep,
    StorePositionDep,
    answer,
    check_version,
    etag,
    execute,
)
from api.routes import problems, router
from domain.application import CommandResult
from domain.cycle import Phase

cycles = router("cycles")

Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Items to skip.")]


@cycles.post(
    "/cycles",
    status_code=201,
    response_model=s.CommandResult,
    responses=problems(403),
    summary="Plan a cycle (admin)",
)
def plan_cycle(
    body: s.CycleCreate, ctx: ContextDep, _: AdminDep, ledger: LedgerDep, response: Response
) -> CommandResult:
    """A cycle (usually a quarter) starts in the planning phase."""
    result = execute(
        ledger,
        None,
        lambda: ledger.plan_cycle(
            body.name,
            body.starts_on,
            body.ends_on,
            ctx,
            cadence=body.cadence,
            scoring=body.scoring,
            success_threshold=body.success_threshold,
        ),
    )
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
    return s.CyclesPage(
        items=items[offset : offset + limit], total=len(items), limit=limit, offset=offset
    )


@cycles.get(
    "/cycles/{cycle_id}", response_model=s.Cycle, responses=problems(404), summary="Read a cycle"
)
def read_cycle(
    cycle_id: UUID, ledger: LedgerDep, _: PrincipalDep, __: StorePositionDep, response: Response
) -> s.Cycle:
    """One cycle with its dates, cadence, scoring and phase; the `ETag` is its version."""
    cycle = ledger.get_cycle(cycle_id)
    positions.saw_aggregate(ledger, cycle.id, cycle.version)
    response.headers["ETag"] = etag(cycle.version)
    return present.cycle(cycle)


def _phase_change(
    cycle_id: UUID,
    ctx: ContextDep,
    ledger: LedgerDep,
    expected: int | None,
    response: Response,
    change: str,
    reason: str = "",
) -> CommandResult:
    check_version(ledger.get_cycle(cycle_id).version, expected)
    commands = {
        "start": lambda: ledger.start_cycle(cycle_id, ctx),
        "grading": lambda: ledger.open_grading(cycle_id, ctx),
        "close": lambda: ledger.close_cycle(cycle_id, ctx),
        "reopen": lambda: ledger.reopen_cycle(cycle_id, reason, ctx),
    }
    return answer(response, execute(ledger, cycle_id, commands[change]))


_PHASE_ERRORS = problems(403, 404, 409, 412)


@cycles.post(
    "/cycles/{cycle_id}/start",
    response_model=s.CommandResult,
    responses=_PHASE_ERRORS,
    summary="Start tracking (admin)",
)
def start_cycle(
    cycle_id: UUID,
    ctx: ContextDep,
    _: AdminDep,
    ledger: LedgerDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """planning → active (409 `wrong_cycle_phase` from any other phase)."""
    return _phase_change(cycle_id, ctx, ledger, expected, response, "start")


@cycles.post(
    "/cycles/{cycle_id}/grading",
    response_model=s.CommandResult,
    responses=_PHASE_ERRORS,
    summary="Open grading (admin)",
)
def open_grading(
    cycle_id: UUID,
    ctx: ContextDep,
    _: AdminDep,
    ledger: LedgerDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """active → grading: owners grade their key results and reflect."""
    """active → grading."""
    return _phase_change(cycle_id, ctx, ledger, expected, response, "grading")


@cycles.post(
    "/cycles/{cycle_id}/close",
    response_model=s.CommandResult,
    responses=_PHASE_ERRORS,
    summary="Close the cycle (admin)",
)
def close_cycle(
    cycle_id: UUID,
    ctx: ContextDep,
    _: AdminDep,
    ledger: LedgerDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """grading → closed: a closed cycle refuses every change."""
    return _phase_change(cycle_id, ctx, ledger, expected, response, "close")


@cycles.post(
    "/cycles/{cycle_id}/reopen",
    response_model=s.CommandResult,
    responses=_PHASE_ERRORS,
    summary="Reopen a closed cycle (admin)",
)
def reopen_cycle(
    cycle_id: UUID,
    body: s.Reason,
    ctx: ContextDep,
    _: AdminDep,
    ledger: LedgerDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """closed → grading, with a reason (itself an event)."""
    return _phase_change(cycle_id, ctx, ledger, expected, response, "reopen", body.reason)
