"""KPIs: defined by admins and managers, measured by their owners, read as a dashboard (current
value, status colour, trend, history) now or as of an instant."""

from __future__ import annotations

from api import schemas as s
from api import strategy_schemas as ss
from api.routes import WRITE, StrategyDep, problems, router
from api.routes.commands import (
    AT,
    Command,
    ModelRead,
    naming,
    query,
    register,
    register_model_read,
)
from api.usecases.strategy import StrategyUseCases as S
from api.usecases.strategy_reads import StrategyQueries as Q

kpis = router("kpis")


register(
    kpis,
    StrategyDep,
    problems(403, 404, 409),
    Command(
        "POST",
        "/kpis",
        "define_kpi",
        "Define a KPI (admins, managers)",
        """A KPI with a unit, a direction (which way is good), an owner (default: the caller) and
        green / amber thresholds. `north_star: true` makes it the strategy's north star in the same
        write (taking over from the previous one).""",
        S.define_kpi,
        ss.KpiCreate,
        status_code=201,
        if_match=False,
        location="/api/v1/kpis/{id}",
    ),
)


register_model_read(
    kpis,
    ModelRead(
        "/kpis",
        "list_kpis",
        "The KPI dashboard",
        """Every KPI, the north star first: current value, status colour, trend and history (the
        trend chart), with the key results that follow it.""",
        Q.kpis,
        ss.KpisPage,
        (
            AT,
            query("include_retired", bool, "Retired KPIs too.", False),
        ),
        versioned=False,
    ),
)
register_model_read(
    kpis,
    ModelRead(
        "/kpis/{kpi_id}",
        "read_kpi",
        "One KPI (now or as of an instant)",
        """Its definition, thresholds (and their changes), the live measurements per period, the
        corrections (superseded measurements stay), status, trend. The `ETag` is its version.""",
        Q.kpi,
        ss.KpiOut,
    ),
)


_ONE = "/kpis/{kpi_id}"
_MEASURED = naming(ss.MeasurementCommandResult, "measurement_id")

register(
    kpis,
    StrategyDep,
    WRITE,
    Command(
        "PATCH",
        _ONE,
        "update_kpi",
        "Rename, hand over or retag a KPI (admins, managers)",
        "One atomic change; retag by sending `perspective` and/or `theme_id` (null clears).",
        S.update_kpi,
        ss.KpiPatch,
    ),
    Command(
        "POST",
        _ONE + "/thresholds",
        "change_thresholds",
        "Move a KPI's thresholds (admins, managers; with a reason)",
        "New thresholds recolour every value, past ones included, so the reason is required.",
        S.change_thresholds,
        ss.ThresholdsChange,
    ),
    Command(
        "POST",
        _ONE + "/retire",
        "retire_kpi",
        "Retire a KPI (admins, managers; with a reason)",
        """It keeps its history but takes no more measurements; a retired north star leaves the
        strategy without one.""",
        S.retire_kpi,
        s.Reason,
    ),
    Command(
        "POST",
        _ONE + "/measurements",
        "record_measurement",
        "Record a measurement (the KPI's owner)",
        """One live measurement per period (409 `period_already_measured`: correct it instead); a
        period that has not started is a 422 `period_in_future`.""",
        S.record_measurement,
        ss.MeasurementCreate,
        status_code=201,
        out=_MEASURED,
    ),
    Command(
        "POST",
        _ONE + "/measurements/{measurement_id}/corrections",
        "correct_measurement",
        "Correct a measurement (the KPI's owner; with a reason)",
        """A new measurement for the same period supersedes the wrong one, which stays in the
        history (409 `measurement_superseded` when correcting a corrected one).""",
        S.correct_measurement,
        ss.MeasurementCorrection,
        status_code=201,
        out=_MEASURED,
    ),
)
