"""The story: the plot of three quarters over the stage (organisation, cycles, objectives,
negotiations, carry-overs), run from its agenda in time order, and `load_demo`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import Recording

from demo.data import (
    NORTH_STAR,
    PEOPLE,
    PEOPLE_BY_KEY,
    TEAM_MANAGER,
    TEAM_PARENT,
    TEAMS,
    PersonSpec,
    rounded,
)
from demo.objectives import OBJECTIVES, KrSpec, ObjSpec
from demo.stage import StoryCycle, StoryKr, StoryObjective, at, fridays
from demo.strategy import StrategyActs
from demo.summary import ADMIN_EMAIL, DEFAULT_TODAY, DemoSummary, PlantedWeakOkr
from demo.tracking import Tracking
from domain.application import OkrLedger
from domain.cycle import Cadence, Scoring
from domain.scoring import clamp
from domain.team import MemberRole


class Story(Tracking, StrategyActs):
    # ------------------------------------------------------------------ the plot

    def plot(self) -> None:
        first = self.cycles[0]
        self.schedule(at(first.starts_on - timedelta(days=30), 8), self.found_organisation)
        for cycle in self.cycles:
            self.plot_cycle(cycle)
        c0, c1 = self.cycles[0], self.cycles[1]
        # People come and go; a team gets a new name; a closed quarter is reopened once.
        self.schedule(at(c1.starts_on + timedelta(days=12), 10), self.rename_people_team)
        self.schedule(at(c1.starts_on + timedelta(days=33), 9), self.mei_joins)
        self.schedule(at(c1.starts_on + timedelta(days=44), 11), self.ben_leaves)
        self.schedule(at(c0.ends_on + timedelta(days=20), 10), self.reopen_first_cycle)
        self.plot_strategy()

    def plot_cycle(self, cycle: StoryCycle) -> None:
        s, e = cycle.starts_on, cycle.ends_on
        self.schedule(at(s - timedelta(days=24), 9), lambda: self.plan_cycle(cycle))
        stage_day = {0: -23, 1: -21, 2: -19, 3: -16}
        specs = [sp for sp in OBJECTIVES if cycle.q in sp.cycles]
        scenarios = self.scenarios(cycle, specs)
        for i, spec in enumerate(specs):
            first_cycle = cycle.q == spec.cycles[0]
            if spec.carry and not first_cycle:
                self.schedule(
                    at(s - timedelta(days=18), 10 + i % 6), self.carry_action(cycle, spec)
                )
                continue
            if spec.late is not None:
                when = at(s + timedelta(days=spec.late[0]), 10 + i % 5)
            else:
                day = stage_day[self.stage(spec)] + (i % 4 if self.stage(spec) == 3 else 0)
                when = at(s + timedelta(days=day), 10 + i % 6, 5 * (i % 10))
            scenario = spec.late[1] if spec.late else scenarios[spec.key]
            self.schedule(when, self.draft_action(cycle, spec, scenario))
        self.schedule(at(s, 7), lambda: self.start_cycle(cycle))
        for week, friday in enumerate(fridays(s, e), start=1):
            self.schedule(at(friday, 15), self.check_in_action(cycle, week))
        for k in range(4 + (1 if cycle.q == 2 else 0)):
            when = at(s + timedelta(days=33 + 5 * k), 11)
            self.schedule(when, self.amendment_action(cycle, k))
        if cycle.q == 1:
            self.schedule(at(s + timedelta(days=40), 14), self.abandon_channel)
        if cycle.q < 2:
            self.schedule(at(e + timedelta(days=1), 8), lambda: self.open_grading(cycle))
            self.schedule(at(e + timedelta(days=1), 10), lambda: self.final_numbers(cycle))
            self.schedule(at(e + timedelta(days=2), 9), lambda: self.grade_all(cycle))
            self.schedule(at(e + timedelta(days=7), 10), lambda: self.adjust_grades(cycle))
            self.schedule(at(e + timedelta(days=9), 17), lambda: self.close_cycle(cycle))

    def stage(self, spec: ObjSpec) -> int:
        if not spec.team_owned:
            return 3
        parent = TEAM_PARENT[spec.owner_key]
        return 0 if parent is None else (1 if parent == "acme" else 2)

    def scenarios(self, cycle: StoryCycle, specs: list[ObjSpec]) -> dict[str, str]:
        """How each objective's negotiation goes; every kind occurs in every cycle."""
        keys = [
            sp.key for sp in specs if sp.late is None and not (sp.carry and cycle.q != sp.cycles[0])
        ]
        n = len(keys)
        kinds = (
            ["counter_accept"] * max(2, n // 8)
            + ["counter_revise"] * max(2, n // 10)
            + ["changes"] * max(2, n // 8)
            + ["withdraw"]
        )
        kinds = kinds[:n] + ["approve"] * (n - len(kinds))
        self.rng.shuffle(kinds)
        return dict(zip(keys, kinds, strict=True))

    # ------------------------------------------------------------ organisation

    def found_organisation(self) -> None:
        app = self.app
        app.register_person("Dana Whitfield", ADMIN_EMAIL, self.ctx("admin"))
        self.counts["people"] += 1
        for person in PEOPLE:
            if person.key != "admin" and person.joins_in == 0:
                self.register(person)
        for key, name, parent in TEAMS:
            parent_id = self.team_ids[parent] if parent else None
            result = app.form_team(name, self.ctx("admin"), parent_id=parent_id)
            self.team_ids[key] = result.id
            self.counts["teams"] += 1
        for person in PEOPLE:
            if person.team and person.joins_in == 0:
                self.join(person)

    def register(self, person: PersonSpec) -> None:
        self.app.register_person(person.name, person.email, self.ctx("admin"))
        self.counts["people"] += 1

    def join(self, person: PersonSpec) -> None:
        assert person.team is not None
        role = MemberRole.MANAGER if person.manager else MemberRole.MEMBER
        self.app.add_team_member(
            self.team_ids[person.team], self.pid(person.key), role, self.ctx("admin")
        )
        self.members[person.team].append(person.key)
        parent = TEAM_PARENT[person.team]
        if person.manager and parent is not None:
            self.app.add_team_member(
                self.team_ids[parent], self.pid(person.key), MemberRole.MEMBER, self.ctx("admin")
            )
            self.members[parent].append(person.key)

    def rename_people_team(self) -> None:
        self.app.rename_team(self.team_ids["people"], "Talent", self.ctx("admin"))

    def mei_joins(self) -> None:
        mei = PEOPLE_BY_KEY["mei"]
        self.register(mei)
        self.join(mei)

    def ben_leaves(self) -> None:
        obj = self.objectives.get((1, "experiments"))
        if obj is not None and obj.status == "approved":
            self.app.update_objective(
                obj.id,
                self.ctx("elena"),
                reassign=True,
                owner_person_id=self.pid("mei"),
                reason="Ben left Acme; Mei takes over the activation experiments.",
            )
            obj.author = "mei"
            obj.spec = replace(obj.spec, owner="person:mei")
        self.app.remove_team_member(self.team_ids["growth"], self.pid("ben"), self.ctx("admin"))
        self.members["growth"].remove("ben")
        self.app.deactivate_person(
            self.pid("ben"), "Left Acme at the end of August.", self.ctx("admin")
        )

    # ------------------------------------------------------------------ cycles

    def plan_cycle(self, cycle: StoryCycle) -> None:
        result = self.app.plan_cycle(
            cycle.name,
            cycle.starts_on,
            cycle.ends_on,
            self.ctx("admin"),
            cadence=Cadence.WEEKLY,
            scoring=Scoring.SCALE,
        )
        cycle.id = result.id
        self.counts["cycles"] += 1

    def start_cycle(self, cycle: StoryCycle) -> None:
        assert cycle.id is not None
        self.app.start_cycle(cycle.id, self.ctx("admin"))

    def open_grading(self, cycle: StoryCycle) -> None:
        assert cycle.id is not None
        self.app.open_grading(cycle.id, self.ctx("admin"))

    def close_cycle(self, cycle: StoryCycle) -> None:
        assert cycle.id is not None
        self.app.close_cycle(cycle.id, self.ctx("admin"))

    def reopen_first_cycle(self) -> None:
        """A grade was wrong after closing: reopen with a reason, fix it, close again."""
        cycle = self.cycles[0]
        assert cycle.id is not None
        self.app.reopen_cycle(
            cycle.id,
            "The Sales EMEA grade was entered before the last deal was booked.",
            self.ctx("admin"),
        )
        obj = self.objectives.get((0, "dach"))
        if obj is not None and obj.status == "approved":
            kr = obj.krs[0]
            self.regrade(
                obj,
                kr,
                rounded(clamp(self.kr_progress(kr) + 0.2), 1),
                "Regraded: the Munich contract was signed on the last day of the quarter.",
                "Recomputed after the key result was regraded.",
            )
        self.app.close_cycle(cycle.id, self.ctx("admin"))

    # --------------------------------------------------------------- objectives

    def owner_of(self, spec: ObjSpec) -> tuple[str, str]:
        """(author, approver) as person keys: who drafts it and who approves it."""
        if spec.team_owned:
            team = spec.owner_key
            if team == "acme":
                return "tom", "maya"
            parent = TEAM_PARENT[team]
            assert parent is not None
            return TEAM_MANAGER[team], TEAM_MANAGER[parent]
        person = PEOPLE_BY_KEY[spec.owner_key]
        assert person.team is not None
        if person.manager:
            parent = TEAM_PARENT[person.team]
            return person.key, TEAM_MANAGER[parent] if parent else "maya"
        return person.key, TEAM_MANAGER[person.team]

    def parent_ids(self, cycle: StoryCycle, spec: ObjSpec) -> tuple[UUID | None, UUID | None]:
        if spec.parent is None:
            return None, None
        parent = self.objectives.get((cycle.q, spec.parent))
        if parent is None or parent.status == "abandoned":
            return None, None
        kr_id = parent.krs[spec.parent_kr].id if spec.parent_kr is not None else None
        return parent.id, kr_id

    def draft_action(self, cycle: StoryCycle, spec: ObjSpec, scenario: str) -> Callable[[], None]:
        def action() -> None:
            assert cycle.id is not None
            author, approver = self.owner_of(spec)
            parent_id, parent_kr_id = self.parent_ids(cycle, spec)
            result = self.app.draft_objective(
                cycle_id=cycle.id,
                title=spec.title,
                kind=spec.kind,
                ctx=self.ctx(author),
                owner_team_id=self.team_ids[spec.owner_key] if spec.team_owned else None,
                owner_person_id=None if spec.team_owned else self.pid(spec.owner_key),
                description=spec.description,
                perspective=spec.perspective,
                parent_objective_id=parent_id,
                parent_key_result_id=parent_kr_id,
                private=spec.private,
            )
            obj = StoryObjective(spec, cycle.q, result.id, author, approver, [])
            self.objectives[(cycle.q, spec.key)] = obj
            cycle.objectives.append(obj)
            self.counts["objectives"] += 1
            for kr_spec in spec.krs:
                if kr_spec.cycles is None or cycle.q in kr_spec.cycles:
                    self.add_kr(cycle, obj, kr_spec)
            self.place_in_strategy(obj)
            if spec.weak and spec.weak != "owner_overloaded":
                self.planted.append(PlantedWeakOkr(spec.weak, spec.weak_note, objective_id=obj.id))
            elif spec.weak == "owner_overloaded" and not any(
                p.kind == spec.weak for p in self.planted
            ):
                self.planted.append(
                    PlantedWeakOkr(
                        spec.weak, spec.weak_note, owner_person_id=self.pid(spec.owner_key)
                    )
                )
            self.negotiate(obj, scenario)

        return action

    def add_kr(self, cycle: StoryCycle, obj: StoryObjective, spec: KrSpec) -> None:
        baseline, target = spec.values_for(cycle.q)
        result = self.app.add_key_result(
            obj.id,
            title=spec.title_for(cycle.q),
            measure=spec.measure,
            ctx=self.ctx(obj.author),
            baseline=baseline,
            target=target,
            unit=spec.unit,
            direction=spec.direction,
            weight=spec.weight,
        )
        assert result.extra_id is not None
        kr = self.mirror_kr(obj, spec, result.extra_id, result.extra_id, baseline, target)
        obj.krs.append(kr)
        self.counts["key_results"] += 1
        if spec.weak:
            note = {
                "task_kr": "a key result that reads as a task, not an outcome",
                "metric_without_measure": "a metric key result with no unit and a 0 → 1 'target'",
            }.get(spec.weak, spec.weak)
            self.planted.append(
                PlantedWeakOkr(spec.weak, note, objective_id=obj.id, key_result_id=result.extra_id)
            )

    # -------------------------------------------------------------- negotiation

    def negotiate(self, obj: StoryObjective, scenario: str) -> None:
        """Submit now; the approver and the contributor answer over the next days."""
        if scenario == "draft":
            return
        app = self.app
        app.submit_objective(obj.id, self.pid(obj.approver), self.ctx(obj.author))
        obj.status = "in_review"
        if scenario == "in_review":
            return

        def approve() -> None:
            app.approve_objective(obj.id, self.ctx(obj.approver))
            obj.status = "approved"

        def resubmit_then_approve() -> None:
            app.submit_objective(obj.id, self.pid(obj.approver), self.ctx(obj.author))
            self.later(1, 9, approve)

        if scenario == "approve":
            self.later(1 + self.jitter.random(), 10, approve)
        elif scenario == "changes":

            def request() -> None:
                kr = self.pick_metric(obj)
                comment = (
                    f"'{kr.title}' needs a baseline we can verify; where does it come from?"
                    if kr
                    else "Please make the key results measurable."
                )
                app.request_changes(obj.id, comment, self.ctx(obj.approver))
                self.later(1, 11, revise)

            def revise() -> None:
                kr = self.pick_metric(obj)
                if kr is not None:
                    app.update_key_result(
                        obj.id,
                        kr.id,
                        self.ctx(obj.author),
                        title=f"{kr.title} (from the BI dashboard)",
                        reason="Named the data source, as asked.",
                    )
                    kr.title = f"{kr.title} (from the BI dashboard)"
                else:
                    app.update_objective(
                        obj.id, self.ctx(obj.author), description="Scope agreed with the team."
                    )
                resubmit_then_approve()

            self.later(1, 14, request)
        elif scenario in ("counter_accept", "counter_revise"):
            countered: list[tuple[StoryKr, float]] = []  # (key result, proposed target)

            def counter() -> None:
                kr = self.pick_metric(obj)
                if kr is None:
                    approve()
                    return
                assert kr.baseline is not None and kr.target is not None
                span = kr.target - kr.baseline
                factor = self.rng.choice((1.2, 1.3, 0.85))
                proposed = rounded(kr.baseline + span * factor, kr.decimals)
                if proposed == kr.target:
                    proposed = kr.target + (1 if span > 0 else -1)
                app.counter_propose(
                    obj.id,
                    {"key_results": {str(kr.id): {"target": proposed}}},
                    "Let's aim for a bolder target here."
                    if factor > 1
                    else "This target is not realistic with the people we have.",
                    self.ctx(obj.approver),
                )
                countered.append((kr, proposed))
                self.later(1, 10, accept if scenario == "counter_accept" else meet_halfway)

            def accept() -> None:
                kr, proposed = countered[0]
                app.accept_counter_proposal(obj.id, self.ctx(obj.author))
                kr.target = proposed
                obj.status = "approved"

            def meet_halfway() -> None:
                kr, proposed = countered[0]
                assert kr.target is not None
                halfway = rounded((kr.target + proposed) / 2, kr.decimals)
                if halfway in (kr.target, proposed):
                    halfway = proposed
                app.update_key_result(
                    obj.id,
                    kr.id,
                    self.ctx(obj.author),
                    target=halfway,
                    reason="Met the counter-proposal halfway.",
                )
                kr.target = halfway
                resubmit_then_approve()

            self.later(1, 15, counter)
        elif scenario == "withdraw":

            def withdraw() -> None:
                app.withdraw_objective(obj.id, self.ctx(obj.author))
                app.update_objective(
                    obj.id,
                    self.ctx(obj.author),
                    description=obj.spec.description or "Reworded after a first review.",
                )
                resubmit_then_approve()

            self.later(0.2, 16, withdraw)

    def pick_metric(self, obj: StoryObjective) -> StoryKr | None:
        candidates = [kr for kr in obj.krs if kr.metric_moves]
        return candidates[0] if candidates else None

    # ------------------------------------------------------------------ carry-over

    def carry_action(self, cycle: StoryCycle, spec: ObjSpec) -> Callable[[], None]:
        def action() -> None:
            source = self.objectives.get((cycle.q - 1, spec.key))
            if source is None or source.status != "approved":
                return
            assert cycle.id is not None
            result = self.app.carry_over(source.id, cycle.id, self.ctx(source.author))
            self.counts["carry_overs"] += 1
            self.counts["objectives"] += 1
            author, approver = self.owner_of(spec)
            obj = StoryObjective(
                spec, cycle.q, result.id, author, approver, [], carried_from=source
            )
            self.objectives[(cycle.q, spec.key)] = obj
            cycle.objectives.append(obj)
            by_title = {k.title_for(source.q): k for k in spec.krs}
            for kr in self.app.get_objective(result.id).active_key_results:
                kr_spec = by_title.get(kr.title)
                mirrored = self.mirror_live(obj, kr_spec, kr)
                mirrored.title = kr.title
                obj.krs.append(mirrored)
                self.counts["key_results"] += 1
            carried = {k.title for k in obj.krs}
            for kr_spec in spec.krs:
                fresh = not isinstance(kr_spec.title, str)
                if fresh and kr_spec.title_for(cycle.q) not in carried:
                    self.add_kr(cycle, obj, kr_spec)
            parent_id, parent_kr_id = self.parent_ids(cycle, spec)
            if parent_id is not None:
                self.app.update_objective(
                    obj.id,
                    self.ctx(author),
                    realign=True,
                    parent_objective_id=parent_id,
                    parent_key_result_id=parent_kr_id,
                )
            self.negotiate(obj, "approve")

        return action

    def abandon_channel(self) -> None:
        obj = self.objectives.get((1, "channel"))
        if obj is None or obj.status != "approved":
            return
        self.app.abandon_objective(
            obj.id,
            "The referral partner pulled out; the budget moves to self-serve checkout.",
            self.ctx("elena"),
        )
        obj.status = "abandoned"

    # ------------------------------------------------------------------ the end

    def summary(self, events_written: int) -> DemoSummary:
        ids = tuple(c.id for c in self.cycles if c.id is not None)
        return DemoSummary(
            already_loaded=False,
            admin_person_id=self.pid("admin"),
            cycle_ids=ids,
            cycle_names=tuple(c.name for c in self.cycles if c.id is not None),
            events_written=events_written,
            planted=tuple(self.planted),
            north_star_kpi_id=self.kpi_ids.get(NORTH_STAR),
            **self.counts,
        )


HistoryClock = Callable[[datetime], AbstractContextManager[Callable[[datetime], None]]]
"""Records the writes made in its block as committed at a given instant, and yields a function
that moves that instant on: `infra.chain.importing_history` for the chained PostgreSQL store."""

Saves = Sequence[tuple[datetime | None, Sequence[DomainEventProtocol[UUID]]]]
"""Every save of a story, in order: the instant it is committed at and its events."""

HistoryWriter = Callable[[Saves], int]
"""Writes a story's saves in one go, each committed at its instant (floored, never going
back), and answers how many events it wrote: `infra.bulk.history_writer` for the chained
PostgreSQL store."""


class Rehearsal(OkrLedger):
    """An in-memory ledger the story plays on first: it keeps each save's events with the
    instant the store would have committed them at (the story's history clock)."""

    def __init__(self, app: OkrLedger) -> None:
        env: dict[str, str] = {
            "PERSISTENCE_MODULE": "eventsourcing.popo",
            # Commands load from a cache (copies) instead of replaying each aggregate.
            self.AGGREGATE_CACHE_MAXSIZE: "1000",
            self.AGGREGATE_CACHE_FASTFORWARD: "y",
        }
        if app.person_id_secret is not None:
            # The same person ids as the store's own commands would give.
            env[self.PERSON_ID_SECRET] = app.person_id_secret.hex()
        super().__init__(env)
        self.clock: datetime | None = None
        self.saves: list[tuple[datetime | None, list[DomainEventProtocol[UUID]]]] = []

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        recordings = super().save(*objs, **kwargs)
        self.saves.append((self.clock, [r.domain_event for r in recordings]))
        return recordings

    def move_clock(self, to: datetime) -> None:
        self.clock = to


def load_demo(
    app: OkrLedger,
    seed: int = 7,
    today: date | None = None,
    *,
    history_clock: HistoryClock | None = None,
    history_writer: HistoryWriter | None = None,
) -> DemoSummary:
    """Load the demo organisation into `app`, unless it is already there.

    `today` (default 2026-11-24) decides which quarter is active; the two before it are closed.
    The demo counts as loaded once its admin person exists. With `history_clock`, every event is
    committed at the story's simulated instant, so time travel shows the moments it describes;
    without it (an in-memory store has no commit times), at the moment it is written.

    With `history_writer` (the bulk path), the story plays its commands on an in-memory
    rehearsal of `app` first (the same rules, the same person ids) and the writer then writes
    every save's events in one transaction, each committed at the story's instant, as
    `history_clock` would have: the same events in the same order, thousands of times fewer
    transactions.
    """
    admin = app.find_person_by_email(ADMIN_EMAIL)
    if admin is not None:
        return DemoSummary(already_loaded=True, admin_person_id=admin.id)
    if history_writer is not None:
        rehearsal = Rehearsal(app)
        story = Story(rehearsal, seed, today or DEFAULT_TODAY)
        story.plot()
        rehearsal.move_clock(story.now)
        story.advance_import_clock = rehearsal.move_clock
        story.run()
        return story.summary(history_writer(rehearsal.saves))
    story = Story(app, seed, today or DEFAULT_TODAY)
    before = app.recorder.max_notification_id() or 0
    story.plot()
    if history_clock is None:
        story.run()
    else:
        with history_clock(story.now) as advance_import_clock:
            story.advance_import_clock = advance_import_clock
            story.run()
    after = app.recorder.max_notification_id() or 0
    return story.summary(after - before)
