"""The strategy pages: the strategy itself, the strategy map, the KPI dashboard (and one KPI),
initiatives, and the strategy layer on the objective page (its theme, the KPI each key result
follows, the initiatives under each key result, the quality coach's warnings while drafting).

As everywhere in the UI, every read and write goes through the API's own route functions, so
authorization, visibility and validation are the API's; which forms are offered is decided
with `api.strategy_policy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api import schemas as s
from api import strategy_policy
from api import strategy_schemas as ss
from api.deps import ReadAt
from api.errors import ApiError
from api.usecases.strategy import StrategyUseCases
from api.usecases.strategy_reads import StrategyQueries
from api.web import data, strategy_charts
from api.web.pages.objective import OBJECTIVE
from api.web.site import (
    TEMPLATES,
    Form,
    FormDep,
    FormError,
    FreshViewerDep,
    PageNotFound,
    Viewer,
    ViewerDep,
    act,
    form_command,
    fragment,
    nav,
    render,
    web,
)
from domain.errors import NotFound
from domain.initiative import InitiativeStatus
from domain.objective import EDITABLE, Status
from infra.readmodels import ReadModels
from projections.strategy_dashboard import Initiatives

Json = dict[str, Any]
KPI = "/kpis/{kpi_id}"
"""A KPI's page; its forms post below it (as the objective's do below `OBJECTIVE`)."""
STATUS_LABELS = {
    "planned": "planned",
    "in_progress": "in progress",
    "done": "done",
    "cancelled": "cancelled",
}
COLOUR_LABELS = {"green": "green", "amber": "amber", "red": "red", "grey": "no signal"}
TREND_ARROWS = {"improving": "↗ improving", "worsening": "↘ worsening", "flat": "→ flat"}


def _uses(viewer: Viewer) -> StrategyUseCases:
    """The strategy's use cases as this viewer (the same door the HTTP routes use)."""
    return StrategyUseCases(viewer.caller)


def _readmodels(viewer: Viewer) -> ReadModels:
    readmodels = viewer.services.readmodels
    if readmodels is None:
        raise PageNotFound("read model on this server")
    return readmodels


def _reads(viewer: Viewer) -> StrategyQueries:
    """The strategy's reads for the viewer (a page-not-found on a server without read
    models)."""
    _readmodels(viewer)
    return StrategyQueries(viewer.caller)


def _instant(as_of: str | None) -> tuple[datetime | None, str | None]:
    try:
        return data.parse_local(as_of), None
    except FormError as error:
        return None, str(error)


def _strategy(viewer: Viewer, as_of: datetime | None = None) -> Json | None:
    try:
        found: Json = _reads(viewer).strategy(ReadAt(as_of))
    except ApiError as error:
        if error.status == 404:
            return None
        raise
    return found


def _kpis(viewer: Viewer, as_of: datetime | None = None) -> list[Json]:
    found: list[Json] = _reads(viewer).kpis(ReadAt(as_of))["items"]
    return found


def _chart(kpi: Json) -> Any:
    return strategy_charts.kpi_chart(kpi)


# ---------------------------------------------------------------- the strategy


@web.get("/strategy")
def strategy_page(
    request: Request, viewer: FreshViewerDep, as_of: str | None = None
) -> HTMLResponse:
    instant, problem = _instant(as_of)
    found = _strategy(viewer, instant)
    kpis = _kpis(viewer, instant)
    themes = {t["id"]: t for t in (found or {}).get("themes", [])}
    return render(
        request,
        "strategy.html",
        viewer,
        strategy=found,
        themes=themes,
        kpis=kpis,
        instant=instant,
        problem=problem,
        as_of=as_of or "",
        can_edit=strategy_policy.may_edit_strategy(viewer.principal) and instant is None,
        perspectives=[(p["key"], p["name"]) for p in (found or {}).get("perspectives", [])]
        or [
            ("financial", "Financial"),
            ("customer", "Customer"),
            ("internal_process", "Internal process"),
            ("learning_growth", "Learning & growth"),
        ],
        blank_rows=3,
    )


