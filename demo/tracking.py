"""The tracking and grading acts of the story: weekly check-ins (some late, some wrong and
corrected), amendments that move targets, grades and their adjustments.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from uuid import UUID

from demo.data import (
    NOTES_DOWN,
    NOTES_FLAT,
    NOTES_UP,
    OVERRIDE_COMMENTS,
    REFLECTIONS_HIGH,
    REFLECTIONS_LOW,
    REFLECTIONS_MID,
    rounded,
)
from demo.stage import Stage, StoryCycle, StoryKr, StoryObjective, fridays
from domain.objective import Kind
from domain.scoring import Direction, Measure, clamp, progress


class Tracking(Stage):
    # ----------------------------------------------------------------- tracking

    def tracked(self, cycle: StoryCycle) -> list[StoryObjective]:
        return [o for o in cycle.objectives if o.status == "approved"]

    def reporter(self, obj: StoryObjective) -> str:
        if not obj.spec.team_owned:
            return obj.author
        team = obj.spec.owner_key
        candidates = [m for m in self.members[team] if m != "ben"] or [obj.author]
        return self.rng.choice(candidates)

    def check_in_action(self, cycle: StoryCycle, week: int) -> Callable[[], None]:
        weeks = len(fridays(cycle.starts_on, cycle.ends_on))

        def action() -> None:
            friday = self.now.date()
            for obj in self.tracked(cycle):
                for kr in obj.krs:
                    if kr.stall_week is not None and week > kr.stall_week:
                        continue
                    self.advance(kr, week, weeks)
                    roll = self.rng.random()
                    if roll < 0.1:
                        continue  # skipped this week
                    late = roll < 0.18
                    typo = self.rng.random() < 0.012 or (week == 2 and cycle.corrections == 0)
                    value, confidence, note = self.reading(kr, week, weeks)
                    if late:
                        self.later(
                            3, 9, self.report(obj, kr, value, confidence, note, friday, typo)
                        )
                    else:
                        self.report(obj, kr, value, confidence, note, friday, typo)()
                    if typo:
                        cycle.corrections += 1

        return action

    def advance(self, kr: StoryKr, week: int, weeks: int) -> None:
        """One step of the key result's random walk towards where it will end up."""
        expected = kr.final * (week / weeks) ** kr.shape
        kr.p += (expected - kr.p) * 0.6 + self.rng.gauss(0, 0.05)
        kr.p = max(-0.15, min(1.2, kr.p))
        pace = kr.p / max(week / weeks, 0.08)
        feels = clamp(2 + 7 * min(pace, 1.15), 0, 10)
        drift = 1 if feels > kr.confidence + 0.5 else -1 if feels < kr.confidence - 0.5 else 0
        noise = self.rng.choices((-1, 0, 1), weights=(2, 6, 2))[0]
        kr.confidence = int(clamp(kr.confidence + drift + noise, 0, 10))

    def reading(self, kr: StoryKr, week: int, weeks: int) -> tuple[float, int, str]:
        if kr.measure == Measure.MILESTONE:
            kr.done = kr.done or kr.p >= 0.95
            value = 1.0 if kr.done else 0.0
        elif kr.direction in (Direction.INCREASE, Direction.DECREASE):
            assert kr.baseline is not None and kr.target is not None
            value = rounded(kr.baseline + kr.p * (kr.target - kr.baseline), kr.decimals)
            if kr.cumulative and kr.last_value is not None:
                value = max(value, kr.last_value)
        else:
            assert kr.target is not None
            sign = 1 if kr.direction == Direction.AT_LEAST else -1
            value = rounded(kr.target + sign * (kr.p - 0.85) * kr.spread, kr.decimals)
        ceiling = 100.0 if kr.unit == "%" and (kr.target or 0.0) <= 100.0 else value
        value = max(0.0, min(value, ceiling))
        previous = kr.last_value
        kr.last_value = value
        note = ""
        if self.rng.random() < 0.6:
            moved = 0.0 if previous is None else value - previous
            if kr.direction in (Direction.DECREASE, Direction.AT_MOST):
                moved = -moved
            pool = NOTES_UP if moved > 0 else NOTES_DOWN if moved < 0 else NOTES_FLAT
            note = self.rng.choice(pool)
        return value, kr.confidence, note

    def report(
        self,
        obj: StoryObjective,
        kr: StoryKr,
        value: float,
        confidence: int,
        note: str,
        effective_on: date,
        typo: bool,
    ) -> Callable[[], None]:
        def action() -> None:
            if obj.status != "approved":
                return
            entered = value
            if typo:
                entered = (1.0 - value) if kr.measure == Measure.MILESTONE else self.typo(value)
            result = self.app.check_in(
                obj.id,
                kr.id,
                entered,
                confidence,
                self.ctx(self.reporter(obj)),
                note=note,
                effective_on=effective_on,
            )
            self.counts["check_ins"] += 1
            if typo:
                assert result.extra_id is not None
                self.later(3, 9, self.correct(obj, kr, result.extra_id, entered, value))

        return action

    def typo(self, value: float) -> float:
        return value * 10 if value else value + 10

    def correct(
        self, obj: StoryObjective, kr: StoryKr, check_in_id: UUID, wrong: float, right: float
    ) -> Callable[[], None]:
        def action() -> None:
            if obj.status != "approved":
                return
            if kr.measure == Measure.MILESTONE:
                reason = "Ticked done by mistake." if wrong else "Forgot to tick it done."
            elif self.rng.random() < 0.5:
                reason = f"Typo: entered {wrong:g} instead of {right:g}."
            else:
                reason = "Wrong dashboard filter: the figure included test accounts."
            self.app.correct_check_in(
                obj.id, kr.id, check_in_id, right, reason, self.ctx(self.reporter(obj))
            )
            self.counts["corrections"] += 1

        return action

    def amendment_action(self, cycle: StoryCycle, k: int) -> Callable[[], None]:
        """Weeks five to eight: targets move through amendments, with reasons."""
        kind = ("eased", "raised", "rejected", "scope", "pending")[k]

        def action() -> None:
            candidates = [
                o
                for o in self.tracked(cycle)
                if not o.amended and any(kr.metric_moves for kr in o.krs)
            ]
            if not candidates:
                return
            obj = self.rng.choice(candidates)
            obj.amended = True
            kr = next(kr for kr in obj.krs if kr.metric_moves)
            assert kr.baseline is not None and kr.target is not None
            span = kr.target - kr.baseline
            if kind in ("eased", "pending"):
                new_target = rounded(kr.baseline + span * 0.75, kr.decimals)
                reason = "A dependency slipped by six weeks; the original target is out of reach."
            else:
                new_target = rounded(kr.baseline + span * 1.25, kr.decimals)
                reason = "We reached the target early; raising the bar for the rest of the quarter."
            if new_target in (kr.target, kr.baseline):
                new_target = kr.target + (1 if span > 0 else -1)
            changes: dict[str, object] = {"key_results": {str(kr.id): {"target": new_target}}}
            if kind == "scope":
                changes = {
                    "add_key_results": [
                        {
                            "title": "Customers on the new plan",
                            "measure": "metric",
                            "baseline": 0,
                            "target": 40,
                            "unit": "customers",
                            "direction": "increase",
                        }
                    ]
                }
                reason = "The pricing change adds a new outcome we are accountable for."

            def decide() -> None:
                if obj.status != "approved":
                    return
                if kind == "rejected":
                    self.app.reject_amendment(
                        obj.id,
                        amendment_id,
                        "Keep the target: the quarter is not over and the plan still holds.",
                        self.ctx(obj.approver),
                    )
                    return
                self.app.approve_amendment(
                    obj.id, amendment_id, self.ctx(obj.approver), comment="Agreed."
                )
                if kind == "scope":
                    known = {kr.id for kr in obj.krs}
                    for live in self.app.get_objective(obj.id).active_key_results:
                        if live.id not in known:
                            obj.krs.append(self.mirror_live(obj, None, live))
                            self.counts["key_results"] += 1
                else:
                    kr.target = new_target

            result = self.app.propose_amendment(obj.id, changes, reason, self.ctx(obj.author))
            self.counts["amendments"] += 1
            assert result.extra_id is not None
            amendment_id = result.extra_id
            if kind != "pending":
                self.later(2, 10, decide)

        return action

    # ------------------------------------------------------------------ grading

    def kr_progress(self, kr: StoryKr) -> float:
        return progress(kr.measure, kr.direction, kr.baseline, kr.target, kr.last_value)

    def final_numbers(self, cycle: StoryCycle) -> None:
        """In the grading week, some owners report the final numbers for the last day."""
        for obj in self.tracked(cycle):
            for kr in obj.krs:
                if kr.stall_week is None and kr.last_value is not None and self.rng.random() < 0.4:
                    self.advance(kr, 14, 13)
                    value, confidence, _ = self.reading(kr, 13, 13)
                    self.app.check_in(
                        obj.id,
                        kr.id,
                        value,
                        confidence,
                        self.ctx(self.reporter(obj)),
                        note="Final numbers for the quarter.",
                        effective_on=cycle.ends_on,
                    )
                    self.counts["check_ins"] += 1

    def grade_all(self, cycle: StoryCycle) -> None:
        for i, obj in enumerate(self.tracked(cycle)):
            self.later(i % 4, 9 + i % 8, self.grade_action(obj))

    def grade_action(self, obj: StoryObjective) -> Callable[[], None]:
        def action() -> None:
            rng = self.rng
            app = self.app
            grader = obj.author if obj.author != "ben" else "elena"
            for kr in obj.krs:
                suggested = rounded(clamp(self.kr_progress(kr)), 1)
                if rng.random() < 0.12:
                    delta = rng.choice((-0.3, -0.2, 0.2, 0.3))
                    score = rounded(clamp(suggested + delta), 1)
                    if abs(score - suggested) > 0.05:
                        app.grade_key_result(
                            obj.id,
                            kr.id,
                            self.ctx(grader),
                            score=score,
                            comment=rng.choice(OVERRIDE_COMMENTS),
                        )
                        continue
                app.grade_key_result(obj.id, kr.id, self.ctx(grader))
            computed = self.computed_score(obj)
            if obj.spec.kind == Kind.ASPIRATIONAL and rng.random() < 0.3:
                score = rounded(clamp(computed + rng.choice((-0.15, 0.15))), 2)
                app.grade_objective(
                    obj.id,
                    self.ctx(grader),
                    score=score,
                    comment="A stretch goal: the key results miss what the team actually learned.",
                )
            else:
                app.grade_objective(obj.id, self.ctx(grader))
            pool = (
                REFLECTIONS_HIGH
                if computed >= 0.7
                else REFLECTIONS_MID
                if computed >= 0.4
                else REFLECTIONS_LOW
            )
            app.reflect(obj.id, rng.choice(pool), self.ctx(grader))

        return action

    def computed_score(self, obj: StoryObjective) -> float:
        objective = self.app.get_objective(obj.id)
        return objective.computed_score or 0.0

    def adjust_grades(self, cycle: StoryCycle) -> None:
        """Managers adjust a few self-assessed grades, with a comment."""
        graded = [o for o in self.tracked(cycle) if o.krs]
        for obj in self.rng.sample(graded, k=min(3, len(graded))):
            kr = obj.krs[-1]
            current = self.app.get_objective(obj.id).key_results[kr.id].score or 0.0
            score = rounded(clamp(current - 0.2 if current >= 0.2 else current + 0.2), 1)
            self.regrade(
                obj,
                kr,
                score,
                "Adjusted by the manager: the evidence in the review does not support the self-assessment.",
                "Recomputed after the manager's adjustment.",
            )

    def regrade(
        self, obj: StoryObjective, kr: StoryKr, score: float, why: str, objective_note: str
    ) -> None:
        """The approver grades one key result again, and the objective's score follows."""
        self.app.grade_key_result(obj.id, kr.id, self.ctx(obj.approver), score=score, comment=why)
        self.app.grade_objective(obj.id, self.ctx(obj.approver), comment=objective_note)
