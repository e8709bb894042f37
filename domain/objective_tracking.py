"""Tracking an approved objective: check-ins and their corrections, KPIs, data sources, themes."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

from domain.base import CommandContext
from domain.cycle import Cycle, Phase
from domain.errors import (
    clean_text,
    require,
    require_correctable,
    require_text,
    require_value,
)
from domain.objective_state import ObjectiveState
from domain.objective_values import (
    PLANNING_PHASES,
    TRACKING_PHASES,
    KeyResult,
    Status,
    finite,
)
from domain.scoring import Measure
from domain.source import (
    DEFAULT_CONFIDENCE,
    describe,
    is_source_actor,
    require_follows_a_source,
    require_still_following,
    validate_source,
)


class Tracking(ObjectiveState):
    """The commands of the active cycle: check-ins, corrections, KPI links, data sources, themes."""

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
        value_ = finite(value, "value")
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
        cycle: Cycle,
        key_result_id: UUID,
        value: float,
        confidence: int,
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
        cycle: Cycle,
        key_result_id: UUID,
        check_in_id: UUID,
        value: float,
        reason: str,
        ctx: CommandContext,
        confidence: int | None = None,
        note: str | None = None,
    ) -> UUID:
        self._require_trackable(cycle, "correct a check-in")
        kr = self.key_result(key_result_id)
        original = require_correctable(
            next((c for c in kr.check_ins if c.id == check_in_id), None),
            "check_in",
            "check-in",
            check_in_id,
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

    # Strategy: themes and KPIs.

    def tag_theme(
        self, cycle: Cycle, theme_id: UUID | None, ctx: CommandContext, reason: str = ""
    ) -> None:
        """Tag with a strategic theme (the caller checked it is live); None removes the tag.

        The theme is not part of the negotiated content: it may change after approval.
        """
        cycle.require_open_for("tag an objective", *PLANNING_PHASES, Phase.GRADING)
        self._require_not_abandoned()
        self._assign(self.Themed, ctx, reason, theme_id=theme_id)

    def _metric_key_result(self, key_result_id: UUID, rule: str, followed: str) -> KeyResult:
        """A key result that follows something measured (a KPI, a data source) is a metric."""
        kr = self.key_result(key_result_id)
        require_value(
            kr.measure == Measure.METRIC,
            rule,
            f"only a metric key result can follow {followed}",
            "key_result_id",
        )
        return kr

    def link_key_result_to_kpi(
        self,
        cycle: Cycle,
        key_result_id: UUID,
        kpi_id: UUID,
        kpi_unit: str,
        ctx: CommandContext,
    ) -> None:
        """Let a metric key result take its check-ins from a KPI measured in the same unit."""
        cycle.require_open_for("link a key result to a KPI", *PLANNING_PHASES, Phase.GRADING)
        self._require_not_abandoned()
        kr = self._metric_key_result(key_result_id, "kpi_link_needs_metric", "a KPI")
        require_value(
            not kr.unit or kr.unit.strip().casefold() == kpi_unit.strip().casefold(),
            "kpi_unit_mismatch",
            f"the key result counts '{kr.unit}', the KPI '{kpi_unit}'",
            "kpi_id",
        )
        if kr.kpi_id != kpi_id:
            self._trigger(self.KeyResultLinkedToKpi, ctx, key_result_id=kr.id, kpi_id=kpi_id)

    def unlink_key_result_from_kpi(
        self, cycle: Cycle, key_result_id: UUID, ctx: CommandContext
    ) -> None:
        cycle.require_open_for("unlink a key result from a KPI", *PLANNING_PHASES, Phase.GRADING)
        self._require_not_abandoned()
        kr = self.key_result(key_result_id)
        if kr.kpi_id is not None:
            self._trigger(self.KeyResultUnlinkedFromKpi, ctx, key_result_id=kr.id)

    # Data sources.

    def attach_source(
        self,
        cycle: Cycle,
        key_result_id: UUID,
        definition: dict[str, Any],
        reason: str,
        ctx: CommandContext,
    ) -> UUID:
        """Let a metric key result take its check-ins from a data source (see domain/source.py)."""
        cycle.require_open_for("attach a data source", *PLANNING_PHASES, Phase.GRADING)
        self._require_not_abandoned()
        kr = self._metric_key_result(key_result_id, "source_needs_metric", "a data source")
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
        self, cycle: Cycle, key_result_id: UUID, reason: str, ctx: CommandContext
    ) -> UUID:
        cycle.require_open_for("detach a data source", *PLANNING_PHASES, Phase.GRADING)
        self._require_not_abandoned()
        kr = self.key_result(key_result_id)
        require_follows_a_source(kr.source_id, f"key result '{kr.title}'", "key_result_id")
        why = require_text(reason, "reason", max_length=2000)
        self._trigger(self.KeyResultSourceDetached, ctx, why, key_result_id=kr.id)
        return kr.id

    def take_fetched_value(
        self,
        cycle: Cycle,
        key_result_id: UUID,
        source_id: UUID,
        value: float,
        ctx: CommandContext,
    ) -> UUID | None:
        """A value fetched from the key result's source, as an ordinary check-in (its actor is
        the source); None when the value in force is that value already (nothing is written).

        The check-in carries the confidence a person last stated on the key result; before
        anyone stated one, the confidence given when the source was attached."""
        self._require_trackable(cycle, "take a fetched value")
        kr = self.key_result(key_result_id)
        source = require_still_following(
            kr.source_id, kr.source, source_id, f"key result '{kr.title}'"
        )
        number = finite(value, "value")
        current = kr.current
        if current is not None and number == current.value:
            return None
        stated = [c for c in kr.check_ins if not is_source_actor(c.actor)]
        confidence = (
            max(stated, key=lambda c: c.recorded_at).confidence
            if stated
            else int(source.get("confidence", DEFAULT_CONFIDENCE))
        )
        return self.check_in(
            cycle,
            key_result_id,
            number if number is not None else 0.0,
            confidence,
            ctx,
            note=f"Fetched from its data source ({describe(source)}).",
        )
