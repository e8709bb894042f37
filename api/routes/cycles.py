"""Cycles and their phases: planning → active → grading → closed (admins move them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Query

from api import present
from api import schemas as s
from api.deps import (
    PrincipalDep,
    ServicesDep,
    StorePositionDep,
)
from api.routes import (
    Limit,
    Offset,
    RegistryDep,
    directory_list,
    page,
    problems,
    router,
)
from api.routes.commands import Command, Read, register, register_read
from api.usecases.registry import RegistryUseCases as R
from domain.application import CommandResult
from domain.cycle import Phase

cycles = router("cycles")


register(
    cycles,
    RegistryDep,
    problems(403),
    Command(
        "POST",
        "/cycles",
        "plan_cycle",
        "Plan a cycle (admin)",
        "A cycle (usually a quarter) starts in the planning phase.",
        R.plan_cycle,
        s.CycleCreate,
        status_code=201,
        if_match=False,
        location="/api/v1/cycles/{id}",
    ),
)


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
    items = directory_list(
        services,
        lambda d: d.cycles,
        present.cycle_entry,
        lambda entry: phase is None or entry.phase == phase.value,
    )
    items.sort(key=lambda c: c.starts_on, reverse=True)
    return s.CyclesPage(**page(items, limit, offset))


register_read(
    cycles,
    Read(
        "/cycles/{cycle_id}",
        "read_cycle",
        "Read a cycle",
        "One cycle with its dates, cadence, scoring and phase; the `ETag` is its version.",
        lambda ledger, cycle_id: ledger.get_cycle(cycle_id),
        present.cycle,
        s.CycleOut,
    ),
)


def _to(phase: str) -> Callable[..., CommandResult]:
    return lambda uses, cycle_id, expected: uses.change_phase(cycle_id, phase, expected)


_ONE = "/cycles/{cycle_id}"

register(
    cycles,
    RegistryDep,
    problems(403, 404, 409, 412),
    Command(
        "POST",
        _ONE + "/start",
        "start_cycle",
        "Start tracking (admin)",
        "planning → active (409 `wrong_cycle_phase` from any other phase).",
        _to("start"),
    ),
    Command(
        "POST",
        _ONE + "/grading",
        "open_grading",
        "Open grading (admin)",
        "active → grading: owners grade their key results and reflect.",
        _to("grading"),
    ),
    Command(
        "POST",
        _ONE + "/close",
        "close_cycle",
        "Close the cycle (admin)",
        "grading → closed: a closed cycle refuses every change.",
        _to("close"),
    ),
    Command(
        "POST",
        _ONE + "/reopen",
        "reopen_cycle",
        "Reopen a closed cycle (admin)",
        "closed → grading, with a reason (itself an event).",
        lambda uses, cycle_id, body, expected: uses.change_phase(
            cycle_id, "reopen", expected, body.reason
        ),
        s.Reason,
    ),
)
