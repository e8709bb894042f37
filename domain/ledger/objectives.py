"""Objectives and their key results: drafting, negotiation, amendments, check-ins, grading,
carrying over. Every change loads the objective and its cycle once (`_on_objective`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from domain.base import CommandContext
from domain.cycle import Cycle
from domain.errors import require
from domain.ledger.base import CYCLE, OBJECTIVE, PERSON, CommandResult
from domain.ledger.quality import QualityLedger
from domain.objective import Kind, Objective, Perspective
from domain.scoring import Direction, Measure

Change = Callable[[Objective, Cycle], UUID | None]
"""A change to an objective, given its cycle; it may answer the id of a child it touched."""


@dataclass(frozen=True)
class CheckInEntry:
    """One check-in of :meth:`ObjectiveLedger.check_in_many`."""

    objective_id: UUID
    key_result_id: UUID
    value: float
    confidence: int
    note: str = ""
    effective_on: date | None = None


class ObjectiveLedger(QualityLedger):
    def get_objective(self, objective_id: UUID, version: int | None = None) -> Objective:
        return self._load_version(OBJECTIVE, objective_id, version)

    def objective_ancestors(self, objective: Objective | None) -> list[UUID]:
        """The chain of parent objectives above `objective` (bounded against corrupt loops)."""
        chain: list[UUID] = []
        while objective is not None and objective.parent_objective_id and len(chain) < 100:
            chain.append(objective.parent_objective_id)
            objective = self.get_objective(objective.parent_objective_id)
        return chain

    def _objective_and_cycle(
        self, objective_id: UUID, expected_version: int | None = None
    ) -> tuple[Objective, Cycle]:
        objective, cycle = self._load_with(OBJECTIVE, objective_id, lambda o: o.cycle_id, CYCLE)
        self._expect(objective, expected_version)
        return objective, cycle

    def _on_objective(
        self,
        objective_id: UUID,
        expected_version: int | None,
        change: Change,
        extra_id: UUID | None = None,
    ) -> CommandResult:
        """Load → check the expected version → change → commit, for every objective command."""
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        return self._commit(objective, extra_id=change(objective, cycle) or extra_id)

    def _parent(self, parent_objective_id: UUID | None) -> Objective | None:
        if parent_objective_id is None:
            return None
        return self._load(OBJECTIVE, parent_objective_id, "parent_objective_id")

    def draft_objective(
        self,
        *,
        cycle_id: UUID,
        title: str,
        kind: Kind,
        ctx: CommandContext,
        owner_team_id: UUID | None = None,
        owner_person_id: UUID | None = None,
        description: str = "",
        perspective: Perspective | None = None,
        parent_objective_id: UUID | None = None,
        parent_key_result_id: UUID | None = None,
        private: bool = False,
    ) -> CommandResult:
        cycle = self._load(CYCLE, cycle_id, "cycle_id")
        self._owner_exists(owner_team_id, owner_person_id)
        objective = Objective.draft(
            cycle=cycle,
            owner_team_id=owner_team_id,
            owner_person_id=owner_person_id,
            title=title,
            kind=kind,
            description=description,
            perspective=perspective,
            parent=self._parent(parent_objective_id),
            parent_key_result_id=parent_key_result_id,
            private=private,
            ctx=ctx,
        )
        return self._commit(objective)

    def update_objective(
        self,
        objective_id: UUID,
        ctx: CommandContext,
        *,
        title: str | None = None,
        description: str | None = None,
        realign: bool = False,
        parent_objective_id: UUID | None = None,
        parent_key_result_id: UUID | None = None,
        reassign: bool = False,
        owner_team_id: UUID | None = None,
        owner_person_id: UUID | None = None,
        reason: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        """Reword, realign and/or reassign in one atomic change (PATCH /objectives/{id})."""

        def update(objective: Objective, cycle: Cycle) -> None:
            if title is not None or description is not None:
                new_title = title if title is not None else objective.title
                objective.reword(new_title, description, cycle, ctx, reason)
            if realign:
                parent = self._parent(parent_objective_id)
                objective.realign(
                    parent,
                    parent_key_result_id,
                    cycle,
                    ctx,
                    reason,
                    ancestors_of_parent=self.objective_ancestors(parent),
                )
            if reassign:
                self._owner_exists(owner_team_id, owner_person_id)
                objective.reassign(owner_team_id, owner_person_id, cycle, ctx, reason)

        return self._on_objective(objective_id, expected_version, update)

    def abandon_objective(
        self,
        objective_id: UUID,
        reason: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id, expected_version, lambda o, c: o.abandon(reason, c, ctx)
        )

    def add_key_result(
        self,
        objective_id: UUID,
        *,
        title: str,
        measure: Measure,
        ctx: CommandContext,
        baseline: float | None = None,
        target: float | None = None,
        unit: str = "",
        direction: Direction = Direction.INCREASE,
        weight: float = 1.0,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.add_key_result(
                title=title,
                measure=measure,
                baseline=baseline,
                target=target,
                unit=unit,
                direction=direction,
                weight=weight,
                cycle=c,
                ctx=ctx,
            ),
        )

    def update_key_result(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        ctx: CommandContext,
        *,
        title: str | None = None,
        baseline: float | None = None,
        target: float | None = None,
        weight: float | None = None,
        reason: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.update_key_result(
                key_result_id,
                c,
                ctx,
                title=title,
                baseline=baseline,
                target=target,
                weight=weight,
                reason=reason,
            ),
            extra_id=key_result_id,
        )

    def remove_key_result(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        ctx: CommandContext,
        reason: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.remove_key_result(key_result_id, c, ctx, reason),
            extra_id=key_result_id,
        )

    # Negotiation.

    def submit_objective(
        self,
        objective_id: UUID,
        approver_id: UUID,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        def submit(objective: Objective, cycle: Cycle) -> None:
            approver = self._load(PERSON, approver_id, "approver_id")
            require(
                approver.active, "person_inactive", "the approver is deactivated", "approver_id"
            )
            blockers = self._quality_blockers(objective)
            objective.submit_for_approval(approver_id, cycle, ctx, blockers)

        return self._on_objective(objective_id, expected_version, submit)

    def approve_objective(
        self, objective_id: UUID, ctx: CommandContext, expected_version: int | None = None
    ) -> CommandResult:
        return self._on_objective(objective_id, expected_version, lambda o, c: o.approve(c, ctx))

    def request_changes(
        self,
        objective_id: UUID,
        comment: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id, expected_version, lambda o, c: o.request_changes(comment, c, ctx)
        )

    def counter_propose(
        self,
        objective_id: UUID,
        changes: dict[str, Any],
        comment: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.counter_propose(changes, comment, c, ctx),
        )

    def accept_counter_proposal(
        self, objective_id: UUID, ctx: CommandContext, expected_version: int | None = None
    ) -> CommandResult:
        return self._on_objective(
            objective_id, expected_version, lambda o, c: o.accept_counter_proposal(c, ctx)
        )

    def withdraw_objective(
        self, objective_id: UUID, ctx: CommandContext, expected_version: int | None = None
    ) -> CommandResult:
        return self._on_objective(objective_id, expected_version, lambda o, c: o.withdraw(c, ctx))

    # Amendments.

    def propose_amendment(
        self,
        objective_id: UUID,
        changes: dict[str, Any],
        reason: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.propose_amendment(changes, reason, c, ctx),
        )

    def approve_amendment(
        self,
        objective_id: UUID,
        amendment_id: UUID,
        ctx: CommandContext,
        comment: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.approve_amendment(amendment_id, c, ctx, comment),
            extra_id=amendment_id,
        )

    def reject_amendment(
        self,
        objective_id: UUID,
        amendment_id: UUID,
        comment: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.reject_amendment(amendment_id, comment, c, ctx),
            extra_id=amendment_id,
        )

    # Tracking.

    def check_in(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        value: float,
        confidence: int,
        ctx: CommandContext,
        note: str = "",
        effective_on: date | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.check_in(key_result_id, value, confidence, c, ctx, note, effective_on),
        )

    def check_in_many(
        self, entries: Sequence[CheckInEntry], ctx: CommandContext
    ) -> list[CommandResult]:
        """Many check-ins (an imported history) under the same rules as :meth:`check_in`, in
        one atomic write: each objective and its cycle are loaded once, every entry is checked
        by the objective as a single check-in would be, and the changed objectives are saved
        together (the event store's bulk path for a large write). One refused entry refuses
        them all; nothing is written. Answers one result per entry, in order."""
        loaded: dict[UUID, tuple[Objective, Cycle]] = {}
        made: list[tuple[UUID, UUID]] = []
        for entry in entries:
            if entry.objective_id not in loaded:
                loaded[entry.objective_id] = self._objective_and_cycle(entry.objective_id)
            objective, cycle = loaded[entry.objective_id]
            check_in_id = objective.check_in(
                entry.key_result_id,
                entry.value,
                entry.confidence,
                cycle,
                ctx,
                entry.note,
                entry.effective_on,
            )
            made.append((entry.objective_id, check_in_id))
        if not loaded:
            return []
        recordings = self.save(*(objective for objective, _ in loaded.values()))
        position = max((r.notification.id for r in recordings), default=None)
        return [
            CommandResult(objective_id, loaded[objective_id][0].version, position, check_in_id)
            for objective_id, check_in_id in made
        ]

    def correct_check_in(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        check_in_id: UUID,
        value: float,
        reason: str,
        ctx: CommandContext,
        confidence: int | None = None,
        note: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.correct_check_in(
                key_result_id, check_in_id, value, reason, c, ctx, confidence, note
            ),
        )

    # Grading.

    def grade_key_result(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        ctx: CommandContext,
        score: float | None = None,
        achieved: bool | None = None,
        comment: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.grade_key_result(key_result_id, c, ctx, score, achieved, comment),
            extra_id=key_result_id,
        )

    def grade_objective(
        self,
        objective_id: UUID,
        ctx: CommandContext,
        score: float | None = None,
        comment: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id, expected_version, lambda o, c: o.grade(c, ctx, score, comment)
        )

    def reflect(
        self,
        objective_id: UUID,
        text: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id, expected_version, lambda o, c: o.reflect(text, c, ctx)
        )

    def carry_over(
        self,
        objective_id: UUID,
        to_cycle_id: UUID,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Returns the new objective's id; the predecessor is saved in the same atomic write."""
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        to_cycle = self._load(CYCLE, to_cycle_id, "to_cycle_id")
        successor = objective.carry_over(to_cycle, cycle, ctx)
        return self._commit(successor, objective)
