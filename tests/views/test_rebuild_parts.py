"""The rebuild's own fast parts give what the slow ones they replace give: COPY text formatted
by the rebuild reads back as psycopg's adaptation would store it, and `KindTest` answers as
`isinstance` does for every event class of the domain."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.sql import Identifier

from domain.cycle import Cycle
from domain.objective import Objective
from domain.person import Person
from domain.team import Team
from infra.views.codec import jsonable, load, loads
from infra.views.model import PROGRESS_REPORTED, VIEWS, Model
from infra.views.queries import audit_fields, audit_json, check_in_record
from infra.views.rebuild import compressed_model, copy_text, model_bytes, model_from_bytes
from infra.views.schema import TABLES, Table
from infra.views.store import appended_rows, columns
from projections.audit import AuditFold, AuditRow, audit_row
from projections.base import KindTest
from projections.catalogue import CATALOGUE
from projections.narrative import advance
from tests.unit.projections.story import first_quarter
from tests.views.test_check_in_audit import titled

pytestmark = pytest.mark.postgres

COLUMNS = "t text, u uuid, i bigint, b boolean, ts timestamptz, d date, n numeric, f float8"

texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
rows = st.tuples(
    st.none() | texts,
    st.none() | st.uuids(),
    st.none() | st.integers(-(2**63), 2**63 - 1),
    st.none() | st.booleans(),
    st.none()
    | st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    ),
    st.none() | st.dates(),
    st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f"CREATE TABLE copied ({COLUMNS}, k serial)")
        connection.execute(f"CREATE TABLE inserted ({COLUMNS}, k serial)")
        yield connection


def _read(conn: psycopg.Connection[Any], table: str) -> list[tuple[Any, ...]]:
    query = "SELECT t, u, i, b, ts, d, n, f FROM {} ORDER BY k"
    return conn.execute(query.format(Identifier(table).as_string(conn))).fetchall()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(rows, max_size=8))
def test_copy_text_stores_what_psycopg_stores(
    conn: psycopg.Connection[Any], batch: list[tuple[Any, ...]]
) -> None:
    conn.execute("TRUNCATE copied, inserted")
    names = "t, u, i, b, ts, d, n, f"
    with conn.cursor() as curs:
        with curs.copy(f"COPY copied ({names}) FROM STDIN") as copy:
            copy.write(copy_text(batch))
        if batch:
            curs.executemany(
                f"INSERT INTO inserted ({names}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", batch
            )
    assert _read(conn, "copied") == _read(conn, "inserted")


def test_copy_text_escapes_what_copy_would_read_as_separators() -> None:
    line = copy_text([("a\tb\nc\\d\re", None, UUID(int=1), 7, True)])
    assert line == b"a\\tb\\nc\\\\d\\re\t\\N\t00000000-0000-0000-0000-000000000001\t7\tt\n"


def test_copy_text_refuses_values_it_cannot_write() -> None:
    with pytest.raises(TypeError, match="list"):
        copy_text([([1, 2],)])
    with pytest.raises(TypeError, match="float"):
        copy_text([(float("nan"),)])


def _event_classes() -> list[type[Any]]:
    return list(CATALOGUE.classes())


TESTED: list[tuple[type[Any], ...]] = [
    (Objective.Event,),
    (Team.Event,),
    (Cycle.Event,),
    (Person.Event,),
    (Objective.ProgressReported, Objective.CheckInCorrected),
    (Team.Formed, Team.Renamed, Cycle.Planned),
]


@pytest.mark.parametrize("classes", TESTED, ids=lambda c: "|".join(k.__qualname__ for k in c))
def test_kind_test_answers_as_isinstance_for_every_event_class(
    classes: tuple[type[Any], ...],
) -> None:
    test: KindTest[Any] = KindTest(*classes)
    events = _event_classes()
    assert len(events) > 50
    for _ in range(2):  # the first answer is computed, the second remembered
        for cls in events:
            event = object.__new__(cls)
            assert test(event) is isinstance(event, classes), cls
    assert test(object()) is False
    assert test(Decimal(1)) is False
    assert test(date(2026, 1, 1)) is False


def test_append_only_documents_hold_no_column_and_read_back_as_the_codecs_json() -> None:
    """An audit row's document keeps only what its columns do not hold, a check-in's audit row
    only its template's values, a check-in's history row no document at all (its audit row
    holds its values), and the queries put the rows back together as the codec's JSON of the
    fold's output."""
    story = first_quarter()
    model = Model(VIEWS)
    model.apply_all(story.ledger.log())
    changes = model.take_changes()
    assert changes.audit and changes.check_ins
    rows = appended_rows(model, VIEWS, changes)
    assert "view_history_timeline" not in rows  # the timeline is read from the audit rows
    assert len(rows["view_audit"]) == len(changes.audit)
    narrated = AuditFold().initial()
    for logged in story.ledger.log():
        narrated.rows.append(audit_row(narrated.context, logged))
        advance(narrated.context, logged)
    assert len(narrated.rows) == len(changes.audit)
    templated = 0
    for row, audited in zip(titled(rows), narrated.rows, strict=True):
        doc = loads(row[8])
        assert row[4] not in doc and str(row[4]) not in doc[:4]  # no column's value
        if row[3] == PROGRESS_REPORTED:  # the template's values: no sentence, no map
            templated += 1
            assert audited.action not in doc and audited.action.startswith("check-in on '")
            assert all(type(value) is not dict for value in doc)
            assert len(doc) == 7 or doc[-1] not in ({}, "", None)  # no empty tail
        else:
            assert type(doc) is list and 4 <= len(doc) <= 8
            assert len(doc) == 4 or doc[-1] not in ({}, "", None)  # no empty tail
            assert (doc[1] is None) == (
                audited.entity_type == audited.event_type.split(".")[0].lower()
            )
        assert audit_json(row) == jsonable(audited)
        assert load(AuditRow, audit_json(row)) == audited
    assert templated >= 4
    # A check-in is stored once: its row keeps keys and its valid day, its audit row the rest.
    assert not any(c.json for c in columns(table("view_history_check_ins")))
    audited_at = {row[0]: row for row in titled(rows)}
    for row, (oid, lineage, record) in zip(
        rows["view_history_check_ins"], changes.check_ins, strict=True
    ):
        assert row[:5] == (record.check_in_id, oid, record.key_result_id, lineage, record.position)
        audit = audited_at[record.position]
        read = check_in_record(
            (row[0], row[2], row[4], record.superseded_by, row[-1]),
            (audit[1], audit[3], audit[2], audit_fields(loads(audit[8]), audit[3], audit[9])),
        )
        assert read == record
    assert any(r.supersedes for _, _, r in changes.check_ins)  # corrections are covered
    assert any(a.before for a in narrated.rows) and any(a.reason for a in narrated.rows)
    assert copy_text([r for table in rows.values() for r in table])  # every value has a format


def table(name: str) -> Table:
    return next(t for group in TABLES.values() for t in group if t.name == name)


def test_a_saved_model_is_its_json_compressed_and_loads_back() -> None:
    story = first_quarter()
    model = Model(VIEWS)
    model.apply_all(story.ledger.log())
    model.take_changes()
    saved = compressed_model(model)
    assert zlib.decompress(saved) == model_bytes(model)
    loaded = model_from_bytes(zlib.decompress(saved), model.checkpoint_every)
    assert model_bytes(loaded) == model_bytes(model)