@web.post("/strategy")
def save_strategy(viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    def put() -> Any:
        names = {
            form.get(f"theme_id_{i}"): form.get(f"theme_name_{i}")
            for i in range(60)
            if form.get(f"theme_id_{i}")
        }
        themes = []
        for i in range(60):
            name = form.get(f"theme_name_{i}")
            if not name:
                continue
            drives = [d.strip() for d in form.get(f"theme_drives_{i}").split(",") if d.strip()]
            themes.append(
                {
                    "id": form.get(f"theme_id_{i}") or None,
                    "name": name,
                    "perspective": form.get(f"theme_perspective_{i}"),
                    "description": form.get(f"theme_description_{i}"),
                    "drives": [names.get(d, d) for d in drives],
                }
            )
        body = ss.StrategyPut.model_validate(
            {
                "mission": form.get("mission"),
                "vision": form.get("vision"),
                "values": [v.strip() for v in form.get("values").splitlines() if v.strip()],
                "themes": themes,
                "reason": form.get("reason"),
            }
        )
        return _uses(viewer).put_strategy(body, form.version)

    return act(viewer, "/strategy", put, "Strategy saved.")


@web.post("/strategy/north-star")
def north_star(viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    def choose() -> Any:
        body = ss.NorthStar(kpi_id=form.uuid("kpi_id"), reason=form.get("reason"))
        return _uses(viewer).choose_north_star(body)

    return act(viewer, "/strategy", choose, "North star chosen.")


# ------------------------------------------------------------------------ the map


@web.get("/strategy-map")
def strategy_map_page(
    request: Request,
    viewer: FreshViewerDep,
    cycle: str | None = None,
    as_of: str | None = None,
) -> HTMLResponse:
    chosen, all_cycles = data.pick_cycle(viewer, cycle)
    instant, problem = _instant(as_of)
    found: Json | None = None
    if chosen is not None:
        found = _reads(viewer).strategy_map(UUID(chosen.id), ReadAt(instant))
    return render(
        request,
        "strategy_map.html",
        viewer,
        cycle=chosen,
        cycles=all_cycles,
        map=found,
        svg=strategy_charts.strategy_map_svg(found) if found else None,
        instant=instant,
        problem=problem,
        as_of=as_of or "",
        colours=COLOUR_LABELS,
    )


# ------------------------------------------------------------------------- KPIs


@web.get("/kpis")
def kpis_page(request: Request, viewer: FreshViewerDep, as_of: str | None = None) -> HTMLResponse:
    instant, problem = _instant(as_of)
    found = _kpis(viewer, instant)
    strategy = _strategy(viewer)
    return render(
        request,
        "kpis.html",
        viewer,
        kpis=found,
        charts={k["kpi_id"]: _chart(k) for k in found},
        instant=instant,
        problem=problem,
        as_of=as_of or "",
        trends=TREND_ARROWS,
        colours=COLOUR_LABELS,
        can_define=strategy_policy.may_define_kpi(viewer.principal) and instant is None,
        people=data.people(viewer),
        themes=(strategy or {}).get("themes", []),
        perspectives=[(p["key"], p["name"]) for p in (strategy or {}).get("perspectives", [])],
    )


@web.post("/kpis")
def define_kpi(viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    def define() -> Any:
        body = ss.KpiCreate.model_validate(
            {
                "name": form.get("name"),
                "unit": form.get("unit"),
                "direction": form.get("direction") or "increase",
                "thresholds": {"green": form.number("green"), "amber": form.number("amber")},
                "north_star": form.checked("north_star"),
                "owner_person_id": form.uuid("owner_person_id"),
                "description": form.get("description"),
                "theme_id": form.uuid("theme_id"),
                "perspective": form.text("perspective"),
            }
        )
        return _uses(viewer).define_kpi(body)

    return act(viewer, "/kpis", define, "KPI defined.", then=lambda result: f"/kpis/{result.id}")


@web.get("/kpis/{kpi_id}")
def kpi_page(
    request: Request,
    kpi_id: UUID,
    viewer: FreshViewerDep,
    as_of: str | None = None,
) -> HTMLResponse:
    instant, problem = _instant(as_of)
    try:
        kpi: Json = _reads(viewer).kpi(kpi_id, ReadAt(instant))
    except ApiError as error:
        if error.status == 404:
            raise PageNotFound("KPI") from None
        raise
    owner = UUID(kpi["owner_person_id"])
    live = instant is None
    return render(
        request,
        "kpi.html",
        viewer,
        kpi=kpi,
        chart=_chart(kpi),
        instant=instant,
        problem=problem,
        as_of=as_of or "",
        trends=TREND_ARROWS,
        colours=COLOUR_LABELS,
        can_measure=live and strategy_policy.may_measure_kpi(viewer.principal, owner),
        can_change=live and strategy_policy.may_change_kpi(viewer.principal),
        this_month=date.today().strftime("%Y-%m"),
    )


@form_command(KPI, "/measurements", "Measurement recorded.")
def record_measurement(kpi_id: UUID, viewer: Viewer, form: Form) -> Any:
    body = ss.MeasurementCreate.model_validate(
        {"value": form.number("value"), "period": form.get("period"), "note": form.get("note")}
    )
    return _uses(viewer).record_measurement(kpi_id, body, form.version)


@form_command(KPI, "/corrections", "Correction recorded; the original stays.")
def correct_measurement(kpi_id: UUID, viewer: Viewer, form: Form) -> Any:
    measurement_id = form.chosen("measurement_id", "Choose the measurement to correct.")
    body = ss.MeasurementCorrection.model_validate(
        {"value": form.number("value"), "reason": form.get("reason")}
    )
    return _uses(viewer).correct_measurement(kpi_id, measurement_id, body, form.version)


@form_command(KPI, "/thresholds", "Thresholds changed.")
def change_thresholds(kpi_id: UUID, viewer: Viewer, form: Form) -> Any:
    body = ss.ThresholdsChange.model_validate(
        {"green": form.number("green"), "amber": form.number("amber"), "reason": form.get("reason")}
    )
    return _uses(viewer).change_thresholds(kpi_id, body, form.version)


# ------------------------------------------------------------------- initiatives


@web.get("/initiatives")
def initiatives_page(
    request: Request,
    viewer: FreshViewerDep,
    cycle: str | None = None,
    status: str | None = None,
) -> HTMLResponse:
    chosen, all_cycles = data.pick_cycle(viewer, cycle)
    wanted = InitiativeStatus(status) if status in STATUS_LABELS else None
    found: list[Json] = []
    key_results: list[tuple[str, str]] = []
    if chosen is not None:
        which = Initiatives(cycle_id=UUID(chosen.id), status=wanted)
        found = _reads(viewer).initiatives(which)["items"]
        key_results = [
            (kr["key_result_id"], f"{node['title']} · {kr['title']}")
            for node, _ in data.walk(data.tree(viewer, chosen.id))
            if node["state"] != "abandoned"
            for kr in node.get("key_results", [])
        ]
    return render(
        request,
        "initiatives.html",
        viewer,
        cycle=chosen,
        cycles=all_cycles,
        initiatives=found,
        statuses=STATUS_LABELS,
        status=wanted.value if wanted else "",
        key_results=key_results,
        people=data.people(viewer),
        can_write=viewer.principal.role.value != "auditor",
    )


@web.post("/initiatives")
def launch_initiative(viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    back = form.get("back") or "/initiatives"

    def launch() -> Any:
        body = ss.InitiativeCreate.model_validate(
            {
                "title": form.get("title"),
                "owner_person_id": form.uuid("owner_person_id"),
                "key_result_ids": form.getlist("key_result_ids"),
                "description": form.get("description"),
            }
        )
        return _uses(viewer).launch_initiative(body, _readmodels(viewer))

    return act(viewer, _local(back), launch, "Initiative launched.")


@web.post("/initiatives/{initiative_id}")
def update_initiative(initiative_id: UUID, viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    back = form.get("back") or "/initiatives"

    def update() -> Any:
        body = ss.InitiativePatch.model_validate(
            {
                "status": form.text("status"),
                "note": form.get("note"),
                "reason": form.get("note"),
            }
        )
        return _uses(viewer).update_initiative(initiative_id, body, form.version)

    return act(viewer, _local(back), update, "Initiative updated.")


def _local(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/initiatives"


# ------------------------------------------------ the objective page's strategy layer


@dataclass
class ObjectiveStrategy:
    """What the objective page shows of the strategy layer, computed once per page."""

    objective_id: str
    theme_id: str | None
    themes: list[Json] = field(default_factory=list)
    kpis: dict[str, Json] = field(default_factory=dict)
    initiatives: dict[str, list[Json]] = field(default_factory=dict)
    findings: list[Json] = field(default_factory=list)
    drafting: bool = False
    can_work: bool = False
    can_check_in: bool = False
    can_launch: bool = False

    @property
    def theme(self) -> Json | None:
        return next((t for t in self.themes if t["id"] == self.theme_id), None)

    def findings_for(self, key_result_id: object) -> list[Json]:
        return [f for f in self.findings if f.get("key_result_id") == str(key_result_id)]

    @property
    def objective_findings(self) -> list[Json]:
        return [f for f in self.findings if not f.get("key_result_id")]


def strategy_panel(viewer: Viewer, o: s.ObjectiveOut, cycle: Any) -> ObjectiveStrategy:
    cached = getattr(viewer, "_objective_strategy", None)
    if isinstance(cached, ObjectiveStrategy) and cached.objective_id == str(o.id):
        return cached
    from api import policy
    from api.deps import facts_of

    aggregate = viewer.services.ledger.get_objective(o.id)
    facts = facts_of(aggregate)
    can_work = viewer.ask(
        lambda d: strategy_policy.may_work_on_objective(d, viewer.principal, facts)
    ) and cycle.phase in ("planning", "active", "grading")
    panel = ObjectiveStrategy(
        objective_id=str(o.id),
        theme_id=str(o.theme_id) if o.theme_id else None,
        drafting=aggregate.status in EDITABLE,
        can_work=bool(can_work),
        can_check_in=bool(can_work)
        and aggregate.status == Status.APPROVED
        and cycle.phase in ("active", "grading"),
        can_launch=bool(
            viewer.ask(lambda d: policy.may_contribute(d, viewer.principal, facts))
            and aggregate.status != Status.ABANDONED
        ),
    )
    readmodels = viewer.services.readmodels
    if readmodels is not None:
        found = _strategy(viewer)
        panel.themes = (found or {}).get("themes", [])
        panel.kpis = {k["kpi_id"]: k for k in _kpis(viewer)}
        for initiative in readmodels.strategy.initiatives(Initiatives(objective_id=o.id)):
            for kr in initiative["key_results"]:
                if kr["objective_id"] == str(o.id):
                    panel.initiatives.setdefault(kr["key_result_id"], []).append(initiative)
        if aggregate.status != Status.ABANDONED:
            panel.findings = _reads(viewer).lint_cycle(aggregate.cycle_id, o.id)["findings"]
    viewer._objective_strategy = panel  # type: ignore[attr-defined]
    return panel


def strategy_comparison(viewer: Viewer, chosen: list[str]) -> Json:
    """The strategy layer per compared cycle, and one row per KPI across them."""
    readmodels = viewer.services.readmodels
    if readmodels is None or not chosen:
        return {"cycles": [], "kpi_rows": []}
    cycles = readmodels.strategy.compare([UUID(c) for c in chosen])
    names = list(dict.fromkeys(k["name"] for c in cycles for k in c["kpis"]))
    rows = [
        (name, [next((k for k in c["kpis"] if k["name"] == name), None) for c in cycles])
        for name in names
    ]
    return {"cycles": cycles, "kpi_rows": rows}


TEMPLATES.globals.update(
    strategy_comparison=strategy_comparison,
    strategy_panel=strategy_panel,
    STATUS_LABELS=STATUS_LABELS,
    kpi_colour=strategy_charts.colour,
)


@form_command(OBJECTIVE, "/theme", "Theme saved.")
def tag_theme(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    return _uses(viewer).tag_objective(
        objective_id,
        ss.ObjectiveTheme(theme_id=form.uuid("theme_id"), reason=form.get("reason")),
        form.version,
    )


@form_command(OBJECTIVE, "/key-results/kpi", "KPI link saved.")
def link_kpi(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    key_result_id = form.chosen("key_result_id", "Which key result?")
    return _uses(viewer).link_kpi(
        objective_id, key_result_id, ss.KeyResultKpi(kpi_id=form.uuid("kpi_id")), form.version
    )


@form_command(OBJECTIVE, "/key-results/kpi-check-in", "Checked in from the KPI's latest value.")
def check_in_from_kpi(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    key_result_id = form.chosen("key_result_id", "Which key result?")
    return _uses(viewer).check_in_from_kpi(
        objective_id,
        key_result_id,
        ss.KpiCheckIn(confidence=form.integer("confidence") or 0, note=form.get("note")),
        form.version,
    )


# ------------------------------------------------------------- the coach, live


@web.post("/coach/draft")
def coach_draft(viewer: ViewerDep, form: FormDep) -> HTMLResponse:
    """The coach's warnings for a draft as it is typed (the drafting forms call this)."""
    findings: list[Json] = []
    problem = None
    try:
        cycle_id = form.uuid("cycle_id")
        objective_id = form.uuid("objective_id")
        if cycle_id is None:
            raise FormError("no cycle")
        spec = _draft_body(viewer, form, cycle_id, objective_id)
        if spec is not None:
            findings = _reads(viewer).lint_draft(spec)["findings"]
            if objective_id is not None:  # the page lists the saved draft's own findings
                saved = {str(kr.key_result_id) for kr in spec.key_results if kr.key_result_id}
                findings = [
                    f for f in findings if f["key_result_id"] and f["key_result_id"] not in saved
                ]
    except (FormError, ApiError, NotFound, ValueError) as error:
        problem = str(error)
    return fragment("_coach_findings.html", viewer, findings=findings, problem=problem, live=True)


def _draft_body(
    viewer: Viewer, form: Any, cycle_id: UUID, objective_id: UUID | None
) -> ss.LintDraft | None:
    key_results: list[Json] = []
    if objective_id is not None:
        o = viewer.services.ledger.get_objective(objective_id)
        title = o.title
        kind = o.kind.value
        owner_team = str(o.owner_team_id) if o.owner_team_id else None
        owner_person = str(o.owner_person_id) if o.owner_person_id else None
        parent = str(o.parent_objective_id) if o.parent_objective_id else None
        key_results = [
            {
                "key_result_id": str(kr.id),
                "title": kr.title,
                "measure": kr.measure.value,
                "baseline": kr.baseline,
                "target": kr.target,
                "unit": kr.unit,
                "direction": kr.direction.value,
            }
            for kr in o.active_key_results
        ]
    else:
        title = form.get("title")
        kind = form.get("kind") or "committed"
        owner_kind, _, owner = form.get("owner").partition(":")
        owner_team = owner if owner_kind == "team" and owner else None
        owner_person = owner if owner_kind == "person" and owner else None
        parent = form.get("parent_objective_id") or None
    if form.get("kr_title"):
        key_results.append(form.key_result("kr_"))
    if not title and not key_results:
        return None
    return ss.LintDraft.model_validate(
        {
            "cycle_id": cycle_id,
            "objective_id": objective_id,
            "title": title,
            "kind": kind,
            "owner_team_id": owner_team,
            "owner_person_id": owner_person,
            "parent_objective_id": parent,
            "key_results": key_results,
        }
    )


nav("Strategy", "/strategy", order=12)
nav("Map", "/strategy-map", order=13)
nav("KPIs", "/kpis", order=14)
nav("Initiatives", "/initiatives", order=15)
