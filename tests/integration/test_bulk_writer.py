"""The bulk write path (`infra.bulk.BulkWriter`): many events in one transaction, written by a
thread of its own in chunks, under the hash chain; all or nothing; commit times floored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from domain.application import OkrLedger
from domain.objective import Objective
from infra.bulk import BulkWriter
from infra.chain import ChainedApplicationRecorder, ChainReader, verify_chain
from tests.integration.test_aggregate_cache import tracking
from tests.unit.builders import ALICE, ctx

pytestmark = pytest.mark.postgres

PAST = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class Tracked(NamedTuple):
    """An approved objective in an active cycle, and the log's head before the test writes."""

    objective_id: UUID
    kr_id: UUID
    head: int


@pytest.fixture
def tracked(app: OkrLedger) -> Tracked:
    _, objective_id, kr_id = tracking(app)
    return Tracked(objective_id, kr_id, app.recorder.max_notification_id() or 0)


def _chain_intact(app: OkrLedger) -> bool:
    return verify_chain(ChainReader.for_recorder(app.recorder)).ok


def _an_ordinary_save_extends_the_chain(app: OkrLedger, tracked: Tracked, value: float) -> None:
    app.check_in(tracked.objective_id, tracked.kr_id, value, 7, ctx(ALICE))
    assert _chain_intact(app)


def _recorder(app: OkrLedger) -> ChainedApplicationRecorder:
    assert isinstance(app.recorder, ChainedApplicationRecorder)
    return app.recorder


def _select(database_url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    """Every row `query` answers, on a connection of its own."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchall()


def _links(database_url: str, after: int) -> list[tuple[int, datetime, bool]]:
    rows = _select(
        database_url,
        "SELECT position, committed_at, imported FROM okrledger_events_chain "
        "WHERE position > %s ORDER BY position",
        after,
    )
    return [(int(r[0]), r[1], bool(r[2])) for r in rows]


def _check_ins(app: OkrLedger, objective_id: UUID, kr_id: UUID, values: list[float]) -> Objective:
    """`values` checked in on the objective, in memory (not saved)."""
    objective = app.get_objective(objective_id)
    cycle = app.get_cycle(objective.cycle_id)
    for value in values:
        objective.check_in(cycle, kr_id, value, 7, ctx(ALICE))
    return objective


def test_chunks_are_written_in_order_with_their_own_floored_commit_times(
    app: OkrLedger, tracked: Tracked, database_url: str
) -> None:
    objective_id, kr_id, head = tracked
    head_time = _links(database_url, head - 1)[0][1]
    objective = _check_ins(app, objective_id, kr_id, [float(n) for n in range(7)])
    events = list(objective.collect_events())
    later = head_time + timedelta(days=3)
    with BulkWriter(_recorder(app), app.mapper, imported=True, chunk=3) as writer:
        writer.write(events[:2], PAST)  # before the head: floored at the head's time
        writer.write(events[2:5], later)
        writer.write(events[5:], PAST)  # before the previous one: floored at it
        ids = writer.commit()
    assert ids == sorted(ids) and len(ids) == 7 and ids[0] > head
    links = _links(database_url, head)
    assert [p for p, _, _ in links] == ids
    assert [t for _, t, _ in links] == [head_time] * 2 + [later] * 5
    assert all(imported for _, _, imported in links)
    stored = app.get_objective(objective_id)
    assert [c.value for c in stored.key_results[kr_id].check_ins] == [float(n) for n in range(7)]
    assert _chain_intact(app)
    _an_ordinary_save_extends_the_chain(app, tracked, 99.0)


def test_leaving_without_a_commit_writes_nothing(
    app: OkrLedger, tracked: Tracked, database_url: str
) -> None:
    objective_id, kr_id, head = tracked
    objective = _check_ins(app, objective_id, kr_id, [1.0, 2.0, 3.0, 4.0])
    with BulkWriter(_recorder(app), app.mapper, imported=True, chunk=2) as writer:
        writer.write(list(objective.collect_events()), PAST)  # two chunks sent
    assert (app.recorder.max_notification_id() or 0) == head
    assert _links(database_url, head) == []
    assert app.get_objective(objective_id).key_results[kr_id].check_ins == []
    _an_ordinary_save_extends_the_chain(app, tracked, 5.0)


def test_a_version_saved_meanwhile_refuses_the_whole_write(
    app: OkrLedger, tracked: Tracked, database_url: str
) -> None:
    objective_id, kr_id, head = tracked
    objective = _check_ins(app, objective_id, kr_id, [1.0, 2.0, 3.0])
    app.check_in(objective_id, kr_id, 9.0, 7, ctx(ALICE))  # takes the next version first
    with (
        pytest.raises(IntegrityError),
        BulkWriter(_recorder(app), app.mapper, imported=True, chunk=2) as writer,
    ):
        writer.write(list(objective.collect_events()), None)
        writer.commit()
    assert [p for p, _, _ in _links(database_url, head)] == [head + 1]
    assert _chain_intact(app)


def test_a_lock_held_past_the_lock_timeout_refuses_the_write_as_busy(
    app: OkrLedger, tracked: Tracked, database_url: str
) -> None:
    objective_id, kr_id, head = tracked
    objective = _check_ins(app, objective_id, kr_id, [1.0, 2.0])
    with psycopg.connect(database_url) as holder:
        holder.execute("LOCK TABLE okrledger_events IN EXCLUSIVE MODE")
        with (
            pytest.raises(OperationalError),
            BulkWriter(_recorder(app), app.mapper, imported=True) as writer,
        ):
            writer.write(list(objective.collect_events()), None)
            writer.commit()
        holder.rollback()
    assert _links(database_url, head) == []
    _an_ordinary_save_extends_the_chain(app, tracked, 3.0)


def test_nothing_to_write_opens_no_transaction(app: OkrLedger) -> None:
    with BulkWriter(_recorder(app), app.mapper, imported=True) as writer:
        assert writer.commit() == []


def test_the_stored_states_are_the_mappers_bytes(app: OkrLedger, database_url: str) -> None:
    """The writer encodes with the typed encoder (`infra.event_encoding`): what it stores, and
    the chain hashes, is byte for byte what the application's mapper would store."""
    _, objective_id, kr_id = tracking(app)
    objective = _check_ins(app, objective_id, kr_id, [1.5, 2.0, -3.25, 1e-7])
    events = list(objective.collect_events())
    expected = [app.mapper.to_stored_event(event).state for event in events]
    with BulkWriter(_recorder(app), app.mapper, imported=True) as writer:
        writer.write(events, None)
        ids = writer.commit()
    assert writer.encoder.typed and writer.encoder.fallbacks == 0
    query = (
        "SELECT state FROM okrledger_events WHERE notification_id = ANY(%s) "
        "ORDER BY notification_id"
    )
    assert [bytes(row[0]) for row in _select(database_url, query, ids)] == expected
    assert verify_chain(ChainReader.for_recorder(app.recorder)).ok
