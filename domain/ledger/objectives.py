"""Objectives and their key results: drafting, negotiation, amendments, check-ins, grading,
carrying over. Every change loads the objective and its cycle once (`_on_objective`).

Most commands are the objective's own methods, made ledger commands by `objective_command`
(`approve_objective = objective_command(Objective.approve)`: `ledger.approve_objective(
objective_id, ctx)`); a change that needs more than the objective and its cycle (another
aggregate, the quality policy) is a ledger method made a command by `objective_change`. Either
takes the expected version apart: `ledger.approve_objective.expecting(3)(objective_id, ctx)`
(see `domain/ledger/command.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Concatenate, ParamSpec, TypeVar, Unpack
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.base import CommandContext
from domain.cycle import Cycle
from domain.errors import OkrError, require
from domain.ledger.base import CYCLE, OBJECTIVE, PERSON, CommandResult
from domain.ledger.command import Command, ledger_command
from domain.ledger.quality import QualityLedger
from domain.objective import Objective, ObjectiveChange, ObjectiveDraft

Change = Callable[[Objective, Cycle], UUID | None]
"""A change to an objective, given its cycle; it may answer the id of a child it touched."""

L = TypeVar("L", bound="ObjectiveLedger")
P = ParamSpec("P")


def objective_command(
    change: Callable[Concatenate[Objective, Cycle, P], UUID | None],
) -> Command[ObjectiveLedger, P]:
    """The objective's own method as the ledger's command: `(objective_id, *its arguments)`;
    the ledger hands it the objective's cycle."""

    def on_ledger(
        ledger: ObjectiveLedger,
        objective: Objective,
        cycle: Cycle,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> UUID | None:
        return change(objective, cycle, *args, **kwargs)

    return _on_objective(on_ledger, change, 2)


def objective_change(
    change: Callable[Concatenate[L, Objective, Cycle, P], UUID | None],
) -> Command[L, P]:
    """A ledger method `(self, objective, cycle, *arguments)` as the command
    `(objective_id, *arguments)`."""
    return _on_objective(change, change, 3)


def _on_objective(
    change: Callable[Concatenate[L, Objective, Cycle, P], UUID | None],
    described: Callable[..., object],
    takes: int,
) -> Command[L, P]:
    def run(
        ledger: L, objective_id: UUID, expected: int | None, /, *args: P.args, **kwargs: P.kwargs
    ) -> CommandResult:
        return ledger._on_objective(
            objective_id, expected, lambda o, c: change(ledger, o, c, *args, **kwargs)
        )

    return Command(run, described, takes, "objective_id")


def _cycle_of(objective: Objective) -> UUID:
    return objective.cycle_id


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
        self, objective_id: UUID, expected_version: int | None, change: Change
    ) -> CommandResult:
        """Load → check the expected version → change → commit, for every objective command.

        When the objective and its cycle are cached, the command is first decided on them
        as cached, with no read of the store, and committed only if neither has moved on
        (`_on_cached`); otherwise, or when that is refused, it is decided on the store's
        state (the pair's new events read in one query)."""
        cached = self._cached_copies(Objective, objective_id, _cycle_of, Cycle)
        if cached is not None:
            result = self._on_cached(*cached, expected_version, change)
            if result is not None:
                return result
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        return self._commit(objective, extra_id=change(objective, cycle))

    def _on_cached(
        self, objective: Objective, cycle: Cycle, expected_version: int | None, change: Change
    ) -> CommandResult | None:
        """The command decided on cached copies and committed on the condition that the
        cycle has not moved on (the objective's own save is refused if it has). None, with
        nothing written, when the decision may rest on a cache behind the store: the save
        was refused (another writer moved the objective or its cycle on), the command was
        refused (its refusal must come from the stored state), or it changed nothing (its
        answer would name a version the store may have passed)."""
        try:
            self._expect(objective, expected_version)
            extra_id = change(objective, cycle)
        except OkrError:
            return None
        if not objective.pending_events:
            return None
        try:
            return self._commit(objective, extra_id=extra_id, unchanged=cycle)
        except IntegrityError:
            return None

    def _parent(self, parent_objective_id: UUID | None) -> Objective | None:
        if parent_objective_id is None:
            return None
        return self._load(OBJECTIVE, parent_objective_id, "parent_objective_id")

    def draft_objective(
        self,
        *,
        cycle_id: UUID,
        ctx: CommandContext,
        parent_objective_id: UUID | None = None,
        **draft: Unpack[ObjectiveDraft],
    ) -> CommandResult:
        cycle = self._load(CYCLE, cycle_id, "cycle_id")
        self._owner_exists(draft.get("owner_team_id"), draft.get("owner_person_id"))
        parent = self._parent(parent_objective_id)
        return self._commit(Objective.draft(cycle=cycle, ctx=ctx, parent=parent, **draft))

    @objective_change
    def update_objective(
        self,
        objective: Objective,
        cycle: Cycle,
        ctx: CommandContext,
        **change: Unpack[ObjectiveChange],
    ) -> None:
        """Reword, realign and/or reassign in one atomic change (PATCH /objectives/{id})."""
        title, description = change.get("title"), change.get("description")
        reason = change.get("reason", "")
        if title is not None or description is not None:
            new_title = title if title is not None else objective.title
            objective.reword(cycle, new_title, description, ctx, reason)
        if change.get("realign", False):
            parent = self._parent(change.get("parent_objective_id"))
            objective.realign(
                cycle,
                parent,
                change.get("parent_key_result_id"),
                ctx,
                reason,
                ancestors_of_parent=self.objective_ancestors(parent),
            )
        if change.get("reassign", False):
            owner_team_id, owner_person_id = (
                change.get("owner_team_id"),
                change.get("owner_person_id"),
            )
            self._owner_exists(owner_team_id, owner_person_id)
            objective.reassign(cycle, owner_team_id, owner_person_id, ctx, reason)

    # Drafting.

    abandon_objective = objective_command(Objective.abandon)
    add_key_result = objective_command(Objective.add_key_result)
    update_key_result = objective_command(Objective.update_key_result)
    remove_key_result = objective_command(Objective.remove_key_result)

    # Negotiation.

    @objective_change
    def submit_objective(
        self, objective: Objective, cycle: Cycle, approver_id: UUID, ctx: CommandContext
    ) -> None:
        approver = self._load(PERSON, approver_id, "approver_id")
        require(approver.active, "person_inactive", "the approver is deactivated", "approver_id")
        blockers = self._quality_blockers(objective)
        objective.submit_for_approval(cycle, approver_id, ctx, blockers)

    approve_objective = objective_command(Objective.approve)
    request_changes = objective_command(Objective.request_changes)
    counter_propose = objective_command(Objective.counter_propose)
    accept_counter_proposal = objective_command(Objective.accept_counter_proposal)
    withdraw_objective = objective_command(Objective.withdraw)

    # Amendments.

    propose_amendment = objective_command(Objective.propose_amendment)
    approve_amendment = objective_command(Objective.approve_amendment)
    reject_amendment = objective_command(Objective.reject_amendment)

    # Tracking.

    check_in = objective_command(Objective.check_in)

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
                cycle,
                entry.key_result_id,
                entry.value,
                entry.confidence,
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

    correct_check_in = objective_command(Objective.correct_check_in)

    # Grading.

    grade_key_result = objective_command(Objective.grade_key_result)
    grade_objective = objective_command(Objective.grade)
    reflect = objective_command(Objective.reflect)

    # Carry-over.

    @ledger_command
    def carry_over(
        self,
        objective_id: UUID,
        expected_version: int | None,
        to_cycle_id: UUID,
        ctx: CommandContext,
    ) -> CommandResult:
        """Returns the new objective's id; the predecessor is saved in the same atomic write."""
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        to_cycle = self._load(CYCLE, to_cycle_id, "to_cycle_id")
        successor = objective.carry_over(to_cycle, cycle, ctx)
        return self._commit(successor, objective)
