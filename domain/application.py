"""The okrledger application service: one imperative method per command, queries by id.

Each command loads what its rules need, calls the aggregate, and saves every changed aggregate
in one atomic write. It answers with the aggregate's id, its new version and the log position of
the write, so a client can read its own writes from the projections.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, Recording

from domain.access import AccessToken, Role, new_secret, token_id_for
from domain.base import CommandContext, DateAsISO, OkrAggregate
from domain.cycle import Cadence, Cycle, Scoring
from domain.errors import NotFound, require
from domain.objective import Kind, Objective, Perspective
from domain.person import Person, person_id_for
from domain.scoring import Direction, Measure
from domain.team import MemberRole, Team

A = TypeVar("A", bound=OkrAggregate)


@dataclass(frozen=True)
class CommandResult:
    """What every command answers: the aggregate, its version, and where the write landed."""

    id: UUID
    version: int
    position: int | None
    extra_id: UUID | None = None
    """A child entity the command created (a key result, a check-in, an amendment)."""


class OkrLedger(Application[UUID]):
    name = "okrledger"

    PERSON_ID_SECRET = "PERSON_ID_SECRET"
    """Environment key: the hex secret that keys person ids (see ``person_id_for``)."""

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        secret = self.env.get(self.PERSON_ID_SECRET)
        self.person_id_secret: bytes | None = bytes.fromhex(secret) if secret else None

    def person_id_for(self, email: str, generation: int = 0) -> UUID:
        """The id a person registered with ``email`` has in this deployment."""
        return person_id_for(email, self.person_id_secret, generation)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ---------------------------------------------------------------- helpers

    def _load(self, cls: type[A], aggregate_id: UUID, kind: str, field: str | None = None) -> A:
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(kind, aggregate_id, field) from None
        if not isinstance(aggregate, cls):
            raise NotFound(kind, aggregate_id, field)
        return aggregate

    def _commit(
        self, primary: OkrAggregate, *others: OkrAggregate, extra_id: UUID | None = None
    ) -> CommandResult:
        recordings: list[Recording[UUID]] = self.save(primary, *others)
        position = max((r.notification.id for r in recordings), default=None)
        return CommandResult(primary.id, primary.version, position, extra_id)

    def _expect(self, aggregate: OkrAggregate, expected_version: int | None) -> None:
        """Optimistic concurrency at the edge: If-Match names the version the client saw."""
        require(
            expected_version is None or aggregate.version == expected_version,
            "version_mismatch",
            f"expected version {expected_version}, current version is {aggregate.version}",
        )

    # ------------------------------------------------------------ queries

    def get_person(self, person_id: UUID, version: int | None = None) -> Person:
        return self._load_version(Person, person_id, "person", version)

    def find_person_by_email(self, email: str) -> Person | None:
        return self._email_slot(email)[0]

    def _email_slot(self, email: str) -> tuple[Person | None, UUID]:
        """The live person registered with ``email``, and the id a new registration would take.

        A forgotten person keeps their id; the address starts a new generation, so it can be
        registered again and looks never used.
        """
        for generation in itertools.count():
            person_id = self.person_id_for(email, generation)
            try:
                person = self.get_person(person_id)
            except NotFound:
                return None, person_id
            if not person.forgotten:
                return person, person_id
        raise AssertionError("unreachable")

    def get_team(self, team_id: UUID, version: int | None = None) -> Team:
        return self._load_version(Team, team_id, "team", version)

    def get_cycle(self, cycle_id: UUID, version: int | None = None) -> Cycle:
        return self._load_version(Cycle, cycle_id, "cycle", version)

    def get_objective(self, objective_id: UUID, version: int | None = None) -> Objective:
        return self._load_version(Objective, objective_id, "objective", version)

    def _load_version(self, cls: type[A], aggregate_id: UUID, kind: str, version: int | None) -> A:
        if version is None:
            return self._load(cls, aggregate_id, kind)
        try:
            aggregate: object = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(kind, aggregate_id) from None
        if not isinstance(aggregate, cls):
            raise NotFound(kind, aggregate_id)
        return aggregate

    def objective_ancestors(self, objective: Objective | None) -> list[UUID]:
        """The chain of parent objectives above `objective` (bounded against corrupt loops)."""
        chain: list[UUID] = []
        while objective is not None and objective.parent_objective_id and len(chain) < 100:
            chain.append(objective.parent_objective_id)
            objective = self.get_objective(objective.parent_objective_id)
        return chain

    def team_ancestors(self, team_id: UUID | None) -> list[UUID]:
        """The chain of parent teams above `team_id`, nearest first (bounded against loops)."""
        chain: list[UUID] = []
        while team_id is not None and len(chain) < 100:
            chain.append(team_id)
            team_id = self.get_team(team_id).parent_id
        return chain

    # ------------------------------------------------------------ people

    def register_person(self, name: str, email: str, ctx: CommandContext) -> CommandResult:
        existing, person_id = self._email_slot(email)
        require(existing is None, "email_taken", f"{email} is already registered", "email")
        return self._commit(Person.register(name, email, ctx, person_id))

    def rename_person(self, person_id: UUID, name: str, ctx: CommandContext) -> CommandResult:
        person = self._load(Person, person_id, "person")
        person.rename(name, ctx)
        return self._commit(person)

    def forget_person(
        self, person_id: UUID, number: int, reason: str, ctx: CommandContext
    ) -> CommandResult:
        """Record that a person's personal data was erased; the persistence edge erases it."""
        person = self._load(Person, person_id, "person")
        person.forget(number, reason, ctx)
        return self._commit(person)

    def deactivate_person(self, person_id: UUID, reason: str, ctx: CommandContext) -> CommandResult:
        person = self._load(Person, person_id, "person")
        person.deactivate(reason, ctx)
        return self._commit(person)

    def reactivate_person(self, person_id: UUID, reason: str, ctx: CommandContext) -> CommandResult:
        person = self._load(Person, person_id, "person")
        person.reactivate(reason, ctx)
        return self._commit(person)

    # ------------------------------------------------------------ access

    def issue_token(
        self, person_id: UUID, role: Role, ctx: CommandContext, label: str = ""
    ) -> tuple[str, CommandResult]:
        """Issue a token; the secret is returned once and never stored."""
        person = self._load(Person, person_id, "person", "person_id")
        require(person.active, "person_inactive", "a deactivated person gets no token", "person_id")
        secret = new_secret()
        return secret, self._commit(AccessToken.issue(person_id, role, secret, ctx, label))

    def revoke_token(self, token_id: UUID, reason: str, ctx: CommandContext) -> CommandResult:
        token = self._load(AccessToken, token_id, "token")
        token.revoke(reason, ctx)
        return self._commit(token)

    def authenticate(self, secret: str) -> AccessToken | None:
        """The live token for a secret, or None (unknown, revoked, or its person deactivated)."""
        try:
            token = self._load(AccessToken, token_id_for(secret), "token")
        except NotFound:
            return None
        if token.revoked or not self.get_person(token.person_id).active:
            return None
        return token

    # ------------------------------------------------------------- teams

    def form_team(
        self, name: str, ctx: CommandContext, parent_id: UUID | None = None
    ) -> CommandResult:
        if parent_id is not None:
            parent = self._load(Team, parent_id, "team", "parent_id")
            require(not parent.disbanded, "team_disbanded", "parent team is disbanded", "parent_id")
        return self._commit(Team.form(name, parent_id, ctx))

    def rename_team(self, team_id: UUID, name: str, ctx: CommandContext) -> CommandResult:
        team = self._load(Team, team_id, "team")
        team.rename(name, ctx)
        return self._commit(team)

    def move_team(
        self, team_id: UUID, parent_id: UUID | None, ctx: CommandContext
    ) -> CommandResult:
        team = self._load(Team, team_id, "team")
        if parent_id is not None:
            parent = self._load(Team, parent_id, "team", "parent_id")
            require(not parent.disbanded, "team_disbanded", "parent team is disbanded", "parent_id")
        team.move(parent_id, self.team_ancestors(parent_id), ctx)
        return self._commit(team)

    def add_team_member(
        self, team_id: UUID, person_id: UUID, role: MemberRole, ctx: CommandContext
    ) -> CommandResult:
        team = self._load(Team, team_id, "team")
        person = self._load(Person, person_id, "person", "person_id")
        require(
            person.active, "person_inactive", "a deactivated person cannot join a team", "person_id"
        )
        team.add_member(person_id, role, ctx)
        return self._commit(team)

    def change_member_role(
        self, team_id: UUID, person_id: UUID, role: MemberRole, ctx: CommandContext
    ) -> CommandResult:
        team = self._load(Team, team_id, "team")
        team.change_member_role(person_id, role, ctx)
        return self._commit(team)

    def remove_team_member(
        self, team_id: UUID, person_id: UUID, ctx: CommandContext
    ) -> CommandResult:
        team = self._load(Team, team_id, "team")
        team.remove_member(person_id, ctx)
        return self._commit(team)

    def disband_team(self, team_id: UUID, reason: str, ctx: CommandContext) -> CommandResult:
        team = self._load(Team, team_id, "team")
        team.disband(reason, ctx)
        return self._commit(team)

    # ------------------------------------------------------------ cycles

    def plan_cycle(
        self,
        name: str,
        starts_on: date,
        ends_on: date,
        ctx: CommandContext,
        cadence: Cadence = Cadence.WEEKLY,
        scoring: Scoring = Scoring.SCALE,
        success_threshold: float = 0.7,
    ) -> CommandResult:
        return self._commit(
            Cycle.plan(name, starts_on, ends_on, cadence, scoring, ctx, success_threshold)
        )

    def start_cycle(self, cycle_id: UUID, ctx: CommandContext) -> CommandResult:
        cycle = self._load(Cycle, cycle_id, "cycle")
        cycle.start(ctx)
        return self._commit(cycle)

    def open_grading(self, cycle_id: UUID, ctx: CommandContext) -> CommandResult:
        cycle = self._load(Cycle, cycle_id, "cycle")
        cycle.open_grading(ctx)
        return self._commit(cycle)

    def close_cycle(self, cycle_id: UUID, ctx: CommandContext) -> CommandResult:
        cycle = self._load(Cycle, cycle_id, "cycle")
        cycle.close(ctx)
        return self._commit(cycle)

    def reopen_cycle(self, cycle_id: UUID, reason: str, ctx: CommandContext) -> CommandResult:
        cycle = self._load(Cycle, cycle_id, "cycle")
        cycle.reopen(reason, ctx)
        return self._commit(cycle)

    # -------------------------------------------------------- objectives

    def _objective_and_cycle(
        self, objective_id: UUID, expected_version: int | None = None
    ) -> tuple[Objective, Cycle]:
        objective = self._load(Objective, objective_id, "objective")
        self._expect(objective, expected_version)
        return objective, self._load(Cycle, objective.cycle_id, "cycle")

    def _owner_exists(self, owner_team_id: UUID | None, owner_person_id: UUID | None) -> None:
        if owner_team_id is not None:
            team = self._load(Team, owner_team_id, "team", "owner_team_id")
            require(
                not team.disbanded,
                "team_disbanded",
                "the owning team is disbanded",
                "owner_team_id",
            )
        if owner_person_id is not None:
            person = self._load(Person, owner_person_id, "person", "owner_person_id")
            require(person.active, "person_inactive", "the owner is deactivated", "owner_person_id")

    def _parent(self, parent_objective_id: UUID | None) -> Objective | None:
        if parent_objective_id is None:
            return None
        return self._load(Objective, parent_objective_id, "objective", "parent_objective_id")

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
        cycle = self._load(Cycle, cycle_id, "cycle", "cycle_id")
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
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        if title is not None or description is not None:
            objective.reword(
                title if title is not None else objective.title, description, cycle, ctx, reason
            )
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
        return self._commit(objective)

    def abandon_objective(
        self,
        objective_id: UUID,
        reason: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.abandon(reason, cycle, ctx)
        return self._commit(objective)

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
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        kr_id = objective.add_key_result(
            title=title,
            measure=measure,
            baseline=baseline,
            target=target,
            unit=unit,
            direction=direction,
            weight=weight,
            cycle=cycle,
            ctx=ctx,
        )
        return self._commit(objective, extra_id=kr_id)

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
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.update_key_result(
            key_result_id,
            cycle,
            ctx,
            title=title,
            baseline=baseline,
            target=target,
            weight=weight,
            reason=reason,
        )
        return self._commit(objective, extra_id=key_result_id)

    def remove_key_result(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        ctx: CommandContext,
        reason: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.remove_key_result(key_result_id, cycle, ctx, reason)
        return self._commit(objective, extra_id=key_result_id)

    # Negotiation.

    def submit_objective(
        self,
        objective_id: UUID,
        approver_id: UUID,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        approver = self._load(Person, approver_id, "person", "approver_id")
        require(approver.active, "person_inactive", "the approver is deactivated", "approver_id")
        objective.submit_for_approval(approver_id, cycle, ctx)
        return self._commit(objective)

    def approve_objective(
        self, objective_id: UUID, ctx: CommandContext, expected_version: int | None = None
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.approve(cycle, ctx)
        return self._commit(objective)

    def request_changes(
        self,
        objective_id: UUID,
        comment: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.request_changes(comment, cycle, ctx)
        return self._commit(objective)

    def counter_propose(
        self,
        objective_id: UUID,
        changes: dict[str, Any],
        comment: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.counter_propose(changes, comment, cycle, ctx)
        return self._commit(objective)

    def accept_counter_proposal(
        self, objective_id: UUID, ctx: CommandContext, expected_version: int | None = None
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.accept_counter_proposal(cycle, ctx)
        return self._commit(objective)

    def withdraw_objective(
        self, objective_id: UUID, ctx: CommandContext, expected_version: int | None = None
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.withdraw(cycle, ctx)
        return self._commit(objective)

    # Amendments.

    def propose_amendment(
        self,
        objective_id: UUID,
        changes: dict[str, Any],
        reason: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        amendment_id = objective.propose_amendment(changes, reason, cycle, ctx)
        return self._commit(objective, extra_id=amendment_id)

    def approve_amendment(
        self,
        objective_id: UUID,
        amendment_id: UUID,
        ctx: CommandContext,
        comment: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.approve_amendment(amendment_id, cycle, ctx, comment)
        return self._commit(objective, extra_id=amendment_id)

    def reject_amendment(
        self,
        objective_id: UUID,
        amendment_id: UUID,
        comment: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.reject_amendment(amendment_id, comment, cycle, ctx)
        return self._commit(objective, extra_id=amendment_id)

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
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        check_in_id = objective.check_in(
            key_result_id, value, confidence, cycle, ctx, note, effective_on
        )
        return self._commit(objective, extra_id=check_in_id)

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
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        correction_id = objective.correct_check_in(
            key_result_id, check_in_id, value, reason, cycle, ctx, confidence, note
        )
        return self._commit(objective, extra_id=correction_id)

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
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.grade_key_result(key_result_id, cycle, ctx, score, achieved, comment)
        return self._commit(objective, extra_id=key_result_id)

    def grade_objective(
        self,
        objective_id: UUID,
        ctx: CommandContext,
        score: float | None = None,
        comment: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.grade(cycle, ctx, score, comment)
        return self._commit(objective)

    def reflect(
        self,
        objective_id: UUID,
        text: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        objective.reflect(text, cycle, ctx)
        return self._commit(objective)

    def carry_over(
        self,
        objective_id: UUID,
        to_cycle_id: UUID,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Returns the new objective's id; the predecessor is saved in the same atomic write."""
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        to_cycle = self._load(Cycle, to_cycle_id, "cycle", "to_cycle_id")
        successor = objective.carry_over(to_cycle, cycle, ctx)
        return self._commit(successor, objective)
