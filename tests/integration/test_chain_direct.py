"""A command's read and a lone save at libpq level (`infra/chain_direct.py`): the same events
read and the same chain written as psycopg's cursor path, a statement psycopg deallocated is
prepared again, and an error result is psycopg's error."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest

from infra.chain import ChainReader, verify_chain
from infra.chain_direct import BINARY, INT8, OID, DirectStatement
from tests.integration.test_chain import Counter, Ledger
from tests.integration.test_group_commit import _recorder

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(es_env: dict[str, str]) -> Iterator[Ledger]:
    ledger = Ledger(env=es_env)
    yield ledger
    ledger.close()


def test_the_direct_read_and_save_equal_the_cursor_paths(app: Ledger) -> None:
    recorder = _recorder(app)
    assert recorder._direct
    counters = [Counter(str(n)) for n in range(3)]
    app.save(*counters)  # one lone save of three events, at libpq level
    for counter in counters[:2]:
        counter.increment()
        app.save(counter)
    after = [(c.id, 1) for c in counters]

    direct = recorder.select_events_after(after)
    recorder._direct = False
    by_cursor = recorder.select_events_after(after)
    app.save(Counter("by the cursor"))  # the same chain, extended the other way
    recorder._direct = True
    app.save(Counter("direct again"))

    assert direct == by_cursor
    assert {k: [e.originator_version for e in v] for k, v in direct.items()} == {
        c.id: [2] for c in counters[:2]
    }
    report = verify_chain(ChainReader.for_recorder(recorder))
    assert report.ok and report.count == 7


def test_a_statement_psycopg_deallocated_is_prepared_again(database_url: str) -> None:
    """psycopg sends `DEALLOCATE ALL` on a connection after a rollback it ran: the next
    execution prepares the statement again instead of failing."""
    plus_one = DirectStatement(b"okr_test_plus_one", b"SELECT %b + 1", [OID["int8"]])
    with psycopg.connect(database_url, autocommit=True) as conn:
        for _ in range(2):
            result = plus_one.execute(conn, [INT8.pack(41)], [BINARY])
            assert INT8.unpack(result.get_value(0, 0) or b"")[0] == 42
            conn.execute("DEALLOCATE ALL")


def test_an_error_result_is_psycopgs_error(database_url: str) -> None:
    divide = DirectStatement(b"okr_test_divide", b"SELECT 1 / %b", [OID["int8"]])
    with psycopg.connect(database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            divide.execute(conn, [INT8.pack(0)], [BINARY])
        result = divide.execute(conn, [INT8.pack(1)], [BINARY])
        assert INT8.unpack(result.get_value(0, 0) or b"")[0] == 1
