"""The application on a real PostgreSQL: round trips, optimistic concurrency, past versions and
log positions.

Uses the session's embedded server through the `es_env` fixture (a fresh database per test).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from domain.access import AccessToken, Role, new_secret
from domain.application import CommandResult, OkrLedger
from domain.cycle import Cadence, Cycle, Phase, Scoring
from domain.errors import RuleViolated
from domain.objective import Objective
from domain.person import Person
from domain.scoring import Direction
from domain.team import MemberRole, Team
from tests.unit.builders import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    Q2_END,
    Q2_START,
    TODAY,
    an_objective,
    an_org,
    ctx,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def second_app(open_ledger: Callable[[], OkrLedger]) -> OkrLedger:
    """Another application instance on the same database (another process, in production)."""
    return open_ledger()


def round_trip(app: OkrLedger, aggregate: Any) -> Any:
    """Save an aggregate with its pending events; reload it from PostgreSQL."""
    assert aggregate.pending_events, "nothing to save"
    app.save(aggregate)
    return app.repository.get(aggregate.id)


class TestRoundTrip:
    def test_person(self, app: OkrLedger) -> None:
        person = Person.register("Alice Liddell", "Alice@Example.com", ctx(ADMIN))
        person.rename("Alice L.", ctx(ADMIN))
        person.deactivate("parental leave", ctx(ADMIN))
        person.reactivate("back", ctx(ADMIN))
        assert round_trip(app, person) == person

    def test_team(self, app: OkrLedger) -> None:
        parent = Team.form("Company", None, ctx(ADMIN))
        team = Team.form("Platform", parent.id, ctx(ADMIN))
        team.add_member(ALICE, MemberRole.MEMBER, ctx(ADMIN))
        team.add_member(BOB, MemberRole.MEMBER, ctx(ADMIN))
        team.change_member_role(BOB, MemberRole.MANAGER, ctx(ADMIN))
        team.add_member(CAROL, MemberRole.MEMBER, ctx(ADMIN))
        team.remove_member(CAROL, ctx(ADMIN))
        team.rename("Core Platform", ctx(ADMIN))
        team.move(None, [], ctx(ADMIN))
        team.disband("merged", ctx(ADMIN))
        assert round_trip(app, parent) == parent
        reloaded = round_trip(app, team)
        assert reloaded == team
        assert reloaded.members == {ALICE: MemberRole.MEMBER, BOB: MemberRole.MANAGER}

    def test_cycle(self, app: OkrLedger) -> None:
        cycle = Cycle.plan(
            "2025-Q2", Q2_START, Q2_END, ctx(ADMIN), Cadence.BIWEEKLY, Scoring.YES_NO, 0.8
        )
        cycle.start(ctx(ADMIN))
        cycle.open_grading(ctx(ADMIN))
        cycle.close(ctx(ADMIN))
        cycle.reopen("late fix", ctx(ADMIN))
        reloaded = round_trip(app, cycle)
        assert reloaded == cycle
        assert (reloaded.starts_on, reloaded.phase, reloaded.scoring) == (
            Q2_START,
            Phase.GRADING,
            Scoring.YES_NO,
        )

    def test_access_token(self, app: OkrLedger) -> None:
        token = AccessToken.issue(ALICE, Role.AUDITOR, new_secret(), ctx(ADMIN), label="ci")
        token.revoke("rotated", ctx(ADMIN))
        assert round_trip(app, token) == token

    def test_objective_through_its_whole_life(self, app: OkrLedger) -> None:
        """Every kind of objective event, including nested change sets and bitemporal dates."""
        given = (
            an_objective()
            .with_kr(title="Users", baseline=100, target=200)
            .with_kr(title="Latency", baseline=None, target=300, direction=Direction.AT_MOST)
            .with_milestone("Launch")
            .build(settle=False)
        )
        o, c = given.objective, given.cycle
        kr_users, kr_latency, kr_launch = given.kr_ids
        o.reword(c, "Delight customers", "every one", ctx(ALICE))
        o.update_key_result(c, kr_users, ctx(ALICE), title="WAU", target=250, weight=2)
        o.submit_for_approval(c, BOB, ctx(ALICE))
        o.counter_propose(
            c,
            {
                "key_results": {str(kr_users): {"target": 300}},
                "add_key_results": [{"title": "NPS", "baseline": 20, "target": 40}],
            },
            "bolder",
            ctx(BOB),
        )
        o.accept_counter_proposal(c, ctx(ALICE))
        amendment = o.propose_amendment(
            c, {"remove_key_results": [str(kr_latency)]}, "measured elsewhere", ctx(ALICE)
        )
        o.approve_amendment(c, amendment, ctx(BOB), "fine")
        rejected = o.propose_amendment(c, {"title": "Smaller"}, "too hard", ctx(ALICE))
        o.reject_amendment(c, rejected, "keep it", ctx(BOB))
        c.start(ctx(ADMIN))
        first = o.check_in(c, kr_users, 180, 6, ctx(ALICE), "slow", TODAY - timedelta(days=30))
        o.correct_check_in(c, kr_users, first, 170, "typo", ctx(ALICE), 5)
        o.check_in(c, kr_launch, 1, 9, ctx(ALICE))
        c.open_grading(ctx(ADMIN))
        for kr in o.active_key_results:
            o.grade_key_result(c, kr.id, ctx(ALICE), score=0.5, comment="calibrated")
        o.grade(c, ctx(BOB), score=0.6, comment="adjusted")
        o.reflect(c, "We learned.", ctx(ALICE))

        reloaded = round_trip(app, o)

        assert reloaded == o
        assert reloaded.version == o.version == len(list(app.events.get(o.id)))
        assert reloaded.key_results[kr_users].check_ins[0].effective_on == (
            TODAY - timedelta(days=30)
        )
        assert reloaded.approved_content_hash == o.approved_content_hash
        assert isinstance(reloaded, Objective)

    def test_carry_over_writes_both_objectives_atomically(self, app: OkrLedger) -> None:
        org = an_org(app)
        objective_id, kr_id = org.approved_objective()
        app.start_cycle(org.q2_id, ctx(ADMIN))
        app.check_in(objective_id, kr_id, 150, 6, ctx(ALICE))
        before = app.recorder.max_notification_id()
        result = app.carry_over(objective_id, org.q3_id, ctx(ALICE))
        assert result.position == app.recorder.max_notification_id() == (before or 0) + 3
        successor = app.get_objective(result.id)
        assert successor.carried_from == objective_id
        assert app.get_objective(objective_id).carried_to == result.id


class TestOptimisticConcurrency:
    def test_the_second_of_two_concurrent_check_ins_is_refused(
        self, app: OkrLedger, second_app: OkrLedger
    ) -> None:
        org = an_org(app)
        objective_id, kr_id = org.approved_objective()
        app.start_cycle(org.q2_id, ctx(ADMIN))
        cycle = app.get_cycle(org.q2_id)

        mine = app.repository.get(objective_id)
        theirs = second_app.repository.get(objective_id)
        assert mine == theirs
        mine.check_in(cycle, kr_id, 150, 7, ctx(ALICE), "mine")
        theirs.check_in(cycle, kr_id, 160, 4, ctx(BOB), "theirs")

        app.save(mine)
        with pytest.raises(IntegrityError):
            second_app.save(theirs)

        for reader in (app, second_app):
            stored = reader.get_objective(objective_id)
            assert [(c.value, c.note) for c in stored.key_results[kr_id].check_ins] == [
                (150.0, "mine")
            ]
            assert stored.version == mine.version

    def test_a_refused_save_leaves_the_log_as_it_was(
        self, app: OkrLedger, second_app: OkrLedger
    ) -> None:
        org = an_org(app)
        objective_id, _ = org.approved_objective()
        stale = second_app.repository.get(objective_id)
        app.update_objective(objective_id, ctx(ALICE), title="Moved on", reason="clarity")
        before = app.recorder.max_notification_id()
        stale.reword(app.get_cycle(org.q2_id), "Stale edit", None, ctx(BOB), "mine")
        with pytest.raises(IntegrityError):
            second_app.save(stale)
        assert app.recorder.max_notification_id() == before
        assert app.get_objective(objective_id).title == "Moved on"
        # and the next write still lands right after the last one
        result = app.update_objective(objective_id, ctx(ALICE), title="Next", reason="r")
        assert result.position == app.recorder.max_notification_id()
        assert result.position is not None and before is not None and result.position > before

    def test_if_match_refuses_a_stale_expected_version(self, app: OkrLedger) -> None:
        org = an_org(app)
        objective_id = org.objective()
        with pytest.raises(RuleViolated) as info:
            app.update_objective.expecting(7)(objective_id, ctx(ALICE), title="X")
        assert info.value.rule == "version_mismatch"


class TestPastVersions:
    def test_repository_returns_every_past_version(self, app: OkrLedger) -> None:
        org = an_org(app)
        objective_id = org.objective()
        states: dict[int, Objective] = {}

        def remember() -> None:
            current = app.get_objective(objective_id)
            states[current.version] = copy.deepcopy(current)

        remember()
        kr_id = org.key_result(objective_id)
        remember()
        app.update_key_result(objective_id, kr_id, ctx(ALICE), target=300)
        remember()
        app.submit_objective(objective_id, BOB, ctx(ALICE))
        remember()
        app.approve_objective(objective_id, ctx(BOB))
        remember()
        app.start_cycle(org.q2_id, ctx(ADMIN))
        app.check_in(objective_id, kr_id, 150, 7, ctx(ALICE))
        remember()

        assert sorted(states) == [1, 2, 3, 4, 5, 6]
        for version, state in states.items():
            assert app.repository.get(objective_id, version=version) == state
            assert app.get_objective(objective_id, version=version) == state
        assert app.get_objective(objective_id, version=1).key_results == {}
        assert app.get_objective(objective_id, version=2).key_results[kr_id].target == 200.0
        assert app.get_objective(objective_id, version=3).key_results[kr_id].target == 300.0
        assert app.get_objective(objective_id, version=4).status == "in_review"


class TestPositions:
    def test_positions_increase_and_name_the_last_notification(
        self, app: OkrLedger, second_app: OkrLedger
    ) -> None:
        org = an_org(app)
        results: list[CommandResult] = []

        def record(result: CommandResult, writer: OkrLedger) -> None:
            assert result.position == writer.recorder.max_notification_id()
            [last] = writer.notification_log.select(start=result.position, limit=1)
            assert last.id == result.position
            assert last.originator_id == result.id
            assert last.originator_version == result.version
            results.append(result)

        objective_id = org.objective()
        record(app.add_key_result(objective_id, title="K", measure="milestone", ctx=ctx()), app)  # type: ignore[arg-type]
        record(second_app.submit_objective(objective_id, BOB, ctx(ALICE)), second_app)
        record(app.approve_objective(objective_id, ctx(BOB)), app)
        record(second_app.start_cycle(org.q2_id, ctx(ADMIN)), second_app)
        record(app.check_in(objective_id, results[0].extra_id, 1, 9, ctx(ALICE)), app)  # type: ignore[arg-type]
        record(second_app.register_person("Dana", "dana@example.com", ctx(ADMIN)), second_app)

        positions = [r.position for r in results]
        assert all(p is not None for p in positions)
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        assert positions[-1] == app.recorder.max_notification_id()

    def test_the_log_holds_every_event_in_commit_order(self, app: OkrLedger) -> None:
        org = an_org(app)
        org.approved_objective()
        notifications = app.recorder.select_notifications(start=1, limit=1000)
        ids = [n.id for n in notifications]
        assert ids == sorted(ids)
        assert ids[-1] == app.recorder.max_notification_id()
        by_aggregate: dict[UUID, list[int]] = {}
        for n in notifications:
            by_aggregate.setdefault(n.originator_id, []).append(n.originator_version)
        for versions in by_aggregate.values():
            assert versions == list(range(1, len(versions) + 1))
