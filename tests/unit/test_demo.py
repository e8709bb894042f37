"""The demo organisation, loaded into the in-memory application: what it must contain."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import DomainEventProtocol

from demo import DEFAULT_TODAY, DemoSummary, load_demo
from domain.application import OkrLedger
from domain.cycle import Phase
from domain.objective import Objective, Status
from infra.status import store_status
from tests.conftest import DemoInMemory


def _app() -> OkrLedger:
    return OkrLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def _events(app: OkrLedger) -> list[DomainEventProtocol[UUID]]:
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    return [app.mapper.to_domain_event(n) for n in notifications]


class _Loaded:
    def __init__(self, loaded: DemoInMemory) -> None:
        self.app = loaded.app
        self.summary = loaded.summary
        self.events = [self.app.mapper.to_domain_event(n) for n in loaded.notifications]
        self.objectives: list[Objective] = [
            self.app.get_objective(e.originator_id)
            for e in self.events
            if isinstance(e, Objective.Drafted)
        ]

    def in_cycle(self, cycle_id: UUID) -> list[Objective]:
        return [o for o in self.objectives if o.cycle_id == cycle_id]

    def types(self) -> Counter[str]:
        return Counter(type(e).__qualname__ for e in self.events)


@pytest.fixture(scope="module")
def demo(demo_in_memory: DemoInMemory) -> _Loaded:
    return _Loaded(demo_in_memory)


def test_summary_counts_what_the_log_holds(demo: _Loaded) -> None:
    s, types = demo.summary, demo.types()
    assert not s.already_loaded
    assert s.events_written == len(demo.events) > 3000
    assert s.people == types["Person.Registered"] >= 15
    assert s.teams == types["Team.Formed"] >= 5
    assert s.cycles == types["Cycle.Planned"] == 3
    assert s.objectives == len(demo.objectives)
    assert s.check_ins == types["Objective.ProgressReported"]
    assert s.corrections == types["Objective.CheckInCorrected"] > 0
    assert s.amendments == types["Objective.AmendmentProposed"]
    assert s.carry_overs == types["Objective.CarriedOver"]
    assert s.key_results == sum(len(o.key_results) for o in demo.objectives)
    assert demo.app.get_person(s.admin_person_id).email == "demo-admin@acme.example"


def test_two_closed_quarters_and_an_active_one(demo: _Loaded) -> None:
    cycles = [demo.app.get_cycle(c) for c in demo.summary.cycle_ids]
    assert [c.name for c in cycles] == ["Q2 2026", "Q3 2026", "Q4 2026"]
    assert [c.phase for c in cycles] == [Phase.CLOSED, Phase.CLOSED, Phase.ACTIVE]
    assert demo.summary.active_cycle_id == cycles[-1].id
    assert cycles[-1].starts_on <= DEFAULT_TODAY <= cycles[-1].ends_on
    assert "Cycle.Reopened" in demo.types()  # a closed quarter was reopened once, with a reason


def test_the_simulated_clock_only_moves_forward_and_stops_before_today(demo: _Loaded) -> None:
    stamps = [e.timestamp for e in demo.events]
    assert stamps == sorted(stamps)
    assert stamps[-1] < datetime(2026, 11, 24, tzinfo=UTC)
    by_request: dict[str, set[datetime]] = defaultdict(set)
    for e in demo.events:
        by_request[e.request_id].add(e.timestamp)  # type: ignore[attr-defined]
    # One instant per command, a different one for every command.
    assert all(len(instants) == 1 for instants in by_request.values())
    assert len({next(iter(i)) for i in by_request.values()}) == len(by_request)


def test_objectives_align_within_their_own_cycle(demo: _Loaded) -> None:
    aligned = [o for o in demo.objectives if o.parent_objective_id is not None]
    assert len(aligned) > len(demo.objectives) // 2
    for objective in aligned:
        assert objective.parent_objective_id is not None
        parent = demo.app.get_objective(objective.parent_objective_id)
        assert parent.cycle_id == objective.cycle_id
        if objective.parent_key_result_id is not None:
            assert objective.parent_key_result_id in parent.key_results
    assert any(o.parent_key_result_id is not None for o in aligned)
    # Company → team → person: some chains are three levels deep.
    depth = {o.id: o.parent_objective_id for o in demo.objectives}
    assert any(depth.get(depth.get(o.id) or o.id) is not None for o in aligned)


def test_negotiations_amendments_and_corrections_happened(demo: _Loaded) -> None:
    types = demo.types()
    for kind in (
        "ChangesRequested",
        "CounterProposed",
        "CounterProposalAccepted",
        "Withdrawn",
        "AmendmentApproved",
        "AmendmentRejected",
        "CheckInCorrected",
        "Abandoned",
        "Reassigned",
    ):
        assert types[f"Objective.{kind}"] > 0, kind
    # A counter-proposal was revised (edited, resubmitted) rather than accepted.
    assert types["Objective.CounterProposed"] > types["Objective.CounterProposalAccepted"]
    assert types["Objective.Abandoned"] == 1
    moved = [
        (a.changes, a.status)
        for o in demo.objectives
        for a in o.amendments.values()
        if "key_results" in a.changes
    ]
    assert any(status == "approved" for _, status in moved)
    corrections = [
        c
        for o in demo.objectives
        for kr in o.key_results.values()
        for c in kr.check_ins
        if c.supersedes
    ]
    assert corrections and all(c.reason for c in corrections)


def test_eased_and_raised_targets_are_in_the_goalpost_ledger(demo: _Loaded) -> None:
    eased = raised = 0
    for event in demo.events:
        if not isinstance(event, Objective.AmendmentApproved):
            continue
        before = demo.app.get_objective(event.originator_id, version=event.originator_version - 1)
        for kr_id, change in event.changes.get("key_results", {}).items():
            kr = before.key_results[UUID(kr_id)]
            assert kr.baseline is not None and kr.target is not None
            if (change["target"] > kr.target) == (kr.target > kr.baseline):
                raised += 1
            else:
                eased += 1
    assert eased and raised


def test_carried_over_key_results_keep_their_lineage_across_three_quarters(demo: _Loaded) -> None:
    cycles_of_lineage: dict[UUID, set[UUID]] = defaultdict(set)
    for o in demo.objectives:
        for kr in o.key_results.values():
            cycles_of_lineage[kr.lineage_id].add(o.cycle_id)
    assert any(len(c) == 3 for c in cycles_of_lineage.values())
    carried = [o for o in demo.objectives if o.carried_from is not None]
    assert carried
    for successor in carried:
        assert successor.carried_from is not None
        source = demo.app.get_objective(successor.carried_from)
        assert source.carried_to == successor.id
        assert {kr.lineage_id for kr in successor.key_results.values()} & {
            kr.lineage_id for kr in source.key_results.values()
        }


def test_closed_quarters_are_graded_and_reflected_on(demo: _Loaded) -> None:
    for cycle_id in demo.summary.cycle_ids[:2]:
        approved = [o for o in demo.in_cycle(cycle_id) if o.status == Status.APPROVED]
        assert approved
        for objective in approved:
            assert objective.score is not None
            assert objective.reflection
            assert all(kr.score is not None for kr in objective.active_key_results)
    overridden = [
        kr
        for o in demo.objectives
        for kr in o.key_results.values()
        if kr.score is not None and kr.grade_comment
    ]
    assert overridden
    assert any(o.grade_comment for o in demo.objectives)
    active = demo.in_cycle(demo.summary.cycle_ids[-1])
    assert all(o.score is None for o in active)


def test_the_active_quarter_has_stale_key_results_and_an_approval_inbox(demo: _Loaded) -> None:
    active = demo.in_cycle(demo.summary.cycle_ids[-1])
    tracked = [kr for o in active if o.status == Status.APPROVED for kr in o.active_key_results]
    stale = [
        kr
        for kr in tracked
        if kr.current is None or (DEFAULT_TODAY - kr.current.effective_on).days > 14
    ]
    assert 3 <= len(stale) < len(tracked) // 2
    assert any(o.status == Status.IN_REVIEW for o in active)
    assert any(o.pending_amendment is not None for o in active)
    confidences = {c.confidence for kr in tracked for c in kr.check_ins}
    assert len(confidences) >= 6


def test_weak_okrs_are_planted_in_the_active_quarter(demo: _Loaded) -> None:
    planted = {p.kind: p for p in demo.summary.planted}
    assert set(planted) == {
        "task_kr",
        "vague_wording",
        "too_many_key_results",
        "owner_overloaded",
        "metric_without_measure",
    }
    active = demo.in_cycle(demo.summary.cycle_ids[-1])
    many = planted["too_many_key_results"].objective_id
    assert many is not None
    assert len(demo.app.get_objective(many).active_key_results) >= 6
    owner = planted["owner_overloaded"].owner_person_id
    assert sum(o.owner_person_id == owner for o in active) >= 6
    no_measure = planted["metric_without_measure"]
    assert no_measure.objective_id is not None and no_measure.key_result_id is not None
    kr = demo.app.get_objective(no_measure.objective_id).key_results[no_measure.key_result_id]
    assert kr.measure == "metric" and kr.unit == ""


def test_loading_twice_writes_nothing(demo: _Loaded) -> None:
    before = demo.app.recorder.max_notification_id()
    again = load_demo(demo.app, seed=7)
    assert again.already_loaded
    assert again == DemoSummary(already_loaded=True, admin_person_id=demo.summary.admin_person_id)
    assert demo.app.recorder.max_notification_id() == before


def test_the_same_seed_tells_the_same_story(demo: _Loaded) -> None:
    other = _app()
    summary = load_demo(other, seed=7)
    assert _normalised(_events(other)) == _normalised(demo.events)
    assert _counts(summary) == _counts(demo.summary)


def test_another_seed_tells_another_story(demo: _Loaded) -> None:
    other = _app()
    load_demo(other, seed=8)
    assert _normalised(_events(other)) != _normalised(demo.events)


def test_today_decides_the_active_quarter() -> None:
    app = _app()
    summary = load_demo(app, today=date(2027, 2, 20))
    names = [app.get_cycle(c).name for c in summary.cycle_ids]
    assert names == ["Q3 2026", "Q4 2026", "Q1 2027"]
    with pytest.raises(ValueError, match="two weeks"):
        load_demo(_app(), today=date(2027, 4, 3))


def _counts(summary: DemoSummary) -> tuple[int, ...]:
    return (
        summary.people,
        summary.teams,
        summary.cycles,
        summary.objectives,
        summary.key_results,
        summary.check_ins,
        summary.corrections,
        summary.amendments,
        summary.carry_overs,
        summary.events_written,
    )


def _normalised(events: list[DomainEventProtocol[UUID]]) -> list[tuple[str, Any]]:
    """Event types and payloads with every id replaced by the order it first appeared in.

    Request ids are random and content hashes cover ids, so both are left out.
    """
    ordinals: dict[str, int] = {}

    def norm(value: Any) -> Any:
        if isinstance(value, UUID):
            return f"#{ordinals.setdefault(str(value), len(ordinals))}"
        if isinstance(value, str):
            try:
                return norm(UUID(value))
            except ValueError:
                return value
        if isinstance(value, dict):
            return {norm(k): norm(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [norm(v) for v in value]
        return value

    return [
        (
            type(e).__qualname__,
            norm({k: v for k, v in e.__dict__.items() if k not in ("request_id", "content_hash")}),
        )
        for e in events
    ]


def test_store_status_counts_aggregates_and_events(demo: _Loaded) -> None:
    found = store_status(demo.app)
    assert found.events == found.max_position == demo.summary.events_written
    assert found.count_of("Cycle") == 3
    assert found.count_of("Objective") == demo.summary.objectives
    assert found.count_of("Person") == demo.summary.people
    assert found.count_of("Team") == demo.summary.teams
    assert found.chain_head_position is None  # the in-memory store keeps no hash chain
