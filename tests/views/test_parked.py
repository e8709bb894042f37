"""A closed cycle's objectives leave the model's memory (`infra.views.model.Parked`: their rows,
in a file) and nothing any view holds is lost: the rows written, the audit trail, the history's
check-ins and the time-travel checkpoints equal those of a model that keeps everything, with
cycles closed, reopened and closed again, with a model saved and loaded midway, and with a
model restored from the views."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.views import rebuild as rebuild_module
from infra.views.copy_format import copy_text
from infra.views.log import LogReader
from infra.views.model import VIEWS, Changes, CheckInAudit, Model
from infra.views.model_file import model_bytes, model_from_bytes
from infra.views.rebuild import Rebuild
from infra.views.store import ViewStore, entity_rows
from projections.base import Logged
from tests.unit.projections.story import ADMIN, first_quarter
from tests.unit.projections.test_properties import RandomHistory, Stages, stages
from tests.views.conftest import Databases, PgHistory, ledger_on
from tests.views.conftest import settings as view_settings

Rows = dict[str, list[bytes]]


def _rows(model: Model) -> Rows:
    """Every entity row the model would write, as COPY text (a parked row holds its ids as
    text, which COPY writes alike), table by table, in a stable order."""
    return {
        table: sorted(copy_text([row]) for row in rows)
        for table, rows in entity_rows(model, VIEWS).items()
    }


def _held(model: Model) -> set[UUID]:
    """The objectives whose state the model holds in memory."""
    return (
        set(model.tree.objectives)
        | set(model.history.objectives)
        | set(model.staleness.objectives)
        | set(model.inbox.objectives)
        | set(model.tallies.amendments)
    )


def _folded(log: Sequence[Logged], parking: bool = True) -> Model:
    model = Model(VIEWS, parking=parking)
    model.apply_all(log)
    model.take_changes()
    return model


def test_a_closed_cycle_leaves_memory_and_its_rows_are_written_alike() -> None:
    story = first_quarter()
    log = story.ledger.log()
    model, kept = _folded(log), _folded(log, parking=False)
    closed = set(kept.tree.cycle_objectives[story.q1])
    assert {story.o1, story.o2} <= closed
    assert not closed & _held(model)
    assert all(o in model.parked for o in closed) and len(model.parked) == len(closed)
    assert not any(kr in model.tallies.check_ins for kr in (story.kr1, story.kr3))
    assert closed <= _held(kept)  # the same fold without parking keeps them
    assert _rows(model) == _rows(kept)
    # A resumed rebuild loads them back, parked.
    loaded = model_from_bytes(model_bytes(model), model.checkpoint_every)
    assert len(loaded.parked) == len(closed) and not closed & _held(loaded)
    assert _rows(loaded) == _rows(kept)


def test_a_correction_after_the_cycle_reopens_reads_the_objective_back() -> None:
    story = first_quarter()
    app, by = story.ledger.app, story.ledger.by
    model = _folded(story.ledger.log())
    assert story.o1 in model.parked
    app.reopen_cycle(story.q1, "a late correction", by(ADMIN, date(2025, 4, 6)))
    # The check-in of Jan 10 is no longer in force: only the parked rows hold it.
    app.correct_check_in(
        story.o1, story.kr1, story.check_ins["kr1_jan10"], 15, "recounted", by(story.ada)
    )
    log = story.ledger.log()
    model.apply_all(log)
    assert story.o1 not in model.parked and story.o1 in model.tree.objectives
    assert story.o2 in model.parked  # untouched: still out of memory
    changes = model.take_changes()
    kept = _folded(log, parking=False)
    # Narrated from the parked value, as a fold of the whole log narrates it.
    fresh = Model(VIEWS)
    fresh.apply_all(log)
    assert changes.audit[-1] == fresh.take_changes().audit[-1]
    assert "from 16 to 15" in changes.audit[-1].action
    assert _rows(model) == _rows(kept)
    # Reopened, the cycle keeps its objective in memory; closed again, it leaves.
    assert story.o1 in model.tree.objectives
    app.close_cycle(story.q1, by(ADMIN, date(2025, 4, 7)))
    model.apply_all(story.ledger.log())
    model.take_changes()
    assert story.o1 in model.parked and story.o1 not in model.tree.objectives
    assert _rows(model) == _rows(_folded(story.ledger.log(), parking=False))


def _played(history: RandomHistory, drawn: Stages) -> None:
    """The drawn stages: planning, Q1 started, tracking, Q1 in grading, grading."""
    planning, tracking, grading = drawn
    for steps, then in ((planning, "planning"), (tracking, "active"), (grading, None)):
        for step in steps:
            history.run(step)
        if then is not None:
            history.advance_q1(then)


def _closed_reopened_and_closed_again(drawn: Stages) -> list[Logged]:
    """A random history whose first quarter is closed, reopened (then more random commands:
    corrections, grades, carry-overs of its objectives) and closed again."""
    history = RandomHistory()
    _played(history, drawn)
    tracking, grading = drawn[1], drawn[2]
    app, q1 = history.app, history.cycles[0]
    by = history.by(ADMIN)
    history.ledger.clock += timedelta(days=1)
    if app.get_cycle(q1).phase.value == "active":
        app.open_grading(q1, by)
    if app.get_cycle(q1).phase.value == "grading":
        app.close_cycle(q1, by)
    history.refresh()
    for step in tracking[:10]:
        history.run(step)
    if app.get_cycle(q1).phase.value == "closed":
        app.reopen_cycle(q1, "late grades", by)
    history.refresh()
    for step in grading:
        history.run(step)
    if app.get_cycle(q1).phase.value == "grading":
        app.close_cycle(q1, by)
    history.refresh()
    return history.ledger.log()


def _every_change(
    log: Sequence[Logged], checkpoint_every: int, parking: bool, reload_at: int | None = None
) -> tuple[list[Changes], Model]:
    """Fold one event at a time, taking the changes (and so parking) after each."""
    model = Model(VIEWS, checkpoint_every, parking=parking)
    taken: list[Changes] = []
    for n, logged in enumerate(log):
        if n == reload_at:  # a rebuild resumed from its saved model
            model = model_from_bytes(model_bytes(model), checkpoint_every)
        model.apply(logged)
        taken.append(model.take_changes())
    return taken, model


def _titles_read(taken: Sequence[Changes]) -> list[tuple[int, str]]:
    """(position, title) of each check-in's audit row: its key result's latest title row."""
    latest: dict[UUID, str] = {}
    read = []
    for changes in taken:
        latest.update((kr_id, title) for kr_id, _, _, title in changes.titles)
        read += [
            (row.position, latest[row.key_result_id])
            for row in changes.audit
            if isinstance(row, CheckInAudit)
        ]
    return read


PROPERTY: Callable[[Any], Any] = settings(
    max_examples=int(os.environ.get("OKR_PROPERTY_EXAMPLES", "6")) * 4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY
@given(drawn=stages, every=st.integers(1, 9), data=st.data())
def test_parking_changes_nothing_a_view_holds(
    drawn: Stages, every: int, data: st.DataObject
) -> None:
    """Parked as soon as a cycle closes, read back by every event that touches or names
    them: the same audit rows, check-ins, supersessions and checkpoints, event by event, and
    the same entity rows at the end, as a model that parks nothing."""
    log = _closed_reopened_and_closed_again(drawn)
    reload_at = data.draw(st.integers(0, len(log)), label="saved and loaded before")
    parked_changes, parked = _every_change(log, every, True, reload_at)
    kept_changes, kept = _every_change(log, every, False)
    for position, (got, expected) in enumerate(zip(parked_changes, kept_changes, strict=True)):
        assert replace(got, titles=[]) == replace(expected, titles=[]), log[position]
    # A model that parked an objective or was loaded writes its key results' titles again at
    # their next check-ins: every check-in reads the same title.
    assert _titles_read(parked_changes) == _titles_read(kept_changes)
    assert _rows(parked) == _rows(kept)
    closed = [c for c, clock in kept.tree.cycles.items() if clock.phase == "closed"]
    for cycle_id in closed:
        assert not set(kept.tree.cycle_objectives[cycle_id]) & _held(parked)


@pytest.mark.postgres
@settings(
    max_examples=int(os.environ.get("OKR_PROPERTY_EXAMPLES", "6")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(drawn=stages)
def test_a_model_restored_from_the_views_parks_closed_cycles_and_writes_alike(
    databases: Databases, drawn: Stages
) -> None:
    with databases.fresh() as url:
        app = ledger_on(url)
        try:
            history = PgHistory(app)
            _played(history, drawn)
            q1 = history.cycles[0]
            if app.get_cycle(q1).phase.value == "active":
                app.open_grading(q1, history.by(ADMIN))
            if app.get_cycle(q1).phase.value == "grading":
                app.close_cycle(q1, history.by(ADMIN))
            Rebuild(app, view_settings()).run(None)
            recorder: Any = app.recorder
            log = LogReader(recorder, app.mapper)
            store = ViewStore(recorder.datastore)
            with recorder.datastore.get_connection() as conn:
                restored = store.restore(conn, log, view_settings().checkpoint_every)
            whole = [logged for page in log.pages(0) for logged in page]
            kept = _folded(whole, parking=False)
            objectives = set(kept.tree.cycle_objectives.get(q1, ()))
            if app.get_cycle(q1).phase.value == "closed":
                assert all(o in restored.parked for o in objectives)
                assert not objectives & _held(restored)
            assert _rows(restored) == _rows(kept)
        finally:
            app.close()


def _parked_document(objective_id: UUID, size: int) -> bytes:
    """An objective's rows as `Parked` keeps them, about `size` bytes of hardly compressible
    text (a closed objective's live check-ins, notes and history at a large scale)."""
    return orjson.dumps(
        {"view_comparison": [str(objective_id), str(uuid4()), os.urandom(size // 2).hex()]}
    )


@pytest.mark.postgres
def test_a_rebuilds_save_writes_the_parked_rows_a_page_at_a_time(
    databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild's saved progress keeps the parked objectives' rows in a table of their own,
    read from the parked file a page at a time: the save never holds every parked row at once
    (the final save beside a large rebuild's indexes held them all and was its peak memory),
    a later save writes only what changed, and a resume reads them all back."""
    monkeypatch.setattr(rebuild_module, "PARKED_PAGE", 10)
    objectives, size = 300, 30_000  # 9 MB of parked rows
    with databases.fresh() as url:
        app = ledger_on(url)
        try:
            rebuild = Rebuild(app, view_settings())
            rebuild.store.create_table()
            model = Model(VIEWS)
            ids = [uuid4() for _ in range(objectives)]
            for oid in ids:
                model.parked.put(oid, _parked_document(oid, size))
            versions = rebuild_module._versions(VIEWS)
            tracemalloc.start()
            try:
                rebuild._save("all", VIEWS, versions, model, None)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            # At most a few pages of 10 objectives (300 KB each) at once, not 9 MB.
            assert peak < objectives * size / 6, peak
            loaded = rebuild._load("all")
            assert loaded is not None
            assert model_bytes(loaded) == model_bytes(model)
            # One objective read back (a reopened cycle), one parked anew: only they change.
            model.parked.take(ids[0])
            extra = uuid4()
            model.parked.put(extra, _parked_document(extra, size))
            assert model.parked.unsaved("all") == (
                [ids[0]],
                [(extra, model.parked.start_of(extra))],
            )
            rebuild._save("all", VIEWS, versions, model, None)
            assert model.parked.unsaved("all") == ([], [])
            loaded = rebuild._load("all")
            assert loaded is not None and ids[0] not in loaded.parked
            assert model_bytes(loaded) == model_bytes(model)
            # The saved progress deleted, its parked rows go with it.
            with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
                conn.execute("DELETE FROM okr_views_rebuild")
                left = conn.execute("SELECT count(*) AS n FROM okr_views_rebuild_parked")
                assert left.fetchone() == {"n": 0}
        finally:
            app.close()
