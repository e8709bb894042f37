"""The values an objective is made of: its kind, status, key results, check-ins, amendments,
and the rules every key result definition obeys."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NotRequired, Protocol, TypedDict
from uuid import UUID

from domain.base import Immutable, Records
from domain.cycle import Phase
from domain.errors import InvalidValue, finite_number, require_value
from domain.scoring import Direction, Measure, progress


class Kind(StrEnum):
    COMMITTED = "committed"
    ASPIRATIONAL = "aspirational"


class Perspective(StrEnum):
    """The four Balanced Scorecard perspectives."""

    FINANCIAL = "financial"
    CUSTOMER = "customer"
    INTERNAL_PROCESS = "internal_process"
    LEARNING_GROWTH = "learning_growth"


class Status(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    COUNTERED = "countered"
    APPROVED = "approved"
    ABANDONED = "abandoned"


EDITABLE = frozenset({Status.DRAFT, Status.CHANGES_REQUESTED, Status.COUNTERED})
PLANNING_PHASES = (Phase.PLANNING, Phase.ACTIVE)
TRACKING_PHASES = (Phase.ACTIVE, Phase.GRADING)
NEGOTIABLE_FIELDS = ("title", "target", "baseline", "weight")
"""Fields of a key result a counter-proposal or an amendment may change."""


class KeyResultDraft(TypedDict):
    """What a key result is added with (`Objective.add_key_result`, and the ledger's command of
    the same name; a carry-over and an import too): `validate_key_result`'s rules apply."""

    title: str
    measure: Measure
    baseline: NotRequired[float | None]
    target: NotRequired[float | None]
    unit: NotRequired[str]
    direction: NotRequired[Direction]
    weight: NotRequired[float]
    lineage_id: NotRequired[UUID | None]
    """The line of key results it continues (a carry-over's); a new line otherwise."""


class KeyResultEdit(TypedDict, total=False):
    """An edit of a draft's key result (`Objective.update_key_result`, and the ledger's command
    of the same name): the negotiable fields it sets (None or left out: unchanged) and why."""

    title: str | None
    baseline: float | None
    target: float | None
    weight: float | None
    reason: str


@dataclass(frozen=True)
class CheckIn(Immutable):
    """A reported value; a correction replaces the record with one naming its successor."""

    id: UUID
    key_result_id: UUID
    value: float
    confidence: int
    note: str
    effective_on: date
    recorded_at: datetime
    actor: str
    supersedes: UUID | None = None
    superseded_by: UUID | None = None
    reason: str = ""


@dataclass
class KeyResult:
    """A key result and its check-ins: frozen records in a `Records` list, so the objective's
    copy for each command copies the list's references, never walks the check-ins."""

    id: UUID
    lineage_id: UUID
    title: str
    measure: Measure
    baseline: float | None
    target: float | None
    unit: str
    direction: Direction
    weight: float
    removed: bool = False
    check_ins: Records[CheckIn] = field(default_factory=Records)
    score: float | None = None
    achieved: bool | None = None
    grade_comment: str = ""
    kpi_id: UUID | None = None
    """The KPI whose measurements this key result can take its check-ins from."""
    source_id: UUID | None = None
    """The data source the key result follows (its fetched values become check-ins)."""
    source: dict[str, Any] | None = None
    """That source's definition (domain/source.py), secret-free."""

    def add_check_in(self, check_in: CheckIn) -> None:
        """Add `check_in`; a correction's earlier check-in is replaced by a record naming the
        correction (`superseded_by`), never changed in place: copies share the records."""
        if check_in.supersedes is not None:
            for index, old in enumerate(self.check_ins):
                if old.id == check_in.supersedes:
                    self.check_ins[index] = replace(old, superseded_by=check_in.id)
        self.check_ins.append(check_in)

    @property
    def current(self) -> CheckIn | None:
        """The check-in in force: the latest effective one that no correction superseded."""
        live = [c for c in self.check_ins if c.superseded_by is None]
        return max(live, key=lambda c: (c.effective_on, c.recorded_at), default=None)

    @property
    def progress(self) -> float:
        current = self.current
        return progress(
            self.measure,
            self.direction,
            self.baseline,
            self.target,
            current.value if current else None,
        )

    def spec(self) -> dict[str, Any]:
        """What was agreed: the negotiable definition, without tracking data."""
        return {
            "key_result_id": str(self.id),
            "lineage_id": str(self.lineage_id),
            "title": self.title,
            "measure": self.measure.value,
            "baseline": self.baseline,
            "target": self.target,
            "unit": self.unit,
            "direction": self.direction.value,
            "weight": self.weight,
        }


