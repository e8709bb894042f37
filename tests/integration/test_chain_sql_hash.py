"""The server hashes chain links in SQL; `infra.chainhash.link_hash` is the specification.

Arbitrary batches (text and UUID ids, Unicode topics, any state bytes, empty included) go
through the chained recorder; every stored link must equal the Python link function's value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.audit_chain import datastore as bench_datastore
from infra.chain import ChainedApplicationRecorder, ChainReader, verify_chain
from infra.chainhash import GENESIS_HASH, link_hash

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.postgres

TABLE = "prop_events"

_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
_event = st.tuples(
    st.integers(min_value=1, max_value=2**62),
    _text.filter(bool),
    st.binary(max_size=600),
)


@pytest.fixture(params=["uuid", "text"])
def recorder(
    database_url: str, request: pytest.FixtureRequest
) -> Iterator[ChainedApplicationRecorder]:
    datastore = bench_datastore(database_url, pool_size=1, id_type=request.param)
    recorder = ChainedApplicationRecorder(datastore, events_table_name=TABLE)
    recorder.create_table()
    yield recorder
    datastore.close()


def _links(recorder: ChainedApplicationRecorder) -> list[tuple[int, int, bytes]]:
    datastore = recorder.datastore
    with datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(f"SELECT position, prev_position, hash FROM {TABLE}_chain ORDER BY position")
        return [(r["position"], r["prev_position"], bytes(r["hash"])) for r in curs.fetchall()]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch=st.lists(_event, min_size=1, max_size=12),
    names=st.lists(_text, min_size=12, max_size=12),
)
def test_sql_links_equal_the_python_link_function(
    recorder: ChainedApplicationRecorder,
    batch: list[tuple[int, str, bytes]],
    names: list[str],
) -> None:
    # Ids are fresh per example (examples share the table); text ids carry arbitrary text.
    fresh = [uuid4() for _ in batch]
    ids: list[UUID] | list[str] = (
        fresh
        if recorder.datastore.originator_id_type == "uuid"
        else [f"{u}{name}" for u, name in zip(fresh, names, strict=False)]
    )
    events = [
        StoredEvent(ids[i], version, topic, state)
        for i, (version, topic, state) in enumerate(batch)
    ]
    before = _links(recorder)
    positions = recorder.insert_events(events)
    assert positions is not None and len(positions) == len(events)
    links = _links(recorder)
    assert links[: len(before)] == before
    new = links[len(before) :]
    assert [p for p, _, _ in new] == sorted(positions)
    prev_position, prev_hash = (before[-1][0], before[-1][2]) if before else (0, GENESIS_HASH)
    for event, position, (link_position, link_prev, stored) in zip(
        events, positions, new, strict=True
    ):
        assert link_position == position
        assert link_prev == prev_position
        expected = link_hash(
            prev_hash,
            position,
            str(event.originator_id),
            event.originator_version,
            event.topic,
            event.state,
        )
        assert stored == expected
        prev_position, prev_hash = position, expected
    assert verify_chain(ChainReader(recorder.datastore, TABLE)).ok


def test_notification_ids_follow_the_order_of_the_events(
    recorder: ChainedApplicationRecorder,
) -> None:
    """Each returned id is the one its event was stored under (Recording relies on the order)."""
    is_uuid = recorder.datastore.originator_id_type == "uuid"
    events = [
        StoredEvent(UUID(int=i + 1) if is_uuid else f"id-{i}", 1, "t", str(i).encode())
        for i in range(300)
    ]
    positions = recorder.insert_events(events)
    assert positions is not None
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(f"SELECT notification_id, state FROM {TABLE}")
        stored = {r["notification_id"]: bytes(r["state"]) for r in curs.fetchall()}
    assert [stored[p] for p in positions] == [e.state for e in events]
