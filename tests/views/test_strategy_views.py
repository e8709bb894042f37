"""The strategy layer's views: kept by the live runner and by `okr rebuild`, answered as of a
position from the time-travel checkpoints, and read by the submission checks of every process.

The oracle folds the log from position 0 for every answer (what `StrategyReads` did before the
strategy layer was a view), and renders it with the same code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from psycopg.rows import tuple_row

from domain.errors import RuleViolated
from domain.objective import Kind
from domain.scoring import Measure
from infra.bootstrap import build_ledger
from infra.readmodels import ReadModels
from infra.views.rebuild import Rebuild
from infra.views.strategy import Scope, StrategyReads
from projections.base import Logged, fold
from projections.directory import DirectoryFold, DirectoryState
from projections.strategy import StrategyFold, StrategyState
from projections.strategy_dashboard import Initiatives
from projections.tree import TreeFold, TreeState
from tests.unit.projections import story as projections_story
from tests.unit.projections.story import ADMIN
from tests.unit.strategy.story import StrategyStory, strategy_quarter
from tests.views.conftest import Databases, PgLedger, head, ledger_on, settings, whole_log
from tests.views.oracle import Oracle

pytestmark = pytest.mark.postgres


class FoldedReads(StrategyReads):
    """`StrategyReads` over states folded from the log's first event (the oracle)."""

    def __init__(self, log: Sequence[Logged]) -> None:
        self.logged = list(log)
        self.directory = fold(DirectoryFold(), self.logged)

    def _states(
        self, position: int | None, scope: Scope | Any
    ) -> tuple[DirectoryState, TreeState, StrategyState]:
        upto = [e for e in self.logged if position is None or e.position <= position]
        return self.directory, fold(TreeFold(), upto), fold(StrategyFold(), upto)


def story_on(app: Any) -> StrategyStory:
    original = projections_story.Ledger  # the stories' organised() makes their ledger
    projections_story.Ledger = lambda: PgLedger(  # type: ignore[assignment,misc]
        app, datetime(2024, 12, 2, 9, 0, tzinfo=UTC)
    )
    try:
        return strategy_quarter()
    finally:
        projections_story.Ledger = original  # type: ignore[misc]


def answers(reads: StrategyReads, story: StrategyStory, position: int | None) -> dict[str, Any]:
    return {
        "strategy": reads.strategy(position),
        "kpis": reads.kpis(position, include_retired=True),
        "kpi": reads.kpi(story.wat, position),
        "initiatives": reads.initiatives(position=position),
        "initiatives of KR1": reads.initiatives(Initiatives(key_result_id=story.kr1), position),
        "initiative": reads.initiative(story.drills, position),
        "map": reads.strategy_map(story.q1, position),
        "compare": reads.compare([story.q1], position),
        "lint": reads.lint(story.q1, position=position),
        **(
            {
                "private": reads.private_objectives(),
                "objective of KR3": reads.objective_of_key_result(story.kr3),
                "lint of a draft": reads.lint_specs([], story.o2),
                "quality levels": reads.quality_levels(),
                "theme names": reads.theme_names(),
                "cycles": reads.cycles(),
            }
            if position is None
            else {}
        ),
    }


@pytest.fixture
def story_views(databases: Databases) -> Iterator[tuple[ReadModels, StrategyStory]]:
    with databases.fresh() as url:
        app = ledger_on(url, checkpoint_every=5)
        readmodels = ReadModels(app, settings(checkpoint_every=5))
        readmodels.start()
        try:
            story = story_on(app)
            assert readmodels.wait_for(head(app), 10)
            yield readmodels, story
        finally:
            readmodels.stop()
            app.close()


def test_live_and_as_of_answers_equal_the_fold_from_the_start(
    story_views: tuple[ReadModels, StrategyStory],
) -> None:
    readmodels, story = story_views
    oracle = FoldedReads(whole_log(readmodels))
    positions = [e.position for e in oracle.logged]
    assert answers(readmodels.strategy, story, None) == answers(oracle, story, None)
    for position in positions[::2]:
        assert answers(readmodels.strategy, story, position) == answers(oracle, story, position), (
            position
        )
    with readmodels.queries.snapshot() as snap:
        curs = snap.conn.cursor(row_factory=tuple_row)
        kept = curs.execute("SELECT count(*) FROM view_tt_strategy").fetchone()
    assert kept is not None and kept[0] > 3  # the strategy layer is in the checkpoints

    Rebuild(readmodels.ledger, settings(checkpoint_every=5)).run(None)
    assert readmodels.wait_for(head(readmodels.ledger), 10)
    assert answers(readmodels.strategy, story, None) == answers(oracle, story, None)
    for position in positions[1::3]:
        assert answers(readmodels.strategy, story, position) == answers(oracle, story, position), (
            position
        )


