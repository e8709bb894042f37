"""Many check-ins in one atomic write (`OkrLedger.check_in_many`): the same rules as one
check-in, one transaction through the event store's bulk path, the chain intact."""

from __future__ import annotations

import psycopg
import pytest

from domain.application import OkrLedger
from domain.errors import InvalidValue
from domain.ledger.objectives import CheckInEntry
from infra.chain import BULK_EVENTS, ChainReader, verify_chain
from tests.integration.test_aggregate_cache import tracking
from tests.unit.builders import ALICE, ctx

pytestmark = pytest.mark.postgres


def _events(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM okrledger_events").fetchone()
    assert row is not None
    return int(row[0])


def test_a_history_of_check_ins_is_written_at_once_under_the_rules(
    app: OkrLedger, database_url: str
) -> None:
    _, objective_id, kr_id = tracking(app)
    before = _events(database_url)
    values = [100.0 + n for n in range(BULK_EVENTS * 2)]
    results = app.check_in_many(
        [CheckInEntry(objective_id, kr_id, value, 7) for value in values], ctx(ALICE)
    )
    assert len(results) == len(values)
    assert len({r.position for r in results}) == 1, "one write"
    objective = app.get_objective(objective_id)
    assert [c.value for c in objective.key_results[kr_id].check_ins] == values
    assert results[-1].version == objective.version
    assert _events(database_url) == before + len(values)
    assert verify_chain(ChainReader.for_recorder(app.recorder)).ok


def test_one_refused_entry_writes_nothing(app: OkrLedger, database_url: str) -> None:
    _, objective_id, kr_id = tracking(app)
    before = _events(database_url)
    entries = [CheckInEntry(objective_id, kr_id, 120.0, 7) for _ in range(BULK_EVENTS)]
    entries.append(CheckInEntry(objective_id, kr_id, 130.0, 42))  # confidence is 0..10
    with pytest.raises(InvalidValue):
        app.check_in_many(entries, ctx(ALICE))
    assert _events(database_url) == before
    assert app.get_objective(objective_id).key_results[kr_id].check_ins == []
