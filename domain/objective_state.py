"""What every part of an objective reads: its state, its events, its derived state and guards.

`Objective` (domain/objective.py) is composed of this and one mixin per concern: drafting
(`objective_drafting`), review and amendments (`objective_review`), tracking
(`objective_tracking`), grading (`objective_grading`). The event classes are defined on
`Objective` itself, so their topics (`domain.objective:Objective.Approved`) stay those stored;
here they are only declared, for the mixins' type checking.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from domain.base import Assigns, CommandContext, OkrAggregate
from domain.change_sets import added_key_results, edited_key_results, removed_key_results
from domain.errors import clean_text, require, require_text, require_value
from domain.objective_values import (
    EDITABLE,
    Amendment,
    CounterProposal,
    KeyResult,
    Kind,
    Perspective,
    Status,
    key_result_of,
)
from domain.quality import KeyResultSpec, ObjectiveSpec
from domain.scoring import ScoredObjective

if TYPE_CHECKING:
    _Aggregate = OkrAggregate
else:
    _Aggregate = object  # at run time the mixins are plain classes; Objective is the aggregate


class ObjectiveState(ScoredObjective, _Aggregate):
    """The part of `Objective` every command reads (a mixin; the aggregate is `Objective`)."""

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
        # the events the commands trigger (classes defined on Objective)
        Reworded: ClassVar[type[Assigns]]
        Realigned: ClassVar[type[Assigns]]
        Reassigned: ClassVar[type[Assigns]]
        Abandoned: ClassVar[type[OkrAggregate.Event]]
        KeyResultAdded: ClassVar[type[OkrAggregate.Event]]
        KeyResultReworded: ClassVar[type[OkrAggregate.Event]]
        KeyResultRetargeted: ClassVar[type[OkrAggregate.Event]]
        KeyResultReweighted: ClassVar[type[OkrAggregate.Event]]
        KeyResultRemoved: ClassVar[type[OkrAggregate.Event]]
        SubmittedForApproval: ClassVar[type[OkrAggregate.Event]]
        ChangesRequested: ClassVar[type[OkrAggregate.Event]]
        CounterProposed: ClassVar[type[OkrAggregate.Event]]
        CounterProposalAccepted: ClassVar[type[OkrAggregate.Event]]
        CounterProposalDeclined: ClassVar[type[OkrAggregate.Event]]
        Approved: ClassVar[type[OkrAggregate.Event]]
        Withdrawn: ClassVar[type[OkrAggregate.Event]]
        AmendmentProposed: ClassVar[type[OkrAggregate.Event]]
        AmendmentApproved: ClassVar[type[OkrAggregate.Event]]
        AmendmentRejected: ClassVar[type[OkrAggregate.Event]]
        ProgressReported: ClassVar[type[OkrAggregate.Event]]
        CheckInCorrected: ClassVar[type[OkrAggregate.Event]]
        KeyResultGraded: ClassVar[type[OkrAggregate.Event]]
        Graded: ClassVar[type[OkrAggregate.Event]]
        Reflected: ClassVar[type[OkrAggregate.Event]]
        Themed: ClassVar[type[Assigns]]
        KeyResultLinkedToKpi: ClassVar[type[OkrAggregate.Event]]
        KeyResultUnlinkedFromKpi: ClassVar[type[OkrAggregate.Event]]
        KeyResultSourceAttached: ClassVar[type[OkrAggregate.Event]]
        KeyResultSourceDetached: ClassVar[type[OkrAggregate.Event]]

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
    def key_result_grades(self) -> list[tuple[float | None, float]]:
        return [(kr.score, kr.weight) for kr in self.active_key_results]

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

    # ------------------------------------------------------------------ guards

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

    def _apply_changes(self, changes: dict[str, Any]) -> None:
        """Apply normalised changes; used by events, so it trusts its input."""
        if "title" in changes:
            self.title = changes["title"]
        if "description" in changes:
            self.description = changes["description"]
        for key_result_id, fields in edited_key_results(changes).items():
            self._change_key_result(key_result_id, **fields)
        for added in added_key_results(changes):
            self.key_results[added.key_result_id] = key_result_of(added)
        for key_result_id in removed_key_results(changes):
            self._change_key_result(key_result_id, removed=True)

    def _change_key_result(self, key_result_id: UUID, **fields: Any) -> None:
        """Set `fields` of a key result (used by events, so it trusts its input)."""
        kr = self.key_results[key_result_id]
        for name, value in fields.items():
            setattr(kr, name, value)