def test_an_as_of_answer_folds_from_the_nearest_checkpoint(
    story_views: tuple[ReadModels, StrategyStory],
) -> None:
    readmodels, story = story_views
    at = story.at["end"]
    with readmodels.queries.snapshot() as snap:
        rows = readmodels.timetravel.tail(snap.conn, 0, at)
        strategic = readmodels.timetravel.handled(StrategyFold(), rows)
        folded = []
        original = readmodels.timetravel.fold_handled

        def counting(fold: Any, state: Any, tail: Any) -> None:
            folded.append(len(readmodels.timetravel.handled(fold, tail)))
            original(fold, state, tail)

        readmodels.timetravel.fold_handled = counting  # type: ignore[method-assign]
        state = readmodels.timetravel.strategy_at(snap.conn, at)
    assert folded and folded[0] < 5 < len(strategic)  # a checkpoint every 5 positions
    expected = fold(StrategyFold(), [e for e in whole_log(readmodels) if e.position <= at])
    for part in ("strategy", "kpis", "initiatives", "quality", "changes"):
        assert getattr(state, part) == getattr(expected, part), part
    assert state.quality["kr_count"] == "block"  # the story's last event, from the tail


def test_live_answers_include_what_the_runner_has_not_applied_yet(databases: Databases) -> None:
    """Live answers fold the log's tail beyond the views' position: a command's effect shows
    at once, as it did when the strategy reads followed the log themselves."""
    with databases.fresh() as url:
        app = ledger_on(url)
        try:
            story = story_on(app)
            readmodels = ReadModels(app, settings())  # no runner: the views stay unbuilt
            oracle = FoldedReads(whole_log(readmodels))
            assert readmodels.caught_up_position() == 0
            assert answers(readmodels.strategy, story, None) == answers(oracle, story, None)
        finally:
            app.close()


def test_every_process_built_by_the_composition_root_checks_submissions_against_the_views(
    databases: Databases,
) -> None:
    """`build_ledger` wires the submission checks that compare an objective with its
    neighbours to the views; a bare `OkrLedger` (nothing wired) cannot tell."""
    with databases.fresh() as url:
        app = build_ledger(settings(database_url=url))
        bare = ledger_on(url)
        try:
            story = story_on(app)
            ledger = PgLedger(app, datetime(2025, 3, 4, 9, 0, tzinfo=UTC))
            app.configure_quality_check("unaligned", "block", ledger.by(ADMIN))
            drafts = []
            for _ in range(2):
                objective_id = app.draft_objective(
                    cycle_id=story.q1,
                    title="Ship the tracing pipeline",
                    kind=Kind.COMMITTED,
                    owner_team_id=story.platform,
                    ctx=ledger.by(story.ben, date(2025, 3, 4)),
                ).id
                for title in ("Traces kept for 30 days", "Dashboards used weekly"):
                    app.add_key_result(
                        objective_id,
                        title=title,
                        measure=Measure.MILESTONE,
                        ctx=ledger.by(story.ben),
                    )
                drafts.append(objective_id)
            with pytest.raises(RuleViolated) as info:
                app.submit_objective(drafts[0], story.ada, ledger.by(story.ben))
            assert (info.value.rule, info.value.field) == ("unaligned", "parent_objective_id")
            bare.submit_objective(drafts[1], story.ada, ledger.by(story.ben))
        finally:
            bare.close()
            app.close()


def test_a_view_new_to_views_that_follow_the_log_starts_outdated(
    databases: Databases,
) -> None:
    """Fresh views are all current; a view added to views already at a position has no rows,
    so it starts outdated and the runner builds it before following the log."""
    with databases.fresh() as url:
        app = ledger_on(url)
        try:
            readmodels = ReadModels(app, settings())
            readmodels.setup()
            assert readmodels.store.outdated() == []
            story_on(app)
            readmodels.start()
            assert readmodels.wait_for(head(app), 10)
            readmodels.stop()
            with readmodels.queries.snapshot() as snap:
                assert snap.position > 0
            with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
                conn.execute("DELETE FROM okr_views WHERE view = 'strategy'")
                conn.commit()
            readmodels.store.create_table()
            assert readmodels.store.outdated() == ["strategy"]
        finally:
            app.close()


def test_an_objectives_audit_trail_includes_the_rows_of_what_links_to_it(
    story_views: tuple[ReadModels, StrategyStory],
) -> None:
    """An initiative's rows name the objective of the key result it drives (`objective_id`, not
    their entity): the audit filtered by that objective finds them, as the fold's trail does,
    through the partial index on such rows (`infra.views.schema.OBJECTIVE_OF_ANOTHER`)."""
    readmodels, story = story_views
    oracle = Oracle(whole_log(readmodels))
    linked = 0
    for objective_id in (story.o1, story.o2, story.o3):
        rows = readmodels.audit(entity_id=objective_id, limit=10_000)
        assert rows == oracle.audit(entity_id=objective_id)
        linked += sum(1 for r in rows if r["entity_id"] != str(objective_id))
    assert linked > 0  # rows of other entities (the initiatives) were found by objective