class KeyResultDefinition(Protocol):
    """What defines a key result: its added event, or a change set's added key result."""

    @property
    def key_result_id(self) -> UUID: ...
    @property
    def lineage_id(self) -> UUID: ...
    @property
    def title(self) -> str: ...
    @property
    def measure(self) -> str: ...
    @property
    def baseline(self) -> float | None: ...
    @property
    def target(self) -> float | None: ...
    @property
    def unit(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def weight(self) -> float: ...


def key_result_of(definition: KeyResultDefinition) -> KeyResult:
    """A new key result, as its definition says."""
    return KeyResult(
        id=definition.key_result_id,
        lineage_id=definition.lineage_id,
        title=definition.title,
        measure=Measure(definition.measure),
        baseline=definition.baseline,
        target=definition.target,
        unit=definition.unit,
        direction=Direction(definition.direction),
        weight=definition.weight,
    )


@dataclass
class Amendment:
    id: UUID
    changes: dict[str, Any]
    reason: str
    proposed_by: str
    status: str = "pending"
    decided_by: str | None = None
    comment: str = ""


@dataclass
class CounterProposal:
    changes: dict[str, Any]
    comment: str
    proposed_by: str


def finite(value: float | None, name: str) -> float | None:
    """None, or a finite number (see `finite_number`)."""
    return None if value is None else finite_number(value, name)


def validate_key_result(
    measure: str,
    baseline: float | None,
    target: float | None,
    direction: str,
    weight: float,
) -> tuple[Measure, float | None, float | None, Direction, float]:
    """The rules every key result definition obeys, wherever it comes from."""
    try:
        measure_ = Measure(measure)
    except ValueError:
        raise InvalidValue(
            "measure_invalid", "measure must be metric or milestone", "measure"
        ) from None
    try:
        direction_ = Direction(direction)
    except ValueError:
        raise InvalidValue(
            "direction_invalid",
            "direction must be increase, decrease, at_least or at_most",
            "direction",
        ) from None
    weight_ = finite(weight, "weight")
    require_value(weight_ is not None, "weight_required", "weight must be a number", "weight")
    assert weight_ is not None
    require_value(weight_ >= 0, "weight_negative", "weight must be zero or more", "weight")
    if measure_ == Measure.MILESTONE:
        return measure_, 0.0, 1.0, Direction.INCREASE, weight_
    baseline_ = finite(baseline, "baseline")
    target_ = finite(target, "target")
    require_value(
        target_ is not None, "target_required", "a metric key result needs a target", "target"
    )
    assert target_ is not None
    if direction_ in (Direction.INCREASE, Direction.DECREASE):
        require_value(
            baseline_ is not None,
            "baseline_required",
            f"a metric key result that must {direction_.value} needs a baseline",
            "baseline",
        )
        assert baseline_ is not None
        require_value(
            target_ != baseline_,
            "target_equals_baseline",
            "a metric key result's target must differ from its baseline",
            "target",
        )
        if direction_ == Direction.INCREASE:
            require_value(
                target_ > baseline_,
                "target_below_baseline",
                "to increase, target must exceed baseline",
                "target",
            )
        else:
            require_value(
                target_ < baseline_,
                "target_above_baseline",
                "to decrease, target must be below baseline",
                "target",
            )
    return measure_, baseline_, target_, direction_, weight_
