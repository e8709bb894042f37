"""Key results and KPIs that follow a data source (docs/data-sources.md): attach one, detach
it, read it with its health, and sync it now."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api import schemas as s
from api import source_schemas as src
from api.routes import SourcesDep, problems, router
from api.routes.commands import Command, naming, register
from api.usecases.sources import SourceUseCases as Sources

sources = router("sources")
syncs = APIRouter(tags=["sources"])
""""Sync now" answers what the fetch did, not a command's result, so it is no
`IdempotentRoute`: it needs no `Idempotency-Key`, as a repeated sync writes nothing unless the
source's value changed in between (the key, if sent, is ignored)."""

_PATH = "/objectives/{objective_id}/key-results/{key_result_id}"


register(
    sources,
    SourcesDep,
    problems(403, 404, 409, 412),
    Command(
        "PUT",
        f"{_PATH}/source",
        "attach_source",
        "Let a key result follow a data source",
        """Replaces any source the key result followed. The key result's owner or an admin only.
        422 names the field and the rule: `connection_unknown`, `secret_unknown`,
        `expression_invalid`, `url_invalid`, `url_credentials`, `schedule_at_invalid`,
        `time_zone_unknown` …; `source_needs_metric` for a milestone.""",
        Sources.attach,
        src.SourceIn,
        out=naming(src.SourceAttached, "source_id", echo="key_result_id"),
    ),
    Command(
        "POST",
        f"{_PATH}/source/detach",
        "detach_source",
        "Stop following the key result's data source",
        "409 `no_source` when it follows none.",
        lambda uses, objective_id, key_result_id, body, expected: uses.detach(
            objective_id, key_result_id, body.reason, expected
        ),
        s.Reason,
        out=naming(s.KeyResultCommandResult, echo="key_result_id"),
    ),
    Command(
        "PUT",
        "/kpis/{kpi_id}/source",
        "attach_kpi_source",
        "Measure a KPI from a data source",
        """Each fetch measures the day it happens on (in the schedule's time zone); a changed value
        later that day corrects the day's measurement. The KPI's owner or an admin only; the same
        422s as a key result's source.""",
        Sources.attach_to_kpi,
        src.SourceIn,
        out=naming(src.KpiSourceAttached, "source_id"),
    ),
    Command(
        "POST",
        "/kpis/{kpi_id}/source/detach",
        "detach_kpi_source",
        "Stop measuring a KPI from its data source",
        """The KPI keeps every measurement its source recorded; 409 `no_source` when it follows
        none.""",
        lambda uses, kpi_id, body, expected: uses.detach_from_kpi(kpi_id, body.reason, expected),
        s.Reason,
    ),
)


@sources.get(
    f"{_PATH}/source",
    response_model=src.SourceOut,
    responses=problems(404),
    summary="The key result's data source and its health",
)
def read_source(objective_id: UUID, key_result_id: UUID, uses: SourcesDep) -> src.SourceOut:
    """Health `never` (not fetched yet), `ok`, `failing` (with the last error and since when)
    or `waiting` (fetched, but the key result takes no check-in now). 404 `no_source`."""
    return uses.read(objective_id, key_result_id)


@syncs.post(
    f"{_PATH}/sync",
    response_model=src.SyncOut,
    responses=problems(403, 404, 409, 502),
    summary="Sync the key result with its data source now",
)
def sync_now(objective_id: UUID, key_result_id: UUID, uses: SourcesDep) -> src.SyncOut:
    """Fetches now, whatever the schedule. A new value is a check-in by the source; an
    unchanged one writes nothing (`written: false`). 502 names the failure
    (`source_timeout`, `source_http_status`, `source_not_a_number`, `source_sql_error` …), 409
    the rule that keeps the key result from taking a check-in now (`not_approved` …)."""
    return uses.sync_now(objective_id, key_result_id)


# --------------------------------------------------------------------- KPIs


@sources.get(
    "/kpis/{kpi_id}/source",
    response_model=src.KpiSourceOut,
    responses=problems(404),
    summary="A KPI's data source and its health",
)
def read_kpi_source(kpi_id: UUID, uses: SourcesDep) -> src.KpiSourceOut:
    """Its definition (secret-free), the actor of its measurements and its health, as for a
    key result's source. 404 `no_source`."""
    return uses.read_kpi(kpi_id)


@syncs.post(
    "/kpis/{kpi_id}/sync",
    response_model=src.SyncOut,
    responses=problems(403, 404, 409, 502),
    summary="Measure a KPI from its data source now",
)
def sync_kpi_now(kpi_id: UUID, uses: SourcesDep) -> src.SyncOut:
    """As a key result's sync: 502 names a failed fetch."""
    return uses.sync_kpi_now(kpi_id)


sources.include_router(syncs)
