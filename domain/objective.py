"""An objective with its key results: drafted, negotiated, amended, tracked, graded, carried over.

Every change is an event; nothing is overwritten. A check-in that was wrong is superseded by a
correction, a target that moved after approval moved through an amendment with a reason.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from domain.base import CommandContext, OkrAggregate
from domain.cycle import Cycle, Phase, Scoring
from domain.errors import InvalidValue, clean_text, require, require_text, require_value
from domain.quality import Finding, KeyResultSpec, ObjectiveSpec
from domain.scoring import (
    Direction,
    Measure,
    objective_score,
    progress,
    suggested_score,
)
from domain.source import DEFAULT_CONFIDENCE, describe, is_source_actor, validate_source


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


@dataclass
class CheckIn:
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
    check_ins: list[CheckIn] = field(default_factory=list)
    score: float | None = None
    achieved: bool | None = None
    grade_comment: str = ""
    kpi_id: UUID | None = None
    """The KPI whose measurements this key result can take its check-ins from."""
    source_id: UUID | None = None
    """The data source the key result follows (its fetched values become check-ins)."""
    source: dict[str, Any] | None = None
    """That source's definition (domain/source.py), secret-free."""

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


def _finite(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidValue("not_a_number", f"{name} must be a number", name) from None
    require_value(math.isfinite(number), "not_finite", f"{name} must be a finite number", name)
    return number


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
    weight_ = _finite(weight, "weight")
    require_value(weight_ is not None, "weight_required", "weight must be a number", "weight")
    assert weight_ is not None
    require_value(weight_ >= 0, "weight_negative", "weight must be zero or more", "weight")
    if measure_ == Measure.MILESTONE:
        return measure_, 0.0, 1.0, Direction.INCREASE, weight_
    baseline_ = _finite(baseline, "baseline")
    target_ = _finite(target, "target")
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


class Objective(OkrAggregate):
    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        cycle_id: UUID
        owner_team_id: UUID | None
        owner_person_id: UUID | None
        title: str
        description: str
        kind: Kind
        perspective: Perspective | None
        parent_objective_id: UUID | None
        parent_key_result_id: UUID | None
        private: bool
        status: Status
        key_results: dict[UUID, KeyResult]
        submitted_by: str | None
        approver_id: UUID | None
        approved_by: str | None
        approved_content_hash: str | None
        review_comment: str
        counter_proposal: CounterProposal | None
        amendments: dict[UUID, Amendment]
        explicit_score: float | None
        graded: bool
        grade_comment: str
        reflection: str
        carried_from: UUID | None
        carried_to: UUID | None
        abandon_reason: str
        theme_id: UUID | None

    # ------------------------------------------------------------------ events

    class Drafted(OkrAggregate.Created):
        cycle_id: UUID
        owner_team_id: UUID | None
        owner_person_id: UUID | None
        title: str
        description: str
        kind: str
        perspective: str | None
        parent_objective_id: UUID | None
        parent_key_result_id: UUID | None
        private: bool
        carried_from: UUID | None

        def apply(self, objective: Objective) -> None:
            objective.cycle_id = self.cycle_id
            objective.owner_team_id = self.owner_team_id
            objective.owner_person_id = self.owner_person_id
            objective.title = self.title
            objective.description = self.description
            objective.kind = Kind(self.kind)
            objective.perspective = Perspective(self.perspective) if self.perspective else None
            objective.parent_objective_id = self.parent_objective_id
            objective.parent_key_result_id = self.parent_key_result_id
            objective.private = self.private
            objective.status = Status.DRAFT
            objective.key_results = {}
            objective.submitted_by = None
            objective.approver_id = None
            objective.approved_by = None
            objective.approved_content_hash = None
            objective.review_comment = ""
            objective.counter_proposal = None
            objective.amendments = {}
            objective.explicit_score = None
            objective.graded = False
            objective.grade_comment = ""
            objective.reflection = ""
            objective.carried_from = self.carried_from
            objective.carried_to = None
            objective.abandon_reason = ""
            objective.theme_id = None

    class Reworded(OkrAggregate.Event):
        title: str
        description: str

        def apply(self, objective: Objective) -> None:
            objective.title = self.title
            objective.description = self.description

    class Realigned(OkrAggregate.Event):
        parent_objective_id: UUID | None
        parent_key_result_id: UUID | None

        def apply(self, objective: Objective) -> None:
            objective.parent_objective_id = self.parent_objective_id
            objective.parent_key_result_id = self.parent_key_result_id

    class Reassigned(OkrAggregate.Event):
        owner_team_id: UUID | None
        owner_person_id: UUID | None

        def apply(self, objective: Objective) -> None:
            objective.owner_team_id = self.owner_team_id
            objective.owner_person_id = self.owner_person_id

    class Abandoned(OkrAggregate.Event):
        def apply(self, objective: Objective) -> None:
            objective.status = Status.ABANDONED
            objective.abandon_reason = self.reason

    class KeyResultAdded(OkrAggregate.Event):
        key_result_id: UUID
        lineage_id: UUID
        title: str
        measure: str
        baseline: float | None
        target: float | None
        unit: str
        direction: str
        weight: float

        def apply(self, objective: Objective) -> None:
            objective.key_results[self.key_result_id] = KeyResult(
                id=self.key_result_id,
                lineage_id=self.lineage_id,
                title=self.title,
                measure=Measure(self.measure),
                baseline=self.baseline,
                target=self.target,
                unit=self.unit,
                direction=Direction(self.direction),
                weight=self.weight,
            )

    class KeyResultReworded(OkrAggregate.Event):
        key_result_id: UUID
        title: str

        def apply(self, objective: Objective) -> None:
            objective.key_results[self.key_result_id].title = self.title

    class KeyResultRetargeted(OkrAggregate.Event):
        key_result_id: UUID
        baseline: float | None
        target: float | None

        def apply(self, objective: Objective) -> None:
            kr = objective.key_results[self.key_result_id]
            kr.baseline = self.baseline
            kr.target = self.target

    class KeyResultReweighted(OkrAggregate.Event):
        key_result_id: UUID
        weight: float

        def apply(self, objective: Objective) -> None:
            objective.key_results[self.key_result_id].weight = self.weight

    class KeyResultRemoved(OkrAggregate.Event):
        key_result_id: UUID

        def apply(self, objective: Objective) -> None:
            objective.key_results[self.key_result_id].removed = True

    class SubmittedForApproval(OkrAggregate.Event):
        approver_id: UUID

        def apply(self, objective: Objective) -> None:
            objective.status = Status.IN_REVIEW
            objective.submitted_by = self.actor
            objective.approver_id = self.approver_id
            objective.counter_proposal = None
            objective.review_comment = ""

    class ChangesRequested(OkrAggregate.Event):
        comment: str

        def apply(self, objective: Objective) -> None:
            objective.status = Status.CHANGES_REQUESTED
            objective.review_comment = self.comment

    class CounterProposed(OkrAggregate.Event):
        changes: dict[str, Any]
        comment: str

        def apply(self, objective: Objective) -> None:
            objective.status = Status.COUNTERED
            objective.counter_proposal = CounterProposal(self.changes, self.comment, self.actor)
            objective.review_comment = self.comment

    class CounterProposalAccepted(OkrAggregate.Event):
        changes: dict[str, Any]
        approved_by: str
        content_hash: str

        def apply(self, objective: Objective) -> None:
            objective._apply_changes(self.changes)
            objective.status = Status.APPROVED
            objective.counter_proposal = None
            objective.approved_by = self.approved_by
            objective.approved_content_hash = self.content_hash

    class CounterProposalDeclined(OkrAggregate.Event):
        """The contributor revises instead of accepting: the first edit declines the counter."""

        def apply(self, objective: Objective) -> None:
            objective.status = Status.DRAFT
            objective.counter_proposal = None

    class Approved(OkrAggregate.Event):
        content_hash: str

        def apply(self, objective: Objective) -> None:
            objective.status = Status.APPROVED
            objective.approved_by = self.actor
            objective.approved_content_hash = self.content_hash
            objective.review_comment = ""

    class Withdrawn(OkrAggregate.Event):
        def apply(self, objective: Objective) -> None:
            objective.status = Status.DRAFT
            objective.approver_id = None
            objective.counter_proposal = None

    class AmendmentProposed(OkrAggregate.Event):
        amendment_id: UUID
        changes: dict[str, Any]

        def apply(self, objective: Objective) -> None:
            objective.amendments[self.amendment_id] = Amendment(
                id=self.amendment_id,
                changes=self.changes,
                reason=self.reason,
                proposed_by=self.actor,
            )

    class AmendmentApproved(OkrAggregate.Event):
        amendment_id: UUID
        changes: dict[str, Any]
        content_hash: str

        def apply(self, objective: Objective) -> None:
            amendment = objective.amendments[self.amendment_id]
            amendment.status = "approved"
            amendment.decided_by = self.actor
            amendment.comment = self.reason
            objective._apply_changes(self.changes)
            objective.approved_content_hash = self.content_hash

    class AmendmentRejected(OkrAggregate.Event):
        amendment_id: UUID

        def apply(self, objective: Objective) -> None:
            amendment = objective.amendments[self.amendment_id]
            amendment.status = "rejected"
            amendment.decided_by = self.actor
            amendment.comment = self.reason

    class ProgressReported(OkrAggregate.Event):
        check_in_id: UUID
        key_result_id: UUID
        value: float
        confidence: int
        note: str
        effective_on: date

        def apply(self, objective: Objective) -> None:
            objective.key_results[self.key_result_id].check_ins.append(_check_in_of(self))

    class CheckInCorrected(OkrAggregate.Event):
        """A new check-in that supersedes an earlier one; the earlier one stays in the record."""

        check_in_id: UUID
        key_result_id: UUID
        supersedes: UUID
        value: float
        confidence: int
        note: str
        effective_on: date

        def apply(self, objective: Objective) -> None:
            kr = objective.key_results[self.key_result_id]
            for old in kr.check_ins:
                if old.id == self.supersedes:
                    old.superseded_by = self.check_in_id
            kr.check_ins.append(_check_in_of(self, supersedes=self.supersedes))

    class KeyResultGraded(OkrAggregate.Event):
        key_result_id: UUID
        score: float
        achieved: bool
        suggested_score: float
        comment: str

        def apply(self, objective: Objective) -> None:
            kr = objective.key_results[self.key_result_id]
            kr.score = self.score
            kr.achieved = self.achieved
            kr.grade_comment = self.comment

    class Graded(OkrAggregate.Event):
        score: float
        comment: str
        explicit: bool
        """False: the owner confirmed the key results' weighted mean, which stays live."""

        def apply(self, objective: Objective) -> None:
            objective.explicit_score = self.score if self.explicit else None
            objective.graded = True
            objective.grade_comment = self.comment

    class Reflected(OkrAggregate.Event):
        text: str

        def apply(self, objective: Objective) -> None:
            objective.reflection = self.text

    class CarriedOver(OkrAggregate.Event):
        to_cycle_id: UUID
        successor_id: UUID

        def apply(self, objective: Objective) -> None:
            objective.carried_to = self.successor_id

    class Themed(OkrAggregate.Event):
        """Tagged with a strategic theme of the strategy (None: untagged)."""

        theme_id: UUID | None

        def apply(self, objective: Objective) -> None:
            objective.theme_id = self.theme_id

    class KeyResultLinkedToKpi(OkrAggregate.Event):
        key_result_id: UUID
        kpi_id: UUID

        def apply(self, objective: Objective) -> None:
            objective.key_results[self.key_result_id].kpi_id = self.kpi_id

    class KeyResultUnlinkedFromKpi(OkrAggregate.Event):
        key_result_id: UUID

        def apply(self, objective: Objective) -> None:
            objective.key_results[self.key_result_id].kpi_id = None

    class KeyResultSourceAttached(OkrAggregate.Event):
        """The key result follows a data source from now on (replacing any earlier one)."""

        key_result_id: UUID
        source_id: UUID
        source: dict[str, Any]

        def apply(self, objective: Objective) -> None:
            kr = objective.key_results[self.key_result_id]
            kr.source_id, kr.source = self.source_id, self.source

    class KeyResultSourceDetached(OkrAggregate.Event):
        key_result_id: UUID

        def apply(self, objective: Objective) -> None:
            kr = objective.key_results[self.key_result_id]
            kr.source_id, kr.source = None, None

    # ----------------------------------------------------------- derived state

    def _decline_open_counter(self, ctx: CommandContext) -> None:
        """An edit while a counter-proposal is open declines it: the contributor revises."""
        if self.status == Status.COUNTERED:
            self._trigger(self.CounterProposalDeclined, ctx, reason="revised by the contributor")

    @property
    def active_key_results(self) -> list[KeyResult]:
        return [kr for kr in self.key_results.values() if not kr.removed]

    @property
    def pending_amendment(self) -> Amendment | None:
        return next((a for a in self.amendments.values() if a.status == "pending"), None)

    @property
    def computed_score(self) -> float | None:
        """Weighted mean of the key results' grades, once every live key result is graded."""
        return objective_score(None, ((kr.score, kr.weight) for kr in self.active_key_results))

    @property
    def score(self) -> float | None:
        return objective_score(
            self.explicit_score, ((kr.score, kr.weight) for kr in self.active_key_results)
        )

    def content(self) -> dict[str, Any]:
        """The negotiated content an approval is given to."""
        return {
            "title": self.title,
            "description": self.description,
            "kind": self.kind.value,
            "perspective": self.perspective.value if self.perspective else None,
            "owner_team_id": str(self.owner_team_id) if self.owner_team_id else None,
            "owner_person_id": str(self.owner_person_id) if self.owner_person_id else None,
            "parent_objective_id": str(self.parent_objective_id)
            if self.parent_objective_id
            else None,
            "parent_key_result_id": str(self.parent_key_result_id)
            if self.parent_key_result_id
            else None,
            "key_results": sorted(
                (kr.spec() for kr in self.active_key_results), key=lambda s: s["key_result_id"]
            ),
        }

    def content_hash(self) -> str:
        canonical = json.dumps(self.content(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def quality_spec(self) -> ObjectiveSpec:
        """What the quality coach reads of this objective (its live key results)."""
        return ObjectiveSpec(
            objective_id=self.id,
            cycle_id=self.cycle_id,
            title=self.title,
            kind=self.kind.value,
            owner_team_id=self.owner_team_id,
            owner_person_id=self.owner_person_id,
            parent_objective_id=self.parent_objective_id,
            key_results=tuple(
                KeyResultSpec(
                    kr.id,
                    kr.title,
                    kr.measure.value,
                    kr.baseline,
                    kr.target,
                    kr.unit,
                    kr.direction.value,
                )
                for kr in self.active_key_results
            ),
            status=self.status.value,
        )

    # ------------------------------------------------------------- commands

    @classmethod
    def draft(
        cls,
        *,
        cycle: Cycle,
        owner_team_id: UUID | None,
        owner_person_id: UUID | None,
        title: str,
        kind: Kind,
        ctx: CommandContext,
        description: str = "",
        perspective: Perspective | None = None,
        parent: Objective | None = None,
        parent_key_result_id: UUID | None = None,
        private: bool = False,
        carried_from: UUID | None = None,
        objective_id: UUID | None = None,
    ) -> Objective:
        """`objective_id`: a chosen id (an import derives it from the external id, so a second
        import of the same file finds it); a fresh one otherwise."""
        cycle.require_open_for("draft an objective", *PLANNING_PHASES)
        _require_one_owner(owner_team_id, owner_person_id)
        _require_alignable(parent, parent_key_result_id, cycle)
        try:
            kind_ = Kind(kind)
        except ValueError:
            raise InvalidValue(
                "kind_invalid", "kind must be committed or aspirational", "kind"
            ) from None
        try:
            perspective_ = Perspective(perspective) if perspective else None
        except ValueError:
            raise InvalidValue(
                "perspective_invalid",
                "perspective must be one of " + ", ".join(p.value for p in Perspective),
                "perspective",
            ) from None
        return cls._create(
            cls.Drafted,
            id=objective_id or uuid4(),
            cycle_id=cycle.id,
            owner_team_id=owner_team_id,
            owner_person_id=owner_person_id,
            title=require_text(title, "title", max_length=200),
            description=clean_text(description, "description"),
            kind=kind_.value,
            perspective=perspective_.value if perspective_ else None,
            parent_objective_id=parent.id if parent else None,
            parent_key_result_id=parent_key_result_id,
            private=private,
            carried_from=carried_from,
            **ctx.stamp(),
        )

    def _require_not_abandoned(self) -> None:
        require(
            self.status != Status.ABANDONED,
            "objective_abandoned",
            f"objective '{self.title}' was abandoned",
        )

    def _require_editable(self, doing: str) -> None:
        self._require_not_abandoned()
        require(
            self.status in EDITABLE,
            "amendment_required" if self.status == Status.APPROVED else "not_editable",
            f"cannot {doing}: objective is {self.status.value}"
            + ("; propose an amendment instead" if self.status == Status.APPROVED else ""),
        )

    def _edit_reason(self, reason: str) -> str:
        """After approval, even a wording change says why; under review, the content is frozen."""
        self._require_not_abandoned()
        require(
            self.status != Status.IN_REVIEW,
            "under_review",
            "the objective is under review: withdraw it to change it",
        )
        if self.status == Status.APPROVED:
            return require_text(reason, "reason")
        return clean_text(reason, "reason")

    def reword(
        self,
        title: str,
        description: str | None,
        cycle: Cycle,
        ctx: CommandContext,
        reason: str = "",
    ) -> None:
        cycle.require_open_for("reword an objective", *PLANNING_PHASES)
        self._require_not_abandoned()
        self._decline_open_counter(ctx)
        self._trigger(
            self.Reworded,
            ctx,
            reason=self._edit_reason(reason),
            title=require_text(title, "title", max_length=200),
            description=self.description
            if description is None
            else clean_text(description, "description"),
        )

    def realign(
        self,
        parent: Objective | None,
        parent_key_result_id: UUID | None,
        cycle: Cycle,
        ctx: CommandContext,
        reason: str = "",
        ancestors_of_parent: Sequence[UUID] = (),
    ) -> None:
        """Align under `parent`; `ancestors_of_parent` (its chain of parents) guards against loops."""
        cycle.require_open_for("realign an objective", *PLANNING_PHASES)
        self._require_not_abandoned()
        _require_alignable(parent, parent_key_result_id, cycle)
        require(
            parent is None or (parent.id != self.id and self.id not in ancestors_of_parent),
            "alignment_cycle",
            "an objective cannot align to itself or to one of the objectives aligned under it",
            "parent_objective_id",
        )
        self._decline_open_counter(ctx)
        self._trigger(
            self.Realigned,
            ctx,
            reason=self._edit_reason(reason),
            parent_objective_id=parent.id if parent else None,
            parent_key_result_id=parent_key_result_id,
        )

    def reassign(
        self,
        owner_team_id: UUID | None,
        owner_person_id: UUID | None,
        cycle: Cycle,
        ctx: CommandContext,
        reason: str = "",
    ) -> None:
        cycle.require_open_for("reassign an objective", *PLANNING_PHASES)
        self._require_not_abandoned()
        _require_one_owner(owner_team_id, owner_person_id)
        self._decline_open_counter(ctx)
        self._trigger(
            self.Reassigned,
            ctx,
            reason=self._edit_reason(reason),
            owner_team_id=owner_team_id,
            owner_person_id=owner_person_id,
        )

    def abandon(self, reason: str, cycle: Cycle, ctx: CommandContext) -> None:
        cycle.require_open_for("abandon an objective", *TRACKING_PHASES, Phase.PLANNING)
        self._require_not_abandoned()
        self._trigger(self.Abandoned, ctx, reason=require_text(reason, "reason"))

    def add_key_result(
        self,
        *,
        title: str,
        measure: Measure,
        cycle: Cycle,
        ctx: CommandContext,
        baseline: float | None = None,
        target: float | None = None,
        unit: str = "",
        direction: Direction = Direction.INCREASE,
        weight: float = 1.0,
        lineage_id: UUID | None = None,
    ) -> UUID:
        cycle.require_open_for("add a key result", *PLANNING_PHASES)
        self._require_editable("add a key result")
        measure_, baseline_, target_, direction_, weight_ = validate_key_result(
            measure, baseline, target, direction, weight
        )
        self._decline_open_counter(ctx)
        key_result_id = uuid4()
        self._trigger(
            self.KeyResultAdded,
            ctx,
            key_result_id=key_result_id,
            lineage_id=lineage_id or uuid4(),
            title=require_text(title, "title", max_length=200),
            measure=measure_.value,
            baseline=baseline_,
            target=target_,
            unit=clean_text(unit, "unit"),
            direction=direction_.value,
            weight=weight_,
        )
        return key_result_id

    def key_result(self, key_result_id: UUID, *, live: bool = True) -> KeyResult:
        kr = self.key_results.get(key_result_id)
        require_value(
            kr is not None,
            "key_result_not_found",
            f"key result {key_result_id} not found",
            "key_result_id",
        )
        assert kr is not None
        if live:
            require(
                not kr.removed,
                "key_result_removed",
                f"key result '{kr.title}' was removed",
                "key_result_id",
            )
        return kr

    def update_key_result(
        self,
        key_result_id: UUID,
        cycle: Cycle,
        ctx: CommandContext,
        *,
        title: str | None = None,
        baseline: float | None = None,
        target: float | None = None,
        weight: float | None = None,
        reason: str = "",
    ) -> None:
        """Edit a key result of a draft; after approval, only an amendment changes it."""
        cycle.require_open_for("edit a key result", *PLANNING_PHASES)
        self._require_editable("edit a key result")
        kr = self.key_result(key_result_id)
        new_baseline = kr.baseline if baseline is None else baseline
        new_target = kr.target if target is None else target
        new_weight = kr.weight if weight is None else weight
        _, baseline_, target_, _, weight_ = validate_key_result(
            kr.measure, new_baseline, new_target, kr.direction, new_weight
        )
        changes_anything = (
            (title is not None and title.strip() != kr.title)
            or (baseline_, target_) != (kr.baseline, kr.target)
            or weight_ != kr.weight
        )
        if changes_anything:
            self._decline_open_counter(ctx)
        if title is not None and title.strip() != kr.title:
            self._trigger(
                self.KeyResultReworded,
                ctx,
                reason=reason,
                key_result_id=kr.id,
                title=require_text(title, "title", max_length=200),
            )
        if (baseline_, target_) != (kr.baseline, kr.target):
            self._trigger(
                self.KeyResultRetargeted,
                ctx,
                reason=reason,
                key_result_id=kr.id,
                baseline=baseline_,
                target=target_,
            )
        if weight_ != kr.weight:
            self._trigger(
                self.KeyResultReweighted, ctx, reason=reason, key_result_id=kr.id, weight=weight_
            )

    def remove_key_result(
        self, key_result_id: UUID, cycle: Cycle, ctx: CommandContext, reason: str = ""
    ) -> None:
        cycle.require_open_for("remove a key result", *PLANNING_PHASES)
        self._require_editable("remove a key result")
        kr = self.key_result(key_result_id)
        self._decline_open_counter(ctx)
        self._trigger(self.KeyResultRemoved, ctx, reason=reason, key_result_id=kr.id)

    # Negotiation.

    def submit_for_approval(
        self,
        approver_id: UUID,
        cycle: Cycle,
        ctx: CommandContext,
        blockers: Sequence[Finding] = (),
    ) -> None:
        """`blockers`: the quality coach's findings at level block (see domain.quality)."""
        cycle.require_open_for("submit an objective", *PLANNING_PHASES)
        self._require_editable("submit")
        require(
            bool(self.active_key_results),
            "key_results_required",
            "an objective needs at least one key result before it is submitted",
        )
        require(
            str(approver_id) != ctx.actor,
            "no_self_approval",
            "the approver must be someone other than the proposer",
            "approver_id",
        )
        if blockers:
            first = blockers[0]
            require(
                False,
                first.check,
                "the quality coach blocks submission: "
                + "; ".join(f"{f.message} ({f.suggestion})" for f in blockers),
                first.field,
            )
        self._trigger(self.SubmittedForApproval, ctx, approver_id=approver_id)

    def _require_in_review(self, doing: str, ctx: CommandContext) -> None:
        self._require_not_abandoned()
        require(
            self.status == Status.IN_REVIEW,
            "not_in_review",
            f"cannot {doing}: objective is {self.status.value}, not in review",
        )
        require(
            ctx.actor != self.submitted_by,
            "no_self_approval",
            "nobody approves or reviews their own proposal",
        )

    def approve(self, cycle: Cycle, ctx: CommandContext) -> None:
        cycle.require_open_for("approve an objective", *PLANNING_PHASES)
        self._require_in_review("approve", ctx)
        self._trigger(self.Approved, ctx, content_hash=self.content_hash())

    def request_changes(self, comment: str, cycle: Cycle, ctx: CommandContext) -> None:
        cycle.require_open_for("request changes", *PLANNING_PHASES)
        self._require_in_review("request changes", ctx)
        self._trigger(
            self.ChangesRequested, ctx, comment=require_text(comment, "comment", max_length=2000)
        )

    def counter_propose(
        self, changes: dict[str, Any], comment: str, cycle: Cycle, ctx: CommandContext
    ) -> None:
        cycle.require_open_for("counter-propose", *PLANNING_PHASES)
        self._require_in_review("counter-propose", ctx)
        self._trigger(
            self.CounterProposed,
            ctx,
            changes=self._normalise_changes(changes),
            comment=require_text(comment, "comment", max_length=2000),
        )

    def accept_counter_proposal(self, cycle: Cycle, ctx: CommandContext) -> None:
        cycle.require_open_for("accept a counter-proposal", *PLANNING_PHASES)
        self._require_not_abandoned()
        require(
            self.status == Status.COUNTERED and self.counter_proposal is not None,
            "no_counter_proposal",
            "there is no counter-proposal to accept",
        )
        assert self.counter_proposal is not None
        require(
            ctx.actor != self.counter_proposal.proposed_by,
            "no_self_approval",
            "the counter-proposal is accepted by the contributor, not by its author",
        )
        changes = self.counter_proposal.changes
        preview = self._preview(changes)
        self._trigger(
            self.CounterProposalAccepted,
            ctx,
            changes=changes,
            approved_by=self.counter_proposal.proposed_by,
            content_hash=preview.content_hash(),
        )

    def withdraw(self, cycle: Cycle, ctx: CommandContext) -> None:
        cycle.require_open_for("withdraw a submission", *PLANNING_PHASES)
        self._require_not_abandoned()
        require(
            self.status in (Status.IN_REVIEW, Status.COUNTERED, Status.CHANGES_REQUESTED),
            "not_submitted",
            f"nothing to withdraw: objective is {self.status.value}",
        )
        self._trigger(self.Withdrawn, ctx)

    # Amendments: the goalpost ledger.

    def propose_amendment(
        self, changes: dict[str, Any], reason: str, cycle: Cycle, ctx: CommandContext
    ) -> UUID:
        cycle.require_open_for("propose an amendment", *PLANNING_PHASES)
        self._require_not_abandoned()
        require(
            self.status == Status.APPROVED,
            "not_approved",
            "amendments change approved objectives; edit the draft directly instead",
        )
        require(
            self.pending_amendment is None,
            "amendment_pending",
            "another amendment is waiting for a decision",
        )
        amendment_id = uuid4()
        self._trigger(
            self.AmendmentProposed,
            ctx,
            reason=require_text(reason, "reason", max_length=2000),
            amendment_id=amendment_id,
            changes=self._normalise_changes(changes),
        )
        return amendment_id

    def _pending(self, amendment_id: UUID, ctx: CommandContext) -> Amendment:
        amendment = self.amendments.get(amendment_id)
        require_value(
            amendment is not None,
            "amendment_not_found",
            f"amendment {amendment_id} not found",
            "amendment_id",
        )
        assert amendment is not None
        require(
            amendment.status == "pending",
            "amendment_decided",
            f"amendment was already {amendment.status}",
        )
        require(
            ctx.actor != amendment.proposed_by,
            "no_self_approval",
            "nobody decides their own amendment",
        )
        return amendment

    def approve_amendment(
        self, amendment_id: UUID, cycle: Cycle, ctx: CommandContext, comment: str = ""
    ) -> None:
        cycle.require_open_for("approve an amendment", *PLANNING_PHASES)
        self._require_not_abandoned()
        amendment = self._pending(amendment_id, ctx)
        # Validate again against the state now: the objective may have moved since.
        changes = self._normalise_changes(amendment.changes, keep_ids=True)
        preview = self._preview(changes)
        self._trigger(
            self.AmendmentApproved,
            ctx,
            reason=clean_text(comment, "comment"),
            amendment_id=amendment_id,
            changes=changes,
            content_hash=preview.content_hash(),
        )

    def reject_amendment(
        self, amendment_id: UUID, comment: str, cycle: Cycle, ctx: CommandContext
    ) -> None:
        cycle.require_open_for("reject an amendment", *PLANNING_PHASES)
        self._require_not_abandoned()
        self._pending(amendment_id, ctx)
        self._trigger(
            self.AmendmentRejected,
            ctx,
            reason=require_text(comment, "comment", max_length=2000),
            amendment_id=amendment_id,
        )

    # Tracking.

    def _require_trackable(self, cycle: Cycle, doing: str) -> None:
        cycle.require_open_for(doing, *TRACKING_PHASES)
        self._require_not_abandoned()
        require(
            self.status == Status.APPROVED,
            "not_approved",
            f"cannot {doing}: objective is {self.status.value}; only approved objectives are tracked",
        )

    def _check_in_values(
        self,
        kr: KeyResult,
        value: float,
        confidence: int,
        effective_on: date,
        cycle: Cycle,
        ctx: CommandContext,
    ) -> tuple[float, int]:
        value_ = _finite(value, "value")
        require_value(value_ is not None, "value_required", "a check-in needs a value", "value")
        assert value_ is not None
        if kr.measure == Measure.MILESTONE:
            require_value(
                value_ in (0.0, 1.0),
                "milestone_value",
                "a milestone is 1 (done) or 0 (not done)",
                "value",
            )
        require_value(
            isinstance(confidence, int)
            and not isinstance(confidence, bool)
            and 0 <= confidence <= 10,
            "confidence_out_of_range",
            "confidence must be a whole number from 0 to 10",
            "confidence",
        )
        require_value(
            cycle.starts_on <= effective_on <= cycle.ends_on,
            "effective_date_outside_cycle",
            f"effective_on must fall within the cycle ({cycle.starts_on} to {cycle.ends_on})",
            "effective_on",
        )
        require_value(
            effective_on <= ctx.now().date(),
            "effective_date_in_future",
            "effective_on cannot be in the future",
            "effective_on",
        )
        return value_, confidence

    def check_in(
        self,
        key_result_id: UUID,
        value: float,
        confidence: int,
        cycle: Cycle,
        ctx: CommandContext,
        note: str = "",
        effective_on: date | None = None,
    ) -> UUID:
        self._require_trackable(cycle, "check in")
        kr = self.key_result(key_result_id)
        effective = effective_on or min(ctx.now().date(), cycle.ends_on)
        value_, confidence_ = self._check_in_values(kr, value, confidence, effective, cycle, ctx)
        check_in_id = uuid4()
        self._trigger(
            self.ProgressReported,
            ctx,
            check_in_id=check_in_id,
            key_result_id=kr.id,
            value=value_,
            confidence=confidence_,
            note=clean_text(note, "note"),
            effective_on=effective,
        )
        return check_in_id

    def correct_check_in(
        self,
        key_result_id: UUID,
        check_in_id: UUID,
        value: float,
        reason: str,
        cycle: Cycle,
        ctx: CommandContext,
        confidence: int | None = None,
        note: str | None = None,
    ) -> UUID:
        self._require_trackable(cycle, "correct a check-in")
        kr = self.key_result(key_result_id)
        original = next((c for c in kr.check_ins if c.id == check_in_id), None)
        require_value(
            original is not None,
            "check_in_not_found",
            f"check-in {check_in_id} not found",
            "check_in_id",
        )
        assert original is not None
        require(
            original.superseded_by is None,
            "check_in_superseded",
            "that check-in was already corrected; correct the latest correction instead",
            "check_in_id",
        )
        new_confidence = original.confidence if confidence is None else confidence
        value_, confidence_ = self._check_in_values(
            kr, value, new_confidence, original.effective_on, cycle, ctx
        )
        correction_id = uuid4()
        self._trigger(
            self.CheckInCorrected,
            ctx,
            reason=require_text(reason, "reason", max_length=2000),
            check_in_id=correction_id,
            key_result_id=kr.id,
            supersedes=original.id,
            value=value_,
            confidence=confidence_,
            note=original.note if note is None else clean_text(note, "note"),
            effective_on=original.effective_on,
        )
        return correction_id

    # Grading and reflection.

    def _require_gradable(self, cycle: Cycle, doing: str) -> None:
        cycle.require_open_for(doing, Phase.GRADING)
        self._require_not_abandoned()
        require(
            self.status == Status.APPROVED,
            "not_approved",
            f"cannot {doing}: objective is {self.status.value}; only approved objectives are graded",
        )

    def grade_key_result(
        self,
        key_result_id: UUID,
        cycle: Cycle,
        ctx: CommandContext,
        score: float | None = None,
        achieved: bool | None = None,
        comment: str = "",
    ) -> None:
        self._require_gradable(cycle, "grade a key result")
        kr = self.key_result(key_result_id)
        suggested = suggested_score(kr.progress)
        comment = clean_text(comment, "comment")
        if cycle.scoring == Scoring.YES_NO:
            require_value(
                score is None,
                "score_in_yes_no_cycle",
                "this cycle grades yes/no: send achieved, not score",
                "score",
            )
            achieved_ = (kr.progress >= 1.0) if achieved is None else bool(achieved)
            score_ = 1.0 if achieved_ else 0.0
            overridden = achieved is not None and achieved_ != (kr.progress >= 1.0)
        else:
            score_ = suggested if score is None else _finite(score, "score")  # type: ignore[assignment]
            assert score_ is not None
            require_value(
                0.0 <= score_ <= 1.0, "score_out_of_range", "score must be from 0.0 to 1.0", "score"
            )
            # Committed objectives are expected to land fully; aspirational ones succeed at ~0.7.
            threshold = 1.0 if self.kind == Kind.COMMITTED else cycle.success_threshold
            achieved_ = score_ >= threshold if achieved is None else bool(achieved)
            overridden = abs(score_ - suggested) > 0.05
        require_value(
            not overridden or bool(comment),
            "override_needs_comment",
            f"the suggested grade from progress is {suggested}; a different grade needs a comment",
            "comment",
        )
        require_value(
            kr.score is None or bool(comment),
            "regrade_needs_comment",
            "changing a grade already given needs a comment",
            "comment",
        )
        self._trigger(
            self.KeyResultGraded,
            ctx,
            key_result_id=kr.id,
            score=score_,
            achieved=achieved_,
            suggested_score=suggested,
            comment=comment,
        )

    def grade(
        self, cycle: Cycle, ctx: CommandContext, score: float | None = None, comment: str = ""
    ) -> None:
        """Grade the objective as a whole; without a score, the key results' weighted mean stands."""
        self._require_gradable(cycle, "grade an objective")
        computed = self.computed_score
        comment = clean_text(comment, "comment")
        if score is None:
            require(
                computed is not None,
                "key_results_ungraded",
                "grade every key result first, or give the objective an explicit score",
                "score",
            )
            assert computed is not None
            score_ = computed
        else:
            checked = _finite(score, "score")
            assert checked is not None
            score_ = checked
            require_value(
                0.0 <= score_ <= 1.0, "score_out_of_range", "score must be from 0.0 to 1.0", "score"
            )
            require_value(
                computed is None or abs(score_ - computed) <= 0.05 or bool(comment),
                "override_needs_comment",
                f"the key results' weighted mean is {computed:.2f}; a different score needs a comment"
                if computed is not None
                else "",
                "comment",
            )
        require_value(
            not self.graded or bool(comment),
            "regrade_needs_comment",
            "changing a grade already given needs a comment",
            "comment",
        )
        self._trigger(
            self.Graded, ctx, score=round(score_, 4), comment=comment, explicit=score is not None
        )

    def reflect(self, text: str, cycle: Cycle, ctx: CommandContext) -> None:
        cycle.require_open_for("write a reflection", Phase.GRADING)
        self._require_not_abandoned()
        self._trigger(self.Reflected, ctx, text=require_text(text, "text", max_length=10_000))

    # Carry-over.

    def carry_over(self, to_cycle: Cycle, cycle: Cycle, ctx: CommandContext) -> Objective:
        """Start a draft in a later cycle with the unfinished key results, keeping their lineage."""
        cycle.require_open_for("carry an objective over", Phase.ACTIVE, Phase.GRADING)
        to_cycle.require_open_for("receive a carried-over objective", *PLANNING_PHASES)
        self._require_not_abandoned()
        require(
            to_cycle.starts_on > cycle.starts_on,
            "carry_over_backwards",
            "carry-over goes to a later cycle",
            "to_cycle_id",
        )
        require(
            self.carried_to is None,
            "already_carried_over",
            "this objective was already carried over",
        )
        successor = Objective.draft(
            cycle=to_cycle,
            owner_team_id=self.owner_team_id,
            owner_person_id=self.owner_person_id,
            title=self.title,
            description=self.description,
            kind=self.kind,
            perspective=self.perspective,
            private=self.private,
            carried_from=self.id,
            ctx=ctx,
        )
        for kr in self.active_key_results:
            if kr.achieved or kr.progress >= 1.0:
                continue
            current = kr.current
            baseline = kr.baseline
            if (
                kr.measure == Measure.METRIC
                and current is not None
                and kr.direction
                in (
                    Direction.INCREASE,
                    Direction.DECREASE,
                )
            ):
                baseline = current.value  # the new quarter starts where this one ended
            successor.add_key_result(
                title=kr.title,
                measure=kr.measure,
                baseline=baseline,
                target=kr.target,
                unit=kr.unit,
                direction=kr.direction,
                weight=kr.weight,
                lineage_id=kr.lineage_id,
                cycle=to_cycle,
                ctx=ctx,
            )
        if self.theme_id is not None:
            successor._trigger(successor.Themed, ctx, theme_id=self.theme_id)
        for kr in successor.active_key_results:
            source = next(k for k in self.key_results.values() if k.lineage_id == kr.lineage_id)
            if source.kpi_id is not None:
                successor._trigger(
                    successor.KeyResultLinkedToKpi, ctx, key_result_id=kr.id, kpi_id=source.kpi_id
                )
        self._trigger(self.CarriedOver, ctx, to_cycle_id=to_cycle.id, successor_id=successor.id)
        return successor

    # Strategy: themes and KPIs.

    def tag_theme(
        self, theme_id: UUID | None, cycle: Cycle, ctx: CommandContext, reason: str = ""
    ) -> None:
        """Tag with a strategic theme (the caller checked it is live); None removes the tag.

        The theme is not part of the negotiated content: it may change after approval.
        """
        cycle.require_open_for("tag an objective", *PLANNING_PHASES, Phase.GRADING)
        self._require_not_abandoned()
        if theme_id != self.theme_id:
            self._trigger(self.Themed, ctx, clean_text(reason, "reason"), theme_id=theme_id)

    def link_key_result_to_kpi(
        self,
        key_result_id: UUID,
        kpi_id: UUID,
        kpi_unit: str,
        cycle: Cycle,
        ctx: CommandContext,
    ) -> None:
        """Let a metric key result take its check-ins from a KPI measured in the same unit."""
        cycle.require_open_for("link a key result to a KPI", *PLANNING_PHASES, Phase.GRADING)
        self._require_not_abandoned()
        kr = self.key_result(key_result_id)
        require_value(
            kr.measure == Measure.METRIC,
            "kpi_link_needs_metric",
            "only a metric key result can follow a KPI",
            "key_result_id",
        )
        require_value(
            not kr.unit or kr.unit.strip().casefold() == kpi_unit.strip().casefold(),
            "kpi_unit_mismatch",
            f"the key result counts '{kr.unit}', the KPI '{kpi_unit}'",
            "kpi_id",
        )
        if kr.kpi_id != kpi_id:
            self._trigger(self.KeyResultLinkedToKpi, ctx, key_result_id=kr.id, kpi_id=kpi_id)

    def unlink_key_result_from_kpi(
        self, key_result_id: UUID, cycle: Cycle, ctx: CommandContext
    ) -> None:
        cycle.require_open_for("unlink a key result from a KPI", *PLANNING_PHASES, Phase.GRADING)
        self._require_not_abandoned()
        kr = self.key_result(key_result_id)
        if kr.kpi_id is not None:
            self._trigger(self.KeyResultUnlinkedFromKpi, ctx, key_result_id=kr.id)

    # Data sources.

    def attach_source(
        self,
        key_result_id: UUID,
        definition: dict[str, Any],
        cycle: Cycle,
        ctx: CommandContext,
        reason: str,
    ) -> UUID:
        """Let a metric key result take its check-ins from a data source (see domain/source.py)."""
        cycle.require_open_for("attach a data source", *PLANNING_PHASES, Phase.GRADING)
        self._require_not_abandoned()
        kr = self.key_result(key_result_id)
        require_value(
            kr.measure == Measure.METRIC,
            "source_needs_metric",
            "only a metric key result can follow a data source",
            "key_result_id",
        )
        why = require_text(reason, "reason", max_length=2000)
        source_id = uuid4()
        self._trigger(
            self.KeyResultSourceAttached,
            ctx,
            why,
            key_result_id=kr.id,
            source_id=source_id,
            source=validate_source(definition),
        )
        return source_id

    def detach_source(
        self, key_result_id: UUID, cycle: Cycle, ctx: CommandContext, reason: str
    ) -> None:
        cycle.require_open_for("detach a data source", *PLANNING_PHASES, Phase.GRADING)
        self._require_not_abandoned()
        kr = self.key_result(key_result_id)
        require(
            kr.source_id is not None,
            "no_source",
            f"key result '{kr.title}' follows no data source",
            "key_result_id",
        )
        why = require_text(reason, "reason", max_length=2000)
        self._trigger(self.KeyResultSourceDetached, ctx, why, key_result_id=kr.id)

    def take_fetched_value(
        self,
        key_result_id: UUID,
        source_id: UUID,
        value: float,
        cycle: Cycle,
        ctx: CommandContext,
    ) -> UUID | None:
        """A value fetched from the key result's source, as an ordinary check-in (its actor is
        the source); None when the value in force is that value already (nothing is written).

        The check-in carries the confidence a person last stated on the key result; before
        anyone stated one, the confidence given when the source was attached."""
        self._require_trackable(cycle, "take a fetched value")
        kr = self.key_result(key_result_id)
        require(
            kr.source_id == source_id and kr.source is not None,
            "source_detached",
            f"key result '{kr.title}' no longer follows this source",
            "source_id",
        )
        assert kr.source is not None
        number = _finite(value, "value")
        current = kr.current
        if current is not None and number == current.value:
            return None
        stated = [c for c in kr.check_ins if not is_source_actor(c.actor)]
        confidence = (
            max(stated, key=lambda c: c.recorded_at).confidence
            if stated
            else int(kr.source.get("confidence", DEFAULT_CONFIDENCE))
        )
        return self.check_in(
            key_result_id,
            number if number is not None else 0.0,
            confidence,
            cycle,
            ctx,
            note=f"Fetched from its data source ({describe(kr.source)}).",
        )

    # ------------------------------------------------------ change sets

    def _normalise_changes(
        self, changes: dict[str, Any], *, keep_ids: bool = False
    ) -> dict[str, Any]:
        """Validate a counter-proposal's or amendment's changes and put them in canonical form.

        Added key results get fresh ids, unless `keep_ids` (re-validating changes already in
        canonical form, such as a pending amendment): then the ids the proposal announced stay.

        Shape: {"title"?, "description"?, "key_results"?: {id: {title?, target?, baseline?,
        weight?}}, "add_key_results"?: [{title, measure, baseline?, target?, unit?, direction?,
        weight?}], "remove_key_results"?: [id]}.
        """
        require_value(
            isinstance(changes, dict) and bool(changes),
            "changes_empty",
            "changes must not be empty",
            "changes",
        )
        unknown = set(changes) - {
            "title",
            "description",
            "key_results",
            "add_key_results",
            "remove_key_results",
        }
        require_value(
            not unknown, "unknown_change", f"cannot change {', '.join(sorted(unknown))}", "changes"
        )
        out: dict[str, Any] = {}
        if "title" in changes:
            out["title"] = require_text(str(changes["title"]), "changes.title", max_length=200)
        if "description" in changes:
            out["description"] = clean_text(str(changes["description"]), "changes.description")
        edits = changes.get("key_results") or {}
        require_value(
            isinstance(edits, dict),
            "changes_shape",
            "key_results must map ids to changes",
            "changes.key_results",
        )
        removed = list(  # each key result once, however often it is listed
            dict.fromkeys(
                self._kr_in_changes(r).id for r in changes.get("remove_key_results") or []
            )
        )
        if edits:
            out["key_results"] = {}
        for raw_id, fields in edits.items():
            kr = self._kr_in_changes(raw_id)
            require_value(
                isinstance(fields, dict) and bool(fields) and set(fields) <= set(NEGOTIABLE_FIELDS),
                "changes_shape",
                f"a key result change sets some of {', '.join(NEGOTIABLE_FIELDS)}",
                f"changes.key_results.{raw_id}",
            )
            _, baseline, target, _, weight = validate_key_result(
                kr.measure,
                fields.get("baseline", kr.baseline),
                fields.get("target", kr.target),
                kr.direction,
                fields.get("weight", kr.weight),
            )
            entry: dict[str, Any] = {}
            if "title" in fields:
                entry["title"] = require_text(
                    str(fields["title"]), "changes.key_results.title", max_length=200
                )
            if "baseline" in fields:
                entry["baseline"] = baseline
            if "target" in fields:
                entry["target"] = target
            if "weight" in fields:
                entry["weight"] = weight
            out["key_results"][str(kr.id)] = entry
        added = []
        for spec in changes.get("add_key_results") or []:
            require_value(
                isinstance(spec, dict),
                "changes_shape",
                "each added key result is an object",
                "changes.add_key_results",
            )
            measure, baseline, target, direction, weight = validate_key_result(
                spec.get("measure", "metric"),
                spec.get("baseline"),
                spec.get("target"),
                spec.get("direction", "increase"),
                spec.get("weight", 1.0),
            )
            added.append(
                {
                    "key_result_id": str(spec.get("key_result_id") or uuid4())
                    if keep_ids
                    else str(uuid4()),
                    "lineage_id": str(spec.get("lineage_id") or uuid4())
                    if keep_ids
                    else str(uuid4()),
                    "title": require_text(
                        str(spec.get("title", "")), "changes.add_key_results.title", max_length=200
                    ),
                    "measure": measure.value,
                    "baseline": baseline,
                    "target": target,
                    "unit": clean_text(str(spec.get("unit", "")), "changes.add_key_results.unit"),
                    "direction": direction.value,
                    "weight": weight,
                }
            )
        if added:
            out["add_key_results"] = added
        if removed:
            out["remove_key_results"] = [str(r) for r in removed]
        require_value(bool(out), "changes_empty", "changes must not be empty", "changes")
        remaining = len(self.active_key_results) - len(removed) + len(added)
        require_value(
            remaining >= 1,
            "key_results_required",
            "an objective keeps at least one key result",
            "changes",
        )
        return out

    def _kr_in_changes(self, raw_id: object) -> KeyResult:
        try:
            key_result_id = raw_id if isinstance(raw_id, UUID) else UUID(str(raw_id))
        except ValueError:
            raise InvalidValue(
                "key_result_id_invalid", f"'{raw_id}' is not a key result id", "changes"
            ) from None
        return self.key_result(key_result_id)

    def _apply_changes(self, changes: dict[str, Any]) -> None:
        """Apply normalised changes; used by events, so it trusts its input."""
        if "title" in changes:
            self.title = changes["title"]
        if "description" in changes:
            self.description = changes["description"]
        for raw_id, fields in (changes.get("key_results") or {}).items():
            kr = self.key_results[UUID(raw_id)]
            for name, value in fields.items():
                setattr(kr, name, value)
        for spec in changes.get("add_key_results") or []:
            kr_id = UUID(spec["key_result_id"])
            self.key_results[kr_id] = KeyResult(
                id=kr_id,
                lineage_id=UUID(spec["lineage_id"]),
                title=spec["title"],
                measure=Measure(spec["measure"]),
                baseline=spec["baseline"],
                target=spec["target"],
                unit=spec["unit"],
                direction=Direction(spec["direction"]),
                weight=spec["weight"],
            )
        for raw_id in changes.get("remove_key_results") or []:
            self.key_results[UUID(raw_id)].removed = True

    def _preview(self, changes: dict[str, Any]) -> Objective:
        """A copy of this objective with `changes` applied, to hash what will be approved."""
        import copy

        preview = copy.deepcopy(self)
        preview._apply_changes(changes)
        return preview


def _check_in_of(
    event: Objective.ProgressReported | Objective.CheckInCorrected, supersedes: UUID | None = None
) -> CheckIn:
    """The check-in record a reporting or correcting event adds."""
    return CheckIn(
        id=event.check_in_id,
        key_result_id=event.key_result_id,
        value=event.value,
        confidence=event.confidence,
        note=event.note,
        effective_on=event.effective_on,
        recorded_at=event.timestamp,
        actor=event.actor,
        supersedes=supersedes,
        reason=event.reason,
    )


def _require_one_owner(owner_team_id: UUID | None, owner_person_id: UUID | None) -> None:
    require_value(
        (owner_team_id is None) != (owner_person_id is None),
        "one_owner",
        "an objective is owned by exactly one team or one person",
        "owner_team_id",
    )


def _require_alignable(
    parent: Objective | None, parent_key_result_id: UUID | None, cycle: Cycle
) -> None:
    if parent is None:
        require_value(
            parent_key_result_id is None,
            "parent_objective_required",
            "aligning to a key result names its objective too",
            "parent_key_result_id",
        )
        return
    require(
        parent.cycle_id == cycle.id,
        "parent_in_other_cycle",
        "an objective aligns to a parent in the same cycle",
        "parent_objective_id",
    )
    require(
        parent.status != Status.ABANDONED,
        "parent_abandoned",
        f"parent objective '{parent.title}' was abandoned",
        "parent_objective_id",
    )
    if parent_key_result_id is not None:
        kr = parent.key_results.get(parent_key_result_id)
        require_value(
            kr is not None and not kr.removed,
            "parent_key_result_not_found",
            "the parent key result is not a live key result of the parent objective",
            "parent_key_result_id",
        )
