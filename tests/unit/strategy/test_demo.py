"""The demo organisation's strategy layer, and the quality coach finding the weak OKRs planted
in it."""

from __future__ import annotations

from collections import Counter

import pytest

from demo import DemoSummary
from projections.base import Logged, fold
from projections.coach import lint_cycle
from projections.directory import DirectoryFold
from projections.strategy import StrategyFold, StrategyState
from projections.strategy_dashboard import Initiatives, initiative_views, kpi_views
from projections.strategy_map import strategy_map
from projections.tree import TreeFold, TreeState
from tests.conftest import DemoInMemory

PLANTED_CHECK = {
    "task_kr": "kr_is_task",
    "vague_wording": "vague_wording",
    "too_many_key_results": "kr_count",
    "owner_overloaded": "owner_overloaded",
    "metric_without_measure": "kr_not_measurable",
}


class Demo:
    def __init__(self, loaded: DemoInMemory) -> None:
        self.app = loaded.app
        self.summary: DemoSummary = loaded.summary
        notifications = loaded.notifications
        self.log = [Logged.of(n.id, self.app.mapper.to_domain_event(n)) for n in notifications]
        self.tree: TreeState = fold(TreeFold(), self.log)
        self.strategy: StrategyState = fold(StrategyFold(), self.log)
        self.types = Counter(logged.event_type for logged in self.log)


@pytest.fixture(scope="module")
def demo(demo_in_memory: DemoInMemory) -> Demo:
    return Demo(demo_in_memory)


def test_the_demo_has_a_strategy(demo: Demo) -> None:
    strategy = demo.app.get_strategy()
    assert strategy.mission and strategy.vision and len(strategy.values) == 3
    assert list(strategy.perspectives) == [
        "financial",
        "customer",
        "internal_process",
        "learning_growth",
    ]
    themes = strategy.live_themes
    assert len(themes) == demo.summary.themes == 4
    assert {t.perspective for t in themes} == set(strategy.perspectives)
    assert sum(len(t.drives) for t in themes) == 3


def test_kpis_with_one_north_star_measured_monthly(demo: Demo) -> None:
    views = kpi_views(demo.strategy, demo.tree)
    assert len(views) == demo.summary.kpis >= 5
    [north_star] = [v for v in views if v.north_star]
    assert north_star.kpi_id == demo.summary.north_star_kpi_id
    assert demo.app.get_strategy().north_star_kpi_id == north_star.kpi_id
    assert all(len(v.history) >= 6 for v in views)
    assert {v.status for v in views} == {"green", "amber", "red"}
    assert demo.types["Kpi.MeasurementRecorded"] == demo.summary.measurements
    assert demo.types["Kpi.MeasurementCorrected"] >= 1
    assert demo.types["Kpi.ThresholdsChanged"] >= 1
    assert sum(len(v.key_results) for v in views) >= 5  # key results follow KPIs


def test_initiatives_in_every_status(demo: Demo) -> None:
    found = initiative_views(demo.strategy, demo.tree)
    assert len(found) == demo.summary.initiatives >= 5
    assert {i.status for i in found} == {"planned", "in_progress", "done", "cancelled"}
    active = initiative_views(
        demo.strategy, demo.tree, Initiatives(cycle_id=demo.summary.active_cycle_id)
    )
    assert all(k.title for i in active for k in i.key_results)


def test_the_strategy_map_of_the_active_quarter(demo: Demo) -> None:
    active = demo.summary.active_cycle_id
    assert active is not None
    found = strategy_map(demo.strategy, demo.tree, active)
    assert all(row.objectives and row.themes and row.kpis for row in found.rows)
    assert {link.kind for link in found.links} == {"aligns_to", "drives", "measured_by"}
    assert found.unplaced  # some objectives belong to no theme, as in real life


def test_the_coach_flags_every_weak_okr_planted_in_the_demo(demo: Demo) -> None:
    active = demo.summary.active_cycle_id
    assert active is not None
    names = {t: e.name for t, e in fold(DirectoryFold(), demo.log).teams.items()}
    findings = lint_cycle(demo.tree, active, team_names=names)
    assert demo.summary.planted
    for weak in demo.summary.planted:
        check = PLANTED_CHECK[weak.kind]
        matching = [
            f
            for f in findings
            if f.check == check
            and (weak.key_result_id is None or f.key_result_id == weak.key_result_id)
            and (weak.objective_id is None or f.concerns(weak.objective_id))
            and (weak.owner_person_id is None or f.owner_person_id == weak.owner_person_id)
        ]
        assert matching, f"the coach missed the planted {weak.kind}: {weak.note}"
        assert all(f.message and f.suggestion for f in matching)
