"""The strategy layer's fold and queries: KPI dashboard, initiatives, strategy map, comparison,
audit sentences, time travel. Expected values are worked out from the story (story.py)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.initiative import InitiativeStatus
from projections.audit import AuditFold, audit_trail
from projections.coach import lint_cycle
from projections.strategy import StrategyFold, StrategyState, quality_levels
from projections.strategy_comparison import strategy_in_cycles
from projections.strategy_dashboard import Initiatives, initiative_views, kpi_view, kpi_views
from projections.strategy_map import blend, strategy_map
from projections.tree import TreeFold, TreeState
from tests.unit.strategy.story import StrategyStory, strategy_quarter


@pytest.fixture(scope="module")
def story() -> StrategyStory:
    return strategy_quarter()


def folded(story: StrategyStory, moment: str = "end") -> tuple[StrategyState, TreeState]:
    log = story.ledger.log()
    up_to = story.at[moment]
    return (
        story.ledger.fold(StrategyFold(), up_to=up_to),
        TreeFold().initial() if not log else story.ledger.fold(TreeFold(), up_to=up_to),
    )


def test_the_fold_mirrors_the_aggregates(story: StrategyStory) -> None:
    state, _ = folded(story)
    app = story.ledger.app
    strategy = app.get_strategy()
    assert state.strategy is not None
    assert state.strategy.version == strategy.version
    assert state.strategy.vision == strategy.vision
    assert {t: e.drives for t, e in state.strategy.themes.items()} == {
        t: e.drives for t, e in strategy.themes.items()
    }
    assert state.strategy.north_star_kpi_id == story.wat
    for kpi_id in (story.wat, story.incidents):
        kpi = app.get_kpi(kpi_id)
        entry = state.kpis[kpi_id]
        assert entry.version == kpi.version
        assert [(m.period, m.value) for m in entry.live] == [
            (m.period, m.value) for m in kpi.live_measurements
        ]
    assert state.initiatives[story.onboarding].status == "done"
    assert quality_levels(state)["kr_count"] == "block"


def test_the_kpi_dashboard(story: StrategyStory) -> None:
    state, tree = folded(story)
    view = kpi_view(state, story.wat, tree)
    assert (view.current_value, view.current_period, view.previous_value) == (25, "2025-02", 16)
    assert (view.change, view.trend) == (9, "improving")
    assert view.status == "amber"  # 25 is amber since the thresholds moved to 35 / 25
    assert view.north_star
    assert [(m.period, m.value, m.status) for m in view.history] == [
        ("2024-12", 12, "red"),
        ("2025-01", 16, "red"),
        ("2025-02", 25, "amber"),
    ]
    assert [(m.value, m.superseded_by is not None) for m in view.corrections] == [(18, True)]
    assert [(t.green, t.amber, t.reason) for t in view.thresholds] == [
        (30, 20, ""),
        (35, 25, "the board raised the bar"),
    ]
    assert [(k.title, k.current_value) for k in view.key_results] == [("Weekly active teams", 25)]
    incidents = kpi_view(state, story.incidents)
    assert (incidents.current_value, incidents.trend, incidents.status) == (3, "improving", "amber")
    assert [v.name for v in kpi_views(state)] == ["Weekly active teams", "Incidents"]


def test_the_dashboard_as_of_before_the_correction(story: StrategyStory) -> None:
    state, _ = folded(story, "january")
    view = kpi_view(state, story.wat)
    assert (view.current_value, view.status, view.trend) == (18, "red", "improving")
    assert view.corrections == ()
    state, _ = folded(story, "corrected")
    assert kpi_view(state, story.wat).current_value == 16


def test_initiatives_under_their_key_results(story: StrategyStory) -> None:
    state, tree = folded(story)
    [onboarding] = initiative_views(state, tree, Initiatives(key_result_id=story.kr1))
    assert (onboarding.title, onboarding.status) == ("Self-serve onboarding", "done")
    assert [(k.objective_title, k.title) for k in onboarding.key_results] == [
        ("Become the default OKR tool", "Weekly active teams")
    ]
    assert [n.text for n in onboarding.notes] == ["kick-off"]
    assert [i.title for i in initiative_views(state, tree, Initiatives(objective_id=story.o2))] == [
        "Chaos drills"
    ]
    assert [
        i.title
        for i in initiative_views(state, tree, Initiatives(status=InitiativeStatus.CANCELLED))
    ] == ["Chaos drills"]
    assert len(initiative_views(state, tree, Initiatives(cycle_id=story.q1))) == 2


def test_the_strategy_map(story: StrategyStory) -> None:
    state, tree = folded(story)
    found = strategy_map(state, tree, story.q1)
    assert [r.perspective for r in found.rows] == [
        "financial",
        "customer",
        "internal_process",
        "learning_growth",
    ]
    rows = {r.perspective: r for r in found.rows}
    assert [o.title for o in rows["customer"].objectives] == ["Become the default OKR tool"]
    assert [k.name for k in rows["customer"].kpis] == ["Weekly active teams"]
    assert [o.title for o in rows["internal_process"].objectives] == [
        "Make the platform boringly reliable"
    ]
    assert [k.name for k in rows["internal_process"].kpis] == ["Incidents"]
    assert [o.title for o in found.unplaced] == ["Learn the tracing stack"]
    [customers] = rows["customer"].themes
    assert customers.objective_ids == (story.o1,)
    assert customers.kpi_ids == (story.wat,)
    links = {(link.kind, link.source, link.target) for link in found.links}
    t = story.themes
    assert links == {
        ("aligns_to", story.o2, story.o1),
        ("drives", t["Teams that rely on us"], t["Profitable growth"]),
        ("drives", t["A platform nobody notices"], t["Teams that rely on us"]),
        ("measured_by", story.o1, story.wat),
    }
    assert rows["financial"].themes[0].colour == "grey"  # nothing placed in it yet


def test_the_map_as_of_before_the_quarter_has_no_colours(story: StrategyStory) -> None:
    state, tree = folded(story, "approved")
    found = strategy_map(state, tree, story.q1)
    colours = {o.colour for r in found.rows for o in r.objectives}
    assert colours == {"grey"}  # approved, but the cycle has not started: no health yet
    assert found.vision == "Every team knows why its work matters"


@pytest.mark.parametrize(
    ("colours", "blended"),
    [
        ([], "grey"),
        (["grey"], "grey"),
        (["green", "green", "amber"], "green"),
        (["green", "red"], "amber"),
        (["amber", "red", "red"], "red"),
    ],
)
def test_blended_colours(colours: list[str], blended: str) -> None:
    assert blend(colours) == blended


def test_the_quarter_in_the_comparison(story: StrategyStory) -> None:
    state, tree = folded(story)
    [q1] = strategy_in_cycles(state, tree, [story.q1])
    assert (q1.objectives, q1.themed_objectives) == (3, 2)
    assert q1.key_results_following_kpis == 1
    assert (q1.initiatives, q1.initiatives_by_status) == (2, {"done": 1, "cancelled": 1})
    assert q1.initiatives_done_share == 0.5
    assert (q1.strategy_changes, q1.threshold_changes) == (1, 1)
    kpis = {k.name: k for k in q1.kpis}
    wat = kpis["Weekly active teams"]
    assert (wat.start_value, wat.end_value, wat.change) == (12, 25, 13)
    assert (wat.measurements, wat.corrections, wat.end_status) == (2, 1, "amber")
    assert (kpis["Incidents"].start_value, kpis["Incidents"].end_value) == (8, 3)
    assert kpis["Incidents"].trend == "improving"


def _actions(story: StrategyStory) -> list[tuple[str, str]]:
    state = story.ledger.fold(AuditFold())
    return [(r.event_type, r.action) for r in state.rows]


def test_the_audit_trail_narrates_the_strategy_layer(story: StrategyStory) -> None:
    actions = dict(reversed(_actions(story)))  # the first sentence of each event type
    assert actions["Strategy.Defined"].startswith("strategy defined with perspectives Financial")
    expected = {
        "Strategy.ThemeAdded": "theme 'Profitable growth' added to the financial perspective",
        "Strategy.NorthStarChosen": "north star set to KPI 'Weekly active teams'",
        "Kpi.Defined": "KPI 'Weekly active teams' defined in teams (green ≥ 30, amber ≥ 20)",
        "Kpi.MeasurementCorrected": (
            "measurement of KPI 'Weekly active teams' for 2025-01 corrected from 18 to 16"
        ),
        "Kpi.ThresholdsChanged": (
            "thresholds of KPI 'Weekly active teams' changed from green ≥ 30, amber ≥ 20"
            " to green ≥ 35, amber ≥ 25"
        ),
        "Objective.Themed": (
            "'Become the default OKR tool' tagged with theme 'Teams that rely on us'"
        ),
        "Objective.KeyResultLinkedToKpi": (
            "key result 'Weekly active teams' follows KPI 'Weekly active teams'"
        ),
        "Initiative.Launched": (
            "initiative 'Self-serve onboarding' launched to move 'Weekly active teams'"
        ),
        "Initiative.Cancelled": "initiative 'Chaos drills' cancelled",
        "QualityPolicy.CheckConfigured": "quality check kr_count set from warn to block",
        "Strategy.VisionRestated": "vision restated",
    }
    assert {event_type: actions[event_type] for event_type in expected} == expected


def test_audit_rows_carry_reasons_and_before_after(story: StrategyStory) -> None:
    state = story.ledger.fold(AuditFold())
    [correction] = audit_trail(state, event_type="Kpi.MeasurementCorrected")
    assert correction.reason == "counted our own test teams"
    assert (correction.before["value"], correction.after["value"]) == (18, 16)
    assert correction.entity_type == "kpi" and correction.entity_id == story.wat
    about_kr1 = {r.event_type for r in audit_trail(state, entity_id=story.kr1)}
    assert {"Initiative.Launched", "Objective.KeyResultLinkedToKpi"} <= about_kr1
    [vision] = audit_trail(state, event_type="Strategy.VisionRestated")
    assert vision.reason == "sharper after the offsite"
    assert vision.before == {"vision": "Every team knows why its work matters"}


def test_the_state_round_trips_through_its_checkpoint_form(story: StrategyStory) -> None:
    a_fold = StrategyFold()
    state, _ = folded(story)
    assert a_fold.from_json(a_fold.to_json(state)) == state


def test_the_coach_lints_the_tree_with_the_policy_levels(story: StrategyStory) -> None:
    state, tree = folded(story)
    findings = lint_cycle(tree, story.q1, quality_levels(state))
    by_check: dict[str, Any] = {}
    for finding in findings:
        by_check.setdefault(finding.check, []).append(finding)
    # O2 and O3 have one key result each: kr_count, now blocking
    assert {(f.objective_id, f.level) for f in by_check["kr_count"]} == {
        (story.o2, "block"),
        (story.o3, "block"),
    }
    # KR1 (10 → 40 teams) is 4x on a committed objective
    assert [f.check for f in lint_cycle(tree, story.q1, only=story.o1)] == ["committed_stretch"]
