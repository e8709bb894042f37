"""The okrledger application service: one imperative method per command, queries by id.

Each command loads what its rules need, calls the aggregate, and saves every changed aggregate
in one atomic write. It answers with the aggregate's id, its new version and the log position of
the write, so a client can read its own writes from the projections.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, Recording

from domain.access import AccessToken, Role, new_secret, token_id_for
from domain.base import CommandContext, DateAsISO, OkrAggregate
from domain.cycle import Cadence, Cycle, Scoring
from domain.errors import NotFound, clean_text, require, require_choice
from domain.initiative import Initiative, InitiativeStatus, KeyResultRef
from domain.kpi import Kpi
from domain.objective import Kind, Objective, Perspective
from domain.person import Person, person_id_for
from domain.quality import POLICY_ID, Level, ObjectiveSpec, Organisation, QualityPolicy
from domain.quality import blocking as blocking_findings
from domain.quality import lint as lint_objectives
from domain.scoring import Direction, Measure
from domain.strategy import DEFAULT_PERSPECTIVES, STRATEGY_ID, Strategy
from domain.team import MemberRole, Team

A = TypeVar("A", bound=OkrAggregate)

QualityContext = Callable[[UUID], tuple[Sequence[ObjectiveSpec], Organisation]]
"""A cycle's objectives and the team structure, as the read side sees them (for the quality
checks that compare an objective with its neighbours)."""


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
        self.quality_context: QualityContext | None = None
        """Set by the composition root when read models run; without it, submission checks
        only what the objective shows on its own."""

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
        # The result travels with the write: a store that records what a request wrote in
        # the same transaction (an Idempotency-Key, infra/idempotency.py) records it.
        intended = CommandResult(primary.id, primary.version, None, extra_id)
        recordings: list[Recording[UUID]] = self.save(primary, *others, command_result=intended)
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
        self,
        person_id: UUID,
        role: Role,
        ctx: CommandContext,
        label: str = "",
        *,
        expires_at: datetime | None = None,
        read_only: bool = False,
    ) -> tuple[str, CommandResult]:
        """Issue a token (until `expires_at`, for reads only when `read_only`); the secret is
        returned once and never stored."""
        person = self._load(Person, person_id, "person", "person_id")
        require(person.active, "person_inactive", "a deactivated person gets no token", "person_id")
        secret = new_secret()
        token = AccessToken.issue(
            person_id, role, secret, ctx, label, expires_at=expires_at, read_only=read_only
        )
        if person.role == token.role.value:
            return secret, self._commit(token)
        # The role belongs to the person: a token issued with a role gives the person that role,
        # recorded as its own event (tokens issued before roles moved to people keep theirs).
        person.change_role(token.role.value, f"token issued with the role {token.role}", ctx)
        return secret, self._commit(token, person)

    def change_role(
        self, person_id: UUID, role: Role, reason: str, ctx: CommandContext
    ) -> CommandResult:
        """Give a person a role; ``reason`` is `sso:<issuer>`, `scim` or an admin's words."""
        person = self._load(Person, person_id, "person", "person_id")
        person.change_role(require_choice(Role, role, "role").value, reason, ctx)
        return self._commit(person)

    def link_identity(
        self, person_id: UUID, issuer: str, subject: str, ctx: CommandContext
    ) -> CommandResult:
        """Remember that an identity provider knows the person as `subject`."""
        person = self._load(Person, person_id, "person", "person_id")
        person.link_identity(issuer, subject, ctx)
        return self._commit(person)

    def unlink_identity(self, person_id: UUID, issuer: str, ctx: CommandContext) -> CommandResult:
        """Record that an identity provider no longer names the person."""
        person = self._load(Person, person_id, "person", "person_id")
        person.unlink_identity(issuer, ctx)
        return self._commit(person)

    def role_of(self, token: AccessToken) -> Role:
        """The role a token acts with: its person's, or (set before people had roles) its own."""
        person_role = self.get_person(token.person_id).role
        return Role(person_role) if person_role else token.role

    def revoke_token(self, token_id: UUID, reason: str, ctx: CommandContext) -> CommandResult:
        token = self._load(AccessToken, token_id, "token")
        token.revoke(reason, ctx)
        return self._commit(token)

    def authenticate(self, secret: str) -> AccessToken | None:
        """The live token for a secret, or None (unknown, revoked, expired, or its person
        deactivated)."""
        try:
            token = self._load(AccessToken, token_id_for(secret), "token")
        except NotFound:
            return None
        if token.revoked or token.expired() or not self.get_person(token.person_id).active:
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
        objective.submit_for_approval(approver_id, cycle, ctx, self._quality_blockers(objective))
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

    # ---------------------------------------------------------- strategy

    def get_strategy(self, version: int | None = None) -> Strategy:
        return self._load_version(Strategy, STRATEGY_ID, "strategy", version)

    def find_strategy(self) -> Strategy | None:
        try:
            return self.get_strategy()
        except NotFound:
            return None

    def put_strategy(
        self,
        ctx: CommandContext,
        *,
        mission: str,
        vision: str,
        values: Sequence[str],
        themes: Sequence[Mapping[str, Any]],
        perspectives: Sequence[tuple[str, str]] | None = None,
        reason: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        """Define the strategy, or make it say exactly this (PUT /strategy)."""
        strategy = self.find_strategy()
        if strategy is None:
            require(
                expected_version is None,
                "version_mismatch",
                f"expected version {expected_version}, but no strategy is defined yet",
            )
            strategy = Strategy.define(
                ctx,
                mission=mission,
                vision=vision,
                values=values,
                perspectives=perspectives if perspectives is not None else DEFAULT_PERSPECTIVES,
                reason=reason,
            )
            strategy.revise(
                ctx, reason, mission=mission, vision=vision, values=values, themes=themes
            )
            return self._commit(strategy)
        self._expect(strategy, expected_version)
        strategy.revise(
            ctx,
            reason,
            mission=mission,
            vision=vision,
            values=values,
            themes=themes,
            perspectives=perspectives,
        )
        return self._commit(strategy)

    def _strategy_for_north_star(self, ctx: CommandContext) -> Strategy:
        """The strategy names the north star; one with the default perspectives is started if
        none is defined yet."""
        return self.find_strategy() or Strategy.define(ctx, reason="started to name a north star")

    def choose_north_star(
        self, kpi_id: UUID | None, ctx: CommandContext, reason: str = ""
    ) -> CommandResult:
        if kpi_id is not None:
            kpi = self._load(Kpi, kpi_id, "kpi", "kpi_id")
            require(not kpi.retired, "kpi_retired", "a retired KPI cannot be the north star")
        strategy = self._strategy_for_north_star(ctx)
        strategy.choose_north_star(kpi_id, ctx, reason)
        return self._commit(strategy)

    # -------------------------------------------------------------- KPIs

    def get_kpi(self, kpi_id: UUID, version: int | None = None) -> Kpi:
        return self._load_version(Kpi, kpi_id, "kpi", version)

    def define_kpi(
        self,
        *,
        name: str,
        unit: str,
        direction: str,
        owner_person_id: UUID,
        green: float,
        amber: float,
        ctx: CommandContext,
        description: str = "",
        perspective: str | None = None,
        theme_id: UUID | None = None,
        north_star: bool = False,
    ) -> CommandResult:
        """A new KPI; as the north star, it takes over from the previous one in the same write."""
        self._owner_exists(None, owner_person_id)
        strategy = self.find_strategy()
        kpi = Kpi.define(
            name=name,
            unit=unit,
            direction=direction,
            owner_person_id=owner_person_id,
            green=green,
            amber=amber,
            ctx=ctx,
            strategy=strategy,
            description=description,
            perspective=perspective,
            theme_id=theme_id,
        )
        if not north_star:
            return self._commit(kpi)
        strategy = strategy or self._strategy_for_north_star(ctx)
        strategy.choose_north_star(kpi.id, ctx)
        return self._commit(kpi, strategy)

    def update_kpi(
        self,
        kpi_id: UUID,
        ctx: CommandContext,
        *,
        name: str | None = None,
        description: str | None = None,
        owner_person_id: UUID | None = None,
        retag: bool = False,
        perspective: str | None = None,
        theme_id: UUID | None = None,
        reason: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        """Rename, hand over and/or retag in one atomic change (PATCH /kpis/{id})."""
        kpi = self._load(Kpi, kpi_id, "kpi")
        self._expect(kpi, expected_version)
        if name is not None or description is not None:
            kpi.rename(name if name is not None else kpi.name, description, ctx, reason)
        if owner_person_id is not None:
            self._owner_exists(None, owner_person_id)
            kpi.change_owner(owner_person_id, ctx, reason)
        if retag:
            kpi.retag(perspective, theme_id, self.find_strategy(), ctx, reason)
        return self._commit(kpi)

    def change_kpi_thresholds(
        self,
        kpi_id: UUID,
        green: float,
        amber: float,
        reason: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        kpi = self._load(Kpi, kpi_id, "kpi")
        self._expect(kpi, expected_version)
        kpi.change_thresholds(green, amber, ctx, reason)
        return self._commit(kpi)

    def record_measurement(
        self,
        kpi_id: UUID,
        period: str,
        value: float,
        ctx: CommandContext,
        note: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        kpi = self._load(Kpi, kpi_id, "kpi")
        self._expect(kpi, expected_version)
        measurement_id = kpi.record_measurement(period, value, ctx, note)
        return self._commit(kpi, extra_id=measurement_id)

    def correct_measurement(
        self,
        kpi_id: UUID,
        measurement_id: UUID,
        value: float,
        reason: str,
        ctx: CommandContext,
        note: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        kpi = self._load(Kpi, kpi_id, "kpi")
        self._expect(kpi, expected_version)
        correction_id = kpi.correct_measurement(measurement_id, value, ctx, reason, note)
        return self._commit(kpi, extra_id=correction_id)

    def retire_kpi(
        self,
        kpi_id: UUID,
        reason: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Retiring the north star leaves the strategy without one (in the same write)."""
        kpi = self._load(Kpi, kpi_id, "kpi")
        self._expect(kpi, expected_version)
        kpi.retire(ctx, reason)
        strategy = self.find_strategy()
        if strategy is not None and strategy.north_star_kpi_id == kpi.id:
            strategy.choose_north_star(None, ctx, reason)
            return self._commit(kpi, strategy)
        return self._commit(kpi)

    # ------------------------------------------------------- initiatives

    def get_initiative(self, initiative_id: UUID, version: int | None = None) -> Initiative:
        return self._load_version(Initiative, initiative_id, "initiative", version)

    def _live_key_result(self, ref: KeyResultRef, field: str = "key_result_ids") -> None:
        objective = self._load(Objective, ref.objective_id, "objective", field)
        require(
            objective.status.value != "abandoned",
            "objective_abandoned",
            f"objective '{objective.title}' was abandoned",
            field,
        )
        objective.key_result(ref.key_result_id)

    def launch_initiative(
        self,
        *,
        title: str,
        owner_person_id: UUID,
        key_results: Sequence[KeyResultRef],
        ctx: CommandContext,
        description: str = "",
    ) -> CommandResult:
        self._owner_exists(None, owner_person_id)
        for ref in key_results:
            self._live_key_result(ref)
        initiative = Initiative.launch(
            title=title,
            owner_person_id=owner_person_id,
            key_results=key_results,
            ctx=ctx,
            description=description,
        )
        return self._commit(initiative)

    def update_initiative(
        self,
        initiative_id: UUID,
        ctx: CommandContext,
        *,
        title: str | None = None,
        description: str | None = None,
        owner_person_id: UUID | None = None,
        status: InitiativeStatus | None = None,
        note: str = "",
        reason: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        """Retitle, hand over, move its status and/or add a note (PATCH /initiatives/{id})."""
        initiative = self._load(Initiative, initiative_id, "initiative")
        self._expect(initiative, expected_version)
        if title is not None or description is not None:
            initiative.retitle(
                title if title is not None else initiative.title, description, ctx, reason
            )
        if owner_person_id is not None:
            self._owner_exists(None, owner_person_id)
            initiative.change_owner(owner_person_id, ctx, reason)
        if status is not None:
            initiative.change_status(status, ctx, note, reason)
        elif note.strip():
            initiative.add_note(note, ctx)
        return self._commit(initiative)

    def link_initiative(
        self,
        initiative_id: UUID,
        ref: KeyResultRef,
        ctx: CommandContext,
        reason: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        initiative = self._load(Initiative, initiative_id, "initiative")
        self._expect(initiative, expected_version)
        self._live_key_result(ref, "key_result_id")
        initiative.link_key_result(ref, ctx, reason)
        return self._commit(initiative)

    def unlink_initiative(
        self,
        initiative_id: UUID,
        ref: KeyResultRef,
        ctx: CommandContext,
        reason: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        initiative = self._load(Initiative, initiative_id, "initiative")
        self._expect(initiative, expected_version)
        initiative.unlink_key_result(ref, ctx, reason)
        return self._commit(initiative)

    # ----------------------------------------- objectives in the strategy

    def tag_objective(
        self,
        objective_id: UUID,
        theme_id: UUID | None,
        ctx: CommandContext,
        reason: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        if theme_id is not None:
            strategy = self.find_strategy()
            require(
                strategy is not None,
                "theme_not_found",
                "no strategy is defined yet, so there are no themes",
                "theme_id",
            )
            assert strategy is not None
            strategy.theme(theme_id)
        objective.tag_theme(theme_id, cycle, ctx, reason)
        return self._commit(objective)

    def link_key_result_to_kpi(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        kpi_id: UUID | None,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Link a key result to a KPI (None unlinks it)."""
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        if kpi_id is None:
            objective.unlink_key_result_from_kpi(key_result_id, cycle, ctx)
        else:
            kpi = self._load(Kpi, kpi_id, "kpi", "kpi_id")
            require(not kpi.retired, "kpi_retired", f"KPI '{kpi.name}' is retired", "kpi_id")
            objective.link_key_result_to_kpi(key_result_id, kpi.id, kpi.unit, cycle, ctx)
        return self._commit(objective, extra_id=key_result_id)

    def check_in_from_kpi(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        confidence: int,
        ctx: CommandContext,
        note: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        """A check-in with the value of the linked KPI's latest measurement, effective at the
        end of its period (or today, or the cycle's end, whichever comes first)."""
        objective, cycle = self._objective_and_cycle(objective_id, expected_version)
        kr = objective.key_result(key_result_id)
        require(
            kr.kpi_id is not None,
            "key_result_not_linked",
            f"key result '{kr.title}' follows no KPI",
            "key_result_id",
        )
        assert kr.kpi_id is not None
        kpi = self._load(Kpi, kr.kpi_id, "kpi", "kpi_id")
        latest = kpi.latest
        require(latest is not None, "kpi_not_measured", f"KPI '{kpi.name}' has no measurement yet")
        assert latest is not None
        effective = min(latest.ends_on, ctx.now().date(), cycle.ends_on)
        require(
            effective >= cycle.starts_on,
            "kpi_measurement_before_cycle",
            f"the latest measurement of '{kpi.name}' ({latest.period}) is from before the cycle",
            "key_result_id",
        )
        text = clean_text(note, "note") or f"From KPI '{kpi.name}', {latest.period}."
        check_in_id = objective.check_in(
            key_result_id, latest.value, confidence, cycle, ctx, text, effective
        )
        return self._commit(objective, extra_id=check_in_id)

    # ----------------------------------------------------- quality coach

    def find_quality_policy(self) -> QualityPolicy | None:
        try:
            return self._load(QualityPolicy, POLICY_ID, "quality_policy")
        except NotFound:
            return None

    def quality_levels(self) -> dict[str, str]:
        """Check → off | warn | block (every check warns until configured)."""
        policy = self.find_quality_policy()
        return (
            policy.as_dict() if policy else QualityPolicy.adopt(CommandContext.system()).as_dict()
        )

    def configure_quality_check(
        self, check: str, level: str, ctx: CommandContext, reason: str = ""
    ) -> CommandResult:
        policy = self.find_quality_policy() or QualityPolicy.adopt(ctx)
        policy.configure(check, level, ctx, reason)
        return self._commit(policy)

    def _quality_blockers(self, objective: Objective) -> list[Any]:
        """The quality findings that keep `objective` from being submitted (only checks set to
        block are looked at)."""
        levels = self.quality_levels()
        if Level.BLOCK.value not in levels.values():
            return []
        peers: Sequence[ObjectiveSpec] = ()
        organisation = Organisation()
        if self.quality_context is not None:
            peers, organisation = self.quality_context(objective.cycle_id)
        specs = [p for p in peers if p.objective_id != objective.id] + [objective.quality_spec()]
        findings = lint_objectives(
            specs, organisation=organisation, levels=levels, only=objective.id
        )
        return blocking_findings(findings, objective.id)
