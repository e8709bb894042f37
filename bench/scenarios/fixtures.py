"""Objectives to check in on: a bench team's approved objectives in the demo's active cycle.

Every objective is drafted, given three key results, submitted and approved through the
application's own commands before a round starts, and takes at most `per_objective`
check-ins: an objective's check-ins load all its events (no snapshots), so a benchmark that
piled thousands of check-ins on a few objectives would measure an unrealistic aggregate (a
quarter of weekly check-ins on 3-5 key results is about 50 events).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from uuid import UUID, uuid4

from domain.access import Role
from domain.application import OkrLedger
from domain.base import CommandContext
from domain.objective import Kind
from domain.scoring import Direction, Measure
from domain.team import MemberRole


@dataclass
class Slot:
    objective_id: UUID
    key_results: list[UUID]
    used: int = 0

    def next_key_result(self) -> UUID:
        kr = self.key_results[self.used % len(self.key_results)]
        self.used += 1
        return kr


class Objectives:
    def __init__(self, app: OkrLedger, cycle_id: UUID, per_objective: int = 40) -> None:
        self.app = app
        self.cycle_id = cycle_id
        self.per_objective = per_objective
        tag = uuid4().hex[:6]
        system = CommandContext.system()
        self.manager = app.register_person(
            f"Bench Manager {tag}", f"bench-manager-{tag}@bench.example", system
        ).id
        self.member = app.register_person(
            f"Bench Member {tag}", f"bench-member-{tag}@bench.example", system
        ).id
        self.team = app.form_team(f"Bench team {tag}", system).id
        app.add_team_member(self.team, self.manager, MemberRole.MANAGER, system)
        app.add_team_member(self.team, self.member, MemberRole.MEMBER, system)
        self._ready: queue.SimpleQueue[Slot] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.created = 0

    def member_token(self) -> str:
        secret, _ = self.app.issue_token(
            self.member, Role.MEMBER, CommandContext.system(), label="bench"
        )
        return secret

    def admin_token(self, admin_person_id: UUID) -> str:
        secret, _ = self.app.issue_token(
            admin_person_id, Role.ADMIN, CommandContext.system(), label="bench"
        )
        return secret

    def prepare(self, check_ins: int, writers: int) -> None:
        """Have enough fresh objectives for `check_ins` check-ins by `writers` writers."""
        needed = -(-check_ins // self.per_objective) + writers
        while self._ready.qsize() < needed:
            self._ready.put(self._create())

    def take(self) -> Slot:
        try:
            return self._ready.get_nowait()
        except queue.Empty:
            with self._lock:
                return self._create()

    def _create(self) -> Slot:
        app, member = self.app, CommandContext(actor=str(self.member))
        self.created += 1
        objective = app.draft_objective(
            cycle_id=self.cycle_id,
            title=f"Make onboarding delightful for every new customer ({self.created})",
            kind=Kind.COMMITTED,
            ctx=member,
            owner_team_id=self.team,
        ).id
        krs = []
        for i, title in enumerate(
            ("Raise weekly active teams", "Cut time to first value", "Lift activation rate")
        ):
            kr = app.add_key_result(
                objective,
                title=f"{title} (bench {i})",
                measure=Measure.METRIC,
                baseline=0.0,
                target=100.0,
                unit="%",
                direction=Direction.INCREASE,
                ctx=member,
            ).extra_id
            assert kr is not None
            krs.append(kr)
        app.submit_objective(objective, self.manager, member)
        app.approve_objective(objective, CommandContext(actor=str(self.manager)))
        return Slot(objective, krs)


class Writer:
    """One writer's stream of (objective, key result) pairs, moving to a fresh objective
    when the current one has had its share of check-ins."""

    def __init__(self, objectives: Objectives) -> None:
        self.objectives = objectives
        self.slot = objectives.take()

    def next(self) -> tuple[UUID, UUID]:
        if self.slot.used >= self.objectives.per_objective:
            self.slot = self.objectives.take()
        return self.slot.objective_id, self.slot.next_key_result()
