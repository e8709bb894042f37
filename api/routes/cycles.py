"""Cycles and their phases: planning → active → grading → closed (admins move them)."""

from __future__ import annotations

from collections.abc import Callable

from api import present
from api import schemas as s
from api.routes import RegistryDep, problems, router
from api.routes.commands import Command, Listing, Read, creating, query, register_resource
from api.usecases.registry import RegistryUseCases as R
from domain.application import CommandResult
from domain.cycle import Phase

cycles = router("cycles")


def _to(phase: str) -> Callable[..., CommandResult]:
    return lambda uses, cycle_id, expected: uses.change_phase(cycle_id, phase, expected)


_ONE = "/cycles/{cycle_id}"

register_resource(
    cycles,
    RegistryDep,
    create=creating(
        "/cycles",
        "plan_cycle",
        "Plan a cycle (admin)",
        "A cycle (usually a quarter) starts in the planning phase.",
        R.plan_cycle,
        s.CycleCreate,
    ),
    create_problems=problems(403),
    listing=Listing(
        "/cycles",
        "list_cycles",
        "List cycles",
        "Cycles, latest start first.",
        lambda d: d.cycles,
        present.cycle_entry,
        s.CyclesPage,
        (query("phase", Phase | None, "Only cycles in this phase.", None),),
        lambda entry, phase: phase is None or entry.phase == phase.value,
        order=lambda c: c.starts_on,
    ),
    read=Read.one(
        _ONE,
        "cycle",
        "One cycle with its dates, cadence, scoring and phase; the `ETag` is its version.",
        present.cycle,
        s.CycleOut,
    ),
    changes=[
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
    ],
    change_problems=problems(403, 404, 409, 412),
)
