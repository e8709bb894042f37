"""A check-in's audit row is stored as its template's values and its key result's title row
(`infra.views.model.CheckInAudit`, `view_audit_titles`), and reads back exactly as the narrated
row the audit fold makes (`projections.audit.audit_row`): across renames between check-ins, a
title renamed back, a correction, a closed cycle's objective parked and read back, models that
forgot the titles they wrote (a saved model loaded, the live runner restored from the views),
and a full rebuild; the audit trail's filters and the history read them alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import psycopg
import pytest

from domain.scoring import Direction
from infra.readmodels import ReadModels
from infra.views.codec import jsonable
from infra.views.model import PROGRESS_REPORTED, VIEWS, Model
from infra.views.model_file import model_bytes, model_from_bytes
from infra.views.queries import audit_json
from infra.views.rebuild import Rebuild
from infra.views.store import appended_rows
from projections.audit import AuditFold
from projections.base import Logged, fold
from tests.steps import draft, metric
from tests.unit.projections.story import ADMIN, Ledger, Org, organisation, organised
from tests.views.conftest import Databases, PgLedger, fresh_views, head, running, whole_log
from tests.views.conftest import settings as view_settings
from tests.views.oracle import Oracle

RENAMED = "Weekly active teams (paying ones)"


def titled(rows: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
    """The audit rows of `appended_rows` as the queries read them (`audit_columns`): each
    with the title its check-in reads, the latest title row of its key result at or before
    its position (None for other events)."""
    titles = sorted(rows["view_audit_titles"], key=lambda t: t[1])
    out = []
    for row in rows["view_audit"]:
        found = [t[3] for t in titles if t[0] == row[6] and t[1] <= row[0]]
        out.append((*row, found[-1] if row[3] == PROGRESS_REPORTED else None))
    return out


def _rename(ledger: Ledger, org: Org, objective_id: UUID, kr_id: UUID, title: str) -> None:
    """An amendment that renames a key result (Ada proposes, Ben approves)."""
    app, by = ledger.app, ledger.by
    changes = {"key_results": {str(kr_id): {"title": title}}}
    amendment = app.propose_amendment(objective_id, changes, "clearer", by(org.ada)).extra_id
    assert amendment is not None
    app.approve_amendment(objective_id, amendment, by(org.ben), "fine")


def renamed_quarter(
    ledger: Ledger, org: Org, pause: Callable[[], None] = lambda: None
) -> tuple[UUID, UUID]:
    """Ada's objective with two key results checked in on (seven check-ins); one renamed
    between check-ins and renamed back, a check-in corrected, the cycle closed (its objectives
    parked) and reopened for a late check-in. `pause()` runs after the first renaming, after
    the correction and after the closing. The objective's and the renamed key result's ids."""
    app, by = ledger.app, ledger.by
    ada, q1 = org.ada, org.q1
    objective = draft(
        app, by(ada, date(2024, 12, 9)), q1, "Become the default OKR tool", owner_team_id=org.acme
    )
    kr = metric(
        app, by(ada), objective, "Weekly active teams", 10, 40, direction=Direction.INCREASE
    )
    other = metric(app, by(ada), objective, "Paying teams", 0, 5)
    app.submit_objective(objective, org.ben, by(ada))
    app.approve_objective(objective, by(org.ben, date(2024, 12, 10)))
    app.start_cycle(q1, by(ADMIN, date(2025, 1, 1)))
    app.check_in(objective, kr, 16, 7, by(ada, date(2025, 1, 10)))
    app.check_in(objective, other, 1, 5, by(ada))
    _rename(ledger, org, objective, kr, RENAMED)
    pause()
    late = app.check_in(
        objective, kr, 22.5, 6, by(ada, date(2025, 1, 17)), note="a tab\there, 'quoted'"
    ).extra_id
    assert late is not None
    app.check_in(objective, other, 2, 6, by(ada))
    _rename(ledger, org, objective, kr, "Weekly active teams")
    app.check_in(objective, kr, 30, 8, by(ada, date(2025, 1, 24)))
    app.correct_check_in(objective, kr, late, 21, "recounted", by(ada))
    pause()
    app.check_in(objective, kr, 31, 8, by(ada, date(2025, 1, 31)))
    app.open_grading(q1, by(ADMIN, date(2025, 4, 1)))
    for kr_id in (kr, other):
        app.grade_key_result(objective, kr_id, by(ada, date(2025, 4, 2)))
    app.close_cycle(q1, by(ADMIN, date(2025, 4, 5)))
    pause()
    app.reopen_cycle(q1, "a late check-in", by(ADMIN, date(2025, 4, 6)))
    app.check_in(objective, kr, 33, 9, by(ada))
    return objective, kr


def _parts(log: list[Logged], cuts: list[int]) -> Iterator[list[Logged]]:
    start = 0
    for cut in [*cuts, log[-1].position]:
        yield [e for e in log if start < e.position <= cut]
        start = cut


def _folded(log: list[Logged], cuts: list[int], *, reload: bool) -> dict[str, list[Any]]:
    """The audit rows and title rows of the log folded in parts (the model's changes taken
    after each, which parks a closed cycle's objectives); with `reload`, each part's model
    loaded from the previous one's saved bytes, which keep no titles (it forgot them)."""
    rows: dict[str, list[Any]] = {"view_audit": [], "view_audit_titles": []}
    model = Model(VIEWS)
    for part in _parts(log, cuts):
        model.apply_all(part)
        appended = appended_rows(model, VIEWS, model.take_changes())
        for table in rows:
            rows[table] += appended[table]
        if reload:
            model = model_from_bytes(model_bytes(model), model.checkpoint_every)
    return rows


def test_check_in_rows_render_as_the_fold_narrates_them_across_renames_and_forgetting() -> None:
    ledger, org = organised()
    cuts: list[int] = []
    _, kr = renamed_quarter(ledger, org, lambda: cuts.append(ledger.position))
    log = ledger.log()
    narrated = [jsonable(row) for row in fold(AuditFold(), log).rows]
    check_ins = [row for row in narrated if row["event_type"] == PROGRESS_REPORTED]
    assert len(check_ins) == 7
    assert f"check-in on '{RENAMED}': 22.5 (confidence 6) for" in check_ins[2]["action"]
    assert check_ins[-1]["action"].startswith("check-in on 'Weekly active teams': 33 ")
    assert len(cuts) == 3
    whole, cut = _folded(log, cuts, reload=False), _folded(log, cuts, reload=True)
    assert [audit_json(row) for row in titled(whole)] == narrated
    assert [audit_json(row) for row in titled(cut)] == narrated
    # A title row per title a check-in read (not per check-in), and again after the model
    # forgot it: an objective parked with its closed cycle and read back, a model loaded.
    assert [row[3] for row in whole["view_audit_titles"] if row[0] == kr] == [
        "Weekly active teams",
        RENAMED,
        "Weekly active teams",
        "Weekly active teams",  # after the reopening: the objective was parked
    ]
    assert len(whole["view_audit_titles"]) == 5
    assert [row[3] for row in cut["view_audit_titles"] if row[0] == kr] == [
        "Weekly active teams",
        RENAMED,
        "Weekly active teams",
        "Weekly active teams",  # after the second cut: the model was loaded
        "Weekly active teams",  # after the reopening: the objective was parked
    ]


@pytest.mark.postgres
def test_the_views_read_check_ins_as_narrated_live_restored_and_rebuilt(
    databases: Databases,
) -> None:
    with fresh_views(databases) as (url, app, readmodels):
        ledger = PgLedger(app, datetime(2024, 12, 2, 9, 0, tzinfo=UTC))
        org = organisation(ledger)
        running(readmodels, app)
        runners: list[ReadModels] = [readmodels]

        def restart() -> None:
            """A new live runner: its model is restored from the views (no titles)."""
            assert runners[-1].wait_for(head(app), 10)
            runners[-1].stop()
            runners.append(ReadModels(app, view_settings()))
            running(runners[-1], app)

        try:
            objective, kr = renamed_quarter(ledger, org, restart)
            live = runners[-1]
            assert live.wait_for(head(app), 10)
            oracle = Oracle(whole_log(live))

            def assert_read_as_narrated() -> None:
                assert live.audit(limit=1_000_000) == oracle.audit()
                for filters in (
                    {"entity_id": kr},
                    {"entity_id": objective},
                    {"actor": str(org.ada)},
                    {"event_type": PROGRESS_REPORTED},
                ):
                    assert live.audit(limit=1_000_000, **filters) == oracle.audit(**filters)
                assert live.history(objective) == oracle.history(objective)

            assert_read_as_narrated()
            with psycopg.connect(url) as conn:
                stored = conn.execute(
                    "SELECT count(*) FILTER (WHERE doc::text LIKE '%%check-in on%%'), count(*) "
                    "FROM view_audit WHERE event_type = %s",
                    (PROGRESS_REPORTED,),
                ).fetchone()
                titles = conn.execute(
                    "SELECT count(*) FROM view_audit_titles WHERE key_result_id = %s", (kr,)
                ).fetchone()
            assert stored is not None and stored[0] == 0 and stored[1] == 7
            assert titles is not None and 4 <= titles[0] < 7
            Rebuild(app, view_settings()).run(None)
            assert live.wait_for(head(app), 10)
            assert_read_as_narrated()
        finally:
            for runner in runners[1:]:
                runner.stop()
