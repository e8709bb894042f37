"""Request and response bodies of the strategy layer's routes (strategy, KPIs, initiatives,
the quality coach), in the style of `api.schemas`: request bodies refuse unknown fields and
non-finite numbers, and carry an example; domain rules answer as problem documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from api.schemas import (
    EXAMPLE_ID,
    EXAMPLE_ID_2,
    Body,
    CommandResultOut,
    Line,
    Out,
    ReadOut,
    Text,
    examples,
)
from domain.initiative import InitiativeStatus
from domain.kpi import KpiDirection
from domain.objective import Kind
from domain.quality import Level
from domain.scoring import Direction, Measure

# ------------------------------------------------------------------ strategy


class PerspectiveIn(Body):
    key: Line = Field(min_length=1, max_length=40, examples=["financial"])
    name: Line = Field(min_length=1, max_length=100, examples=["Financial"])

    model_config = examples({"key": "sustainability", "name": "Sustainability"})


class ThemeIn(Body):
    id: UUID | None = Field(default=None, description="A theme of the strategy; none: a new one.")
    name: Line = Field(min_length=1, max_length=200, examples=["Customers who stay"])
    perspective: Line = Field(min_length=1, max_length=40, examples=["customer"])
    description: Text = Field(default="", max_length=2000)
    drives: list[Line] = Field(
        default_factory=list,
        max_length=50,
        description="Themes this one drives (cause → effect), by id or by name.",
    )

    model_config = examples(
        {"name": "Customers who stay", "perspective": "customer", "drives": ["Profitable growth"]}
    )


class StrategyPut(Body):
    """The whole strategy: what it says after this request. Themes without an id are new;
    live themes left out are retired. Every change to a defined strategy needs a `reason`."""

    mission: Text = Field(default="", max_length=2000)
    vision: Text = Field(default="", max_length=2000)
    values: list[Line] = Field(default_factory=list, max_length=20)
    themes: list[ThemeIn] = Field(default_factory=list, max_length=50)
    perspectives: list[PerspectiveIn] | None = Field(
        default=None,
        max_length=12,
        description="The perspectives, top row first (default: the four Balanced Scorecard "
        "ones, or those the strategy has).",
    )
    reason: Text = Field(default="", max_length=2000)

    model_config = examples(
        {
            "mission": "Make goals honest",
            "vision": "Every team knows why its work matters",
            "values": ["Candour", "Craft"],
            "themes": [
                {"name": "Profitable growth", "perspective": "financial"},
                {
                    "name": "Customers who stay",
                    "perspective": "customer",
                    "drives": ["Profitable growth"],
                },
            ],
            "reason": "annual strategy review",
        }
    )


class NorthStar(Body):
    kpi_id: UUID | None = Field(description="The KPI; null withdraws the north star.")
    reason: Text = Field(default="", max_length=2000)

    model_config = examples({"kpi_id": EXAMPLE_ID, "reason": "what our customers pay for"})


class StrategyOut(ReadOut):
    version: int
    mission: str
    vision: str
    values: list[str]
    perspectives: list[dict[str, Any]] = Field(description="key, name, theme_ids; top first.")
    themes: list[dict[str, Any]] = Field(description="id, name, description, perspective, drives.")
    north_star: dict[str, Any] | None
    quality_checks: dict[str, str] = Field(description="Check → off, warn or block.")


class StrategyMapOut(ReadOut):
    cycle_id: UUID
    position: int | None
    rows: list[dict[str, Any]] = Field(
        description="One per perspective, top first: its themes (with a colour), objectives "
        "and KPIs."
    )
    unplaced: list[dict[str, Any]] = Field(description="Objectives with no theme or perspective.")
    links: list[dict[str, Any]] = Field(
        description="kind (aligns_to, drives, measured_by), source, target."
    )


# ---------------------------------------------------------------------- KPIs


class Thresholds(Body):
    green: float = Field(description="Green at or beyond this value.", examples=[40])
    amber: float = Field(description="Amber at or beyond this value; red past it.", examples=[30])

    model_config = examples({"green": 40, "amber": 30})


class KpiCreate(Body):
    name: Line = Field(min_length=1, max_length=200, examples=["Net Promoter Score"])
    unit: Line = Field(min_length=1, max_length=40, examples=["pts"])
    direction: KpiDirection = Field(
        description="`increase` (higher is better) or `decrease` (lower is better)."
    )
    thresholds: Thresholds
    north_star: bool = Field(default=False, description="Make it the strategy's north star.")
    owner_person_id: UUID | None = Field(
        default=None, description="Who measures it (default: the caller)."
    )
    description: Text = Field(default="", max_length=2000)
    perspective: Line | None = Field(default=None, max_length=40, examples=["customer"])
    theme_id: UUID | None = Field(default=None, description="A theme (brings its perspective).")

    model_config = examples(
        {
            "name": "Net Promoter Score",
            "unit": "pts",
            "direction": "increase",
            "thresholds": {"green": 40, "amber": 30},
            "north_star": False,
            "perspective": "customer",
        }
    )


class KpiPatch(Body):
    """Rename, hand over and/or retag (send `perspective` or `theme_id`, null to clear)."""

    name: Line | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=2000)
    owner_person_id: UUID | None = None
    perspective: Line | None = Field(default=None, max_length=40)
    theme_id: UUID | None = None
    reason: Text = Field(default="", max_length=2000)

    model_config = examples({"name": "NPS (all plans)", "reason": "free plans count now"})


class ThresholdsChange(Body):
    green: float = Field(examples=[45])
    amber: float = Field(examples=[35])
    reason: Text = Field(max_length=2000, description="Required: thresholds recolour the past.")

    model_config = examples({"green": 45, "amber": 35, "reason": "the benchmark moved"})


class MeasurementCreate(Body):
    value: float = Field(examples=[42])
    period: Line = Field(
        min_length=4,
        max_length=10,
        description="A day (2026-10-31), ISO week (2026-W44), month (2026-10), quarter "
        "(2026-Q4) or year (2026).",
        examples=["2026-10"],
    )
    note: Text = Field(default="", max_length=2000)

    model_config = examples({"value": 42, "period": "2026-10", "note": "quarterly survey"})


class MeasurementCorrection(Body):
    value: float
    note: Text | None = Field(default=None, max_length=2000)
    reason: Text = Field(max_length=2000, examples=["the export missed EMEA"])

    model_config = examples({"value": 44, "reason": "the export missed EMEA"})


class MeasurementCommandResult(CommandResultOut):
    measurement_id: UUID = Field(description="The measurement (or correction) recorded.")


class KpiOut(ReadOut):
    kpi_id: UUID
    version: int
    name: str
    unit: str
    direction: str
    green: float
    amber: float
    north_star: bool
    current_value: float | None
    status: str | None = Field(description="green, amber or red; null before a measurement.")
    trend: str | None = Field(description="improving, worsening or flat; null before two.")
    history: list[dict[str, Any]] = Field(description="Live measurements, oldest period first.")


class KpisPage(Out):
    items: list[KpiOut]
    position: int | None


# --------------------------------------------------------------- initiatives


class InitiativeCreate(Body):
    title: Line = Field(min_length=1, max_length=200, examples=["Self-serve onboarding"])
    owner_person_id: UUID | None = Field(default=None, description="Default: the caller.")
    key_result_ids: list[UUID] = Field(
        min_length=1, max_length=20, description="The key results it should move."
    )
    description: Text = Field(default="", max_length=2000)

    model_config = examples(
        {
            "title": "Self-serve onboarding",
            "owner_person_id": EXAMPLE_ID,
            "key_result_ids": [EXAMPLE_ID_2],
        }
    )


class InitiativePatch(Body):
    """Move the status (planned, in_progress, done, cancelled) with an optional note, add a
    note, retitle or hand over. Cancelling and reopening need a `reason` (or a note)."""

    status: InitiativeStatus | None = None
    note: Text = Field(default="", max_length=2000)
    title: Line | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=2000)
    owner_person_id: UUID | None = None
    reason: Text = Field(default="", max_length=2000)

    model_config = examples({"status": "in_progress", "note": "kick-off on Monday"})


class InitiativeLink(Body):
    key_result_id: UUID
    reason: Text = Field(default="", max_length=2000)

    model_config = examples({"key_result_id": EXAMPLE_ID})


class InitiativeOut(ReadOut):
    initiative_id: UUID
    version: int
    title: str
    owner_person_id: UUID
    status: str
    key_results: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    launched_at: datetime


class InitiativesPage(Out):
    items: list[InitiativeOut]


# ------------------------------------------------------ objectives and KPIs


class ObjectiveTheme(Body):
    theme_id: UUID | None = Field(description="A live theme of the strategy; null untags.")
    reason: Text = Field(default="", max_length=2000)

    model_config = examples({"theme_id": EXAMPLE_ID})


class KeyResultKpi(Body):
    kpi_id: UUID | None = Field(description="A KPI in the key result's unit; null unlinks.")

    model_config = examples({"kpi_id": EXAMPLE_ID})


class KpiCheckIn(Body):
    confidence: int = Field(ge=0, le=10, description="0 (no chance) to 10 (certain).")
    note: Text = Field(default="", max_length=2000)

    model_config = examples({"confidence": 7})


# ------------------------------------------------------------------- coach


class LintKeyResult(Body):
    key_result_id: UUID | None = None
    title: Line = Field(max_length=200, examples=["Checkout conversion"])
    measure: Measure = Measure.METRIC
    baseline: float | None = None
    target: float | None = None
    unit: Line = Field(default="", max_length=40)
    direction: Direction = Direction.INCREASE

    model_config = examples({"title": "Checkout conversion", "baseline": 20, "target": 35})


class LintDraft(Body):
    """An objective as it is being written (not saved): what would the coach say?"""

    cycle_id: UUID
    objective_id: UUID | None = Field(
        default=None, description="The draft being edited, if it was saved already."
    )
    title: Line = Field(max_length=200, examples=["Do better at sales"])
    kind: Kind = Kind.COMMITTED
    owner_team_id: UUID | None = None
    owner_person_id: UUID | None = None
    parent_objective_id: UUID | None = None
    key_results: list[LintKeyResult] = Field(default_factory=list, max_length=20)

    model_config = examples(
        {
            "cycle_id": EXAMPLE_ID,
            "title": "Do better at sales",
            "owner_team_id": EXAMPLE_ID_2,
            "key_results": [{"title": "More deals", "baseline": 10, "target": 15, "unit": ""}],
        }
    )


class Finding(Out):
    check: str = Field(examples=["kr_is_task"])
    level: str = Field(description="warn or block")
    objective_id: UUID | None
    key_result_id: UUID | None
    field: str = Field(description="What to change, e.g. `key_results.<id>.title`.")
    message: str
    suggestion: str
    description: str | None = None
    objective_title: str | None = None
    owner_team_id: UUID | None = None
    owner_team_name: str | None = None
    owner_person_id: UUID | None = None
    owner_person_name: str | None = None
    related: list[UUID] = Field(default_factory=list)


class Lint(Out):
    cycle_id: UUID
    objective_id: UUID | None
    findings: list[Finding]
    counts: dict[str, int] = Field(description="Findings per check.")
    blocking: int = Field(description="Findings at level block.")


class QualityCheckLevel(Body):
    level: Level = Field(description="off, warn or block (refuse submission).")
    reason: Text = Field(default="", max_length=2000)

    model_config = examples({"level": "block", "reason": "we agreed KRs are outcomes"})


class QualityCheck(Out):
    check: str
    description: str
    level: str


class QualityChecks(Out):
    checks: list[QualityCheck]
