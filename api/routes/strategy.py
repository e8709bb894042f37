"""The strategy: mission, vision, values, perspectives and themes (GET/PUT /strategy), the north
star, the strategy map (now or as of an instant), and where objectives sit in it (their theme,
their key results' KPIs, check-ins taken from a KPI).

Reads come from the strategy read models (`ReadModels.strategy`); private objectives the caller
may not see are left out of every answer, as elsewhere.
"""

from __future__ import annotations

from uuid import UUID

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

strategy = router("strategy")


# ----------------------------------------------------------------- strategy


register_model_read(
    strategy,
    ModelRead(
        "/strategy",
        "read_strategy",
        "The strategy (now or as of an instant)",
        """Mission, vision, values, the perspectives (top row first) with their themes, the themes'
        "drives" links, the north-star KPI and the quality checks' levels. The `ETag` is the
        strategy's version (404 `strategy_not_found` before it is defined).""",
        Q.strategy,
        ss.StrategyOut,
    ),
)


register(
    strategy,
    StrategyDep,
    problems(403, 409, 412),
    Command(
        "PUT",
        "/strategy",
        "put_strategy",
        "Define or revise the strategy (admins, managers)",
        """Makes the strategy say exactly this: each difference is its own event (mission
        restated, theme added, revised, retired, drives changed ...). The first definition needs no
        reason; every later change does (422 `text_required`, field `reason`).""",
        S.put_strategy,
        ss.StrategyPut,
    ),
)
register(
    strategy,
    StrategyDep,
    WRITE,
    Command(
        "POST",
        "/strategy/north-star",
        "choose_north_star",
        "Choose the north-star KPI (admins, managers)",
        """One KPI is the north star at a time; choosing another moves it. `kpi_id: null`
        withdraws it.""",
        S.choose_north_star,
        ss.NorthStar,
        if_match=False,
    ),
)


register_model_read(
    strategy,
    ModelRead(
        "/strategy/map",
        "strategy_map",
        "The strategy map of a cycle (now or as of an instant)",
        """Perspectives as rows (top first); in each, its themes (coloured by their objectives and
        KPIs), the cycle's objectives placed by theme (or their own perspective) and the KPIs.
        Links: `aligns_to` (objective → nearest placed objective above it), `drives` (theme →
        theme) and `measured_by` (objective → KPI). Colours: green, amber, red, grey.""",
        Q.strategy_map,
        ss.StrategyMapOut,
        (
            query("cycle_id", UUID, "The cycle whose objectives are placed."),
            AT,
        ),
        versioned=False,
    ),
)


# ------------------------------------------------------- objectives in it


register(
    strategy,
    StrategyDep,
    WRITE,
    Command(
        "PUT",
        "/objectives/{objective_id}/theme",
        "tag_objective",
        "Tag an objective with a strategic theme",
        """Places the objective in the theme (and so in its perspective on the strategy map).
        Allowed in any phase but closed, approval or not: the theme is not negotiated content.""",
        S.tag_objective,
        ss.ObjectiveTheme,
    ),
    Command(
        "PUT",
        "/objectives/{objective_id}/key-results/{key_result_id}/kpi",
        "link_kpi",
        "Link a key result to a KPI",
        """A metric key result in the KPI's unit can then take its check-ins from the KPI's latest
        measurement (422 `kpi_link_needs_metric`, `kpi_unit_mismatch`).""",
        S.link_kpi,
        ss.KeyResultKpi,
        out=naming(s.KeyResultCommandResult, echo="key_result_id"),
    ),
    Command(
        "POST",
        "/objectives/{objective_id}/key-results/{key_result_id}/check-ins/from-kpi",
        "check_in_from_kpi",
        "Check in with the linked KPI's latest measurement",
        """The value is the KPI's latest live measurement, effective at the end of its period (or
        today, or the cycle's end). 409 `key_result_not_linked`, `kpi_not_measured`,
        `kpi_measurement_before_cycle`.""",
        S.check_in_from_kpi,
        ss.KpiCheckIn,
        status_code=201,
        out=naming(s.CheckInCommandResult, "check_in_id"),
    ),
)
