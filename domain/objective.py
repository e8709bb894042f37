"""An objective with its key results: drafted, negotiated, amended, tracked, graded, carried over.

Every change is an event; nothing is overwritten. A check-in that was wrong is superseded by a
correction, a target that moved after approval moved through an amendment with a reason.

This module holds the aggregate and its events (their topics, `domain.objective:Objective.X`, are
stored: the event classes stay here), its creation (`draft`, `carry_over`); its state, derived
state and guards are in `objective_state`, its values in `objective_values`, and its other
commands in one mixin per concern: `objective_drafting`, `objective_review`,
`objective_tracking`, `objective_grading`.
"""

from __future__ import annotations

from datetime import date
from typing import Any, NotRequired, TypedDict, Unpack
from uuid import UUID, uuid4

from domain.base import Assigns, CommandContext, OkrAggregate
from domain.cycle import Cycle, Phase
from domain.errors import InvalidValue, clean_text, require, require_text
from domain.objective_drafting import Drafting, require_alignable, require_one_owner
from domain.objective_grading import Grading
from domain.objective_review import Review
from domain.objective_tracking import Tracking
from domain.objective_values import (
    EDITABLE,
    NEGOTIABLE_FIELDS,
    PLANNING_PHASES,
    TRACKING_PHASES,
    Amendment,
    CheckIn,
    CounterProposal,
    KeyResult,
    Kind,
    Perspective,
    Status,
    key_result_of,
    validate_key_result,
)
from domain.scoring import Direction, Measure

__all__ = [
    "EDITABLE",
    "NEGOTIABLE_FIELDS",
    "PLANNING_PHASES",
    "TRACKING_PHASES",
    "Amendment",
    "CheckIn",
    "CounterProposal",
    "KeyResult",
    "Kind",
    "Objective",
    "ObjectiveChange",
    "ObjectiveDraft",
    "Perspective",
    "Status",
    "validate_key_result",
]


class ObjectiveDraft(TypedDict):
    """What an objective is drafted with (`Objective.draft`, and the ledger's
    `draft_objective`, which loads its cycle and parent by id); one owner, a team or a person."""

    title: str
    kind: Kind
    owner_team_id: NotRequired[UUID | None]
    owner_person_id: NotRequired[UUID | None]
    description: NotRequired[str]
    perspective: NotRequired[Perspective | None]
    parent_key_result_id: NotRequired[UUID | None]
    private: NotRequired[bool]


class ObjectiveChange(TypedDict, total=False):
    """One atomic change of an objective (the ledger's `update_objective`, PATCH
    /objectives/{id}): its wording (None or left out: unchanged), its alignment when `realign`,
    its owner when `reassign`, and why."""

    title: str | None
    description: str | None
    realign: bool
    parent_objective_id: UUID | None
    parent_key_result_id: UUID | None
    reassign: bool
    owner_team_id: UUID | None
    owner_person_id: UUID | None
    reason: str


class Objective(Drafting, Review, Tracking, Grading, OkrAggregate):
    """An objective: its events here, its state and guards in `ObjectiveState`, its commands in
    the mixins (one module per concern), its creation below (`draft`, `carry_over`)."""

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

    class Reworded(Assigns):
        title: str
        description: str

    class Realigned(Assigns):
        parent_objective_id: UUID | None
        parent_key_result_id: UUID | None

    class Reassigned(Assigns):
        owner_team_id: UUID | None
        owner_person_id: UUID | None

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
            objective.key_results[self.key_result_id] = key_result_of(self)

    class KeyResultReworded(OkrAggregate.Event):
        key_result_id: UUID
        title: str

        def apply(self, objective: Objective) -> None:
            objective._change_key_result(self.key_result_id, title=self.title)

    class KeyResultRetargeted(OkrAggregate.Event):
        key_result_id: UUID
        baseline: float | None
        target: float | None

        def apply(self, objective: Objective) -> None:
            objective._change_key_result(
                self.key_result_id, baseline=self.baseline, target=self.target
            )

    class KeyResultReweighted(OkrAggregate.Event):
        key_result_id: UUID
        weight: float

        def apply(self, objective: Objective) -> None:
            objective._change_key_result(self.key_result_id, weight=self.weight)

    class KeyResultRemoved(OkrAggregate.Event):
        key_result_id: UUID

        def apply(self, objective: Objective) -> None:
            objective._change_key_result(self.key_result_id, removed=True)

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
            objective.key_results[self.key_result_id].add_check_in(_check_in_of(self))

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
            objective.key_results[self.key_result_id].add_check_in(
                _check_in_of(self, supersedes=self.supersedes)
            )

    class KeyResultGraded(OkrAggregate.Event):
        key_result_id: UUID
        score: float
        achieved: bool
        suggested_score: float
        comment: str

        def apply(self, objective: Objective) -> None:
            objective._change_key_result(
                self.key_result_id,
                score=self.score,
                achieved=self.achieved,
                grade_comment=self.comment,
            )

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

    class Themed(Assigns):
        """Tagged with a strategic theme of the strategy (None: untagged)."""

        theme_id: UUID | None

    class KeyResultLinkedToKpi(OkrAggregate.Event):
        key_result_id: UUID
        kpi_id: UUID

        def apply(self, objective: Objective) -> None:
            objective._change_key_result(self.key_result_id, kpi_id=self.kpi_id)

    class KeyResultUnlinkedFromKpi(OkrAggregate.Event):
        key_result_id: UUID

        def apply(self, objective: Objective) -> None:
            objective._change_key_result(self.key_result_id, kpi_id=None)

    class KeyResultSourceAttached(OkrAggregate.Event):
        """The key result follows a data source from now on (replacing any earlier one)."""

        key_result_id: UUID
        source_id: UUID
        source: dict[str, Any]

        def apply(self, objective: Objective) -> None:
            objective._change_key_result(
                self.key_result_id, source_id=self.source_id, source=self.source
            )

    class KeyResultSourceDetached(OkrAggregate.Event):
        key_result_id: UUID

        def apply(self, objective: Objective) -> None:
            objective._change_key_result(self.key_result_id, source_id=None, source=None)

    # ------------------------------------------------------------- creation

    @classmethod
    def draft(
        cls,
        *,
        cycle: Cycle,
        ctx: CommandContext,
        parent: Objective | None = None,
        carried_from: UUID | None = None,
        objective_id: UUID | None = None,
        **draft: Unpack[ObjectiveDraft],
    ) -> Objective:
        """`objective_id`: a chosen id (an import derives it from the external id, so a second
        import of the same file finds it); a fresh one otherwise."""
        owner_team_id = draft.get("owner_team_id")
        owner_person_id = draft.get("owner_person_id")
        parent_key_result_id = draft.get("parent_key_result_id")
        kind, perspective = draft["kind"], draft.get("perspective")
        cycle.require_open_for("draft an objective", *PLANNING_PHASES)
        require_one_owner(owner_team_id, owner_person_id)
        require_alignable(parent, parent_key_result_id, cycle)
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
            title=require_text(draft["title"], "title", max_length=200),
            description=clean_text(draft.get("description", ""), "description"),
            kind=kind_.value,
            perspective=perspective_.value if perspective_ else None,
            parent_objective_id=parent.id if parent else None,
            parent_key_result_id=parent_key_result_id,
            private=draft.get("private", False),
            carried_from=carried_from,
            **ctx.stamp(),
        )

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
