"""Drafting an objective: its wording, alignment, owner and key results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack
from uuid import UUID, uuid4

from domain.base import CommandContext
from domain.cycle import Cycle, Phase
from domain.errors import clean_text, clean_text_or, require, require_text, require_value
from domain.objective_state import ObjectiveState
from domain.objective_values import (
    PLANNING_PHASES,
    TRACKING_PHASES,
    KeyResultDraft,
    KeyResultEdit,
    Status,
    validate_key_result,
)
from domain.scoring import Direction


class Drafting(ObjectiveState):
    """The commands that shape a draft: wording, alignment, owner, key results."""

    def reword(
        self,
        cycle: Cycle,
        title: str,
        description: str | None,
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
            description=clean_text_or(description, "description", self.description),
        )

    def realign(
        self,
        cycle: Cycle,
        parent: ObjectiveState | None,
        parent_key_result_id: UUID | None,
        ctx: CommandContext,
        reason: str = "",
        ancestors_of_parent: Sequence[UUID] = (),
    ) -> None:
        """Align under `parent`; `ancestors_of_parent` (its chain of parents) guards against loops."""
        cycle.require_open_for("realign an objective", *PLANNING_PHASES)
        self._require_not_abandoned()
        require_alignable(parent, parent_key_result_id, cycle)
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
        cycle: Cycle,
        owner_team_id: UUID | None,
        owner_person_id: UUID | None,
        ctx: CommandContext,
        reason: str = "",
    ) -> None:
        cycle.require_open_for("reassign an objective", *PLANNING_PHASES)
        self._require_not_abandoned()
        require_one_owner(owner_team_id, owner_person_id)
        self._decline_open_counter(ctx)
        self._trigger(
            self.Reassigned,
            ctx,
            reason=self._edit_reason(reason),
            owner_team_id=owner_team_id,
            owner_person_id=owner_person_id,
        )

    def abandon(self, cycle: Cycle, reason: str, ctx: CommandContext) -> None:
        cycle.require_open_for("abandon an objective", *TRACKING_PHASES, Phase.PLANNING)
        self._require_not_abandoned()
        self._trigger(self.Abandoned, ctx, reason=require_text(reason, "reason"))

    def add_key_result(
        self,
        cycle: Cycle,
        *,
        ctx: CommandContext,
        **draft: Unpack[KeyResultDraft],
    ) -> UUID:
        cycle.require_open_for("add a key result", *PLANNING_PHASES)
        self._require_editable("add a key result")
        measure_, baseline_, target_, direction_, weight_ = validate_key_result(
            draft["measure"],
            draft.get("baseline"),
            draft.get("target"),
            draft.get("direction", Direction.INCREASE),
            draft.get("weight", 1.0),
        )
        self._decline_open_counter(ctx)
        key_result_id = uuid4()
        self._trigger(
            self.KeyResultAdded,
            ctx,
            key_result_id=key_result_id,
            lineage_id=draft.get("lineage_id") or uuid4(),
            title=require_text(draft["title"], "title", max_length=200),
            measure=measure_.value,
            baseline=baseline_,
            target=target_,
            unit=clean_text(draft.get("unit", ""), "unit"),
            direction=direction_.value,
            weight=weight_,
        )
        return key_result_id

    def update_key_result(
        self,
        cycle: Cycle,
        key_result_id: UUID,
        ctx: CommandContext,
        **edit: Unpack[KeyResultEdit],
    ) -> UUID:
        """Edit a key result of a draft; after approval, only an amendment changes it. Answers
        the key result's id."""
        title, baseline = edit.get("title"), edit.get("baseline")
        target, weight, reason = edit.get("target"), edit.get("weight"), edit.get("reason", "")
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
        return kr.id

    def remove_key_result(
        self, cycle: Cycle, key_result_id: UUID, ctx: CommandContext, reason: str = ""
    ) -> UUID:
        cycle.require_open_for("remove a key result", *PLANNING_PHASES)
        self._require_editable("remove a key result")
        kr = self.key_result(key_result_id)
        self._decline_open_counter(ctx)
        self._trigger(self.KeyResultRemoved, ctx, reason=reason, key_result_id=kr.id)
        return kr.id


def require_one_owner(owner_team_id: UUID | None, owner_person_id: UUID | None) -> None:
    require_value(
        (owner_team_id is None) != (owner_person_id is None),
        "one_owner",
        "an objective is owned by exactly one team or one person",
        "owner_team_id",
    )


def require_alignable(
    parent: ObjectiveState | None, parent_key_result_id: UUID | None, cycle: Cycle
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
