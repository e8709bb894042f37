"""Grading an objective and its key results, and reflecting on it."""

from __future__ import annotations

from uuid import UUID

from domain.base import CommandContext
from domain.cycle import Cycle, Phase, Scoring
from domain.errors import clean_text, require, require_text, require_value
from domain.objective_state import ObjectiveState
from domain.objective_values import (
    Kind,
    Status,
    finite,
)
from domain.scoring import suggested_score


class Grading(ObjectiveState):
    """The commands of the grading phase: key results' grades, the objective's, the reflection."""

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
        cycle: Cycle,
        key_result_id: UUID,
        ctx: CommandContext,
        score: float | None = None,
        achieved: bool | None = None,
        comment: str = "",
    ) -> UUID:
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
            score_ = suggested if score is None else finite(score, "score")  # type: ignore[assignment]
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
        return kr.id

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
            checked = finite(score, "score")
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

    def reflect(self, cycle: Cycle, text: str, ctx: CommandContext) -> None:
        cycle.require_open_for("write a reflection", Phase.GRADING)
        self._require_not_abandoned()
        self._trigger(self.Reflected, ctx, text=require_text(text, "text", max_length=10_000))
