"""A key result's data source on the objective page: what it follows, its health and last
error, and "Sync now" (the same use case as `POST …/key-results/{kr}/sync`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi.responses import RedirectResponse

from api import policy, strategy_policy
from api import source_schemas as src
from api.errors import ApiError
from api.usecases.sources import SourceUseCases
from api.web.site import TEMPLATES, FormDep, FormError, Viewer, ViewerDep, act, web
from domain.source import describe


@dataclass(frozen=True)
class SourcePanel:
    description: str
    schedule: str
    health: str
    last_error: str | None
    last_attempt_at: Any
    failing_since: Any
    can_sync: bool


def _schedule(definition: dict[str, Any]) -> str:
    schedule = definition.get("schedule") or {}
    if schedule.get("every") == "day":
        return f"every day at {schedule.get('at')} ({schedule.get('time_zone', 'UTC')})"
    return "every hour"


def _panel(definition: dict[str, Any], health: src.SourceHealthOut, can_sync: bool) -> SourcePanel:
    return SourcePanel(
        description=describe(definition),
        schedule=_schedule(definition),
        health=health.health,
        last_error=health.last_error,
        last_attempt_at=health.last_attempt_at,
        failing_since=health.failing_since,
        can_sync=can_sync,
    )


def _fetching(call: Callable[[], Any]) -> Any:
    """Run a sync; a failed fetch (502) is said on the page as a form error."""
    try:
        return call()
    except ApiError as error:
        if error.status != 502:
            raise
        raise FormError(f"The data source failed: {error.message}") from None


def source_panel(viewer: Viewer, objective_id: Any, key_result_id: Any) -> SourcePanel | None:
    """The key result's source as the page shows it (None when it follows none)."""
    objective = viewer.services.ledger.get_objective(UUID(str(objective_id)))
    kr = objective.key_results.get(UUID(str(key_result_id)))
    if kr is None or kr.source_id is None or kr.source is None:
        return None
    found = SourceUseCases(viewer.caller).read(objective.id, kr.id)
    return _panel(kr.source, found.health, viewer.may(policy.may_attach_source, objective))


def kpi_source_panel(viewer: Viewer, kpi_id: Any) -> SourcePanel | None:
    """The KPI's source as its page shows it (None when it follows none)."""
    kpi = viewer.services.ledger.get_kpi(UUID(str(kpi_id)))
    if kpi.source_id is None or kpi.source is None:
        return None
    found = SourceUseCases(viewer.caller).read_kpi(kpi.id)
    can_sync = strategy_policy.may_measure_kpi(viewer.principal, kpi.owner_person_id)
    return _panel(kpi.source, found.health, can_sync)


TEMPLATES.globals.update(source_panel=source_panel, kpi_source_panel=kpi_source_panel)


@web.post("/objectives/{objective_id}/key-results/sync")
def sync_now(objective_id: UUID, viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    def sync() -> Any:
        key_result_id = form.chosen("key_result_id", "Which key result?")
        return _fetching(
            lambda: SourceUseCases(viewer.caller).sync_now(objective_id, key_result_id)
        )

    return act(
        viewer,
        f"/objectives/{objective_id}",
        sync,
        "Synced with the data source: a new value is a check-in, an unchanged one writes nothing.",
    )


@web.post("/kpis/{kpi_id}/sync")
def sync_kpi_now(kpi_id: UUID, viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    """`form`: the CSRF check, as for every form."""

    def sync() -> Any:
        return _fetching(lambda: SourceUseCases(viewer.caller).sync_kpi_now(kpi_id))

    return act(
        viewer,
        f"/kpis/{kpi_id}",
        sync,
        "Synced with the data source: a new value measures today, an unchanged one writes nothing.",
    )
