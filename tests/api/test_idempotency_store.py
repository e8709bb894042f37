"""The idempotency store's states on a real PostgreSQL: pending -> written (in the events'
transaction) -> done, and who may take a pending key over."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from domain.application import OkrLedger
from domain.base import CommandContext
from infra.chain import ChainReader, verify_chain
from infra.idempotency import (
    IdempotencyStore,
    KeyAlreadyWritten,
    Outcome,
    StoredResponse,
    WrittenResult,
    claiming,
)
from tests.api.conftest import World, objective_in

CTX = CommandContext.system()


@pytest.fixture
def store(ledger: OkrLedger) -> Iterator[IdempotencyStore]:
    made = IdempotencyStore.for_recorder(ledger.recorder)
    made.create_table()
    yield made
    made.close()


def _events(ledger: OkrLedger) -> int:
    return int(ledger.recorder.max_notification_id() or 0)


def _state(store: IdempotencyStore, key: str) -> str | None:
    with store.datastore.get_connection() as conn:
        row: Any = conn.execute(
            "SELECT state FROM okr_idempotency_keys WHERE principal = 'p' AND key = %s", (key,)
        ).fetchone()
    return None if row is None else str(row["state"])


def test_a_new_key_is_reserved_then_busy_for_the_same_request_and_refused_for_another(
    store: IdempotencyStore,
) -> None:
    assert store.reserve("p", "k", "h1").outcome is Outcome.RESERVED
    assert store.reserve("p", "k", "h1").outcome is Outcome.IN_PROGRESS
    assert store.reserve("p", "k", "h2").outcome is Outcome.MISMATCH
    assert store.reserve("q", "k", "h2").outcome is Outcome.RESERVED


def test_a_keyed_write_marks_the_key_written_in_its_own_transaction(
    ledger: OkrLedger, store: IdempotencyStore
) -> None:
    store.reserve("p", "k", "h")
    with claiming(store.claim("p", "k")):
        result = ledger.form_team("Platform", CTX)
    assert result.position is not None
    again = store.reserve("p", "k", "h")
    assert again.outcome is Outcome.WRITTEN
    assert again.written == WrittenResult(result.id, result.version, result.position, None)


def test_a_second_write_under_a_written_key_is_rolled_back(
    ledger: OkrLedger, store: IdempotencyStore
) -> None:
    store.reserve("p", "k", "h")
    claim = store.claim("p", "k")
    with claiming(claim):
        first = ledger.form_team("Platform", CTX)
    before = _events(ledger)
    with claiming(claim), pytest.raises(KeyAlreadyWritten):
        ledger.form_team("Platform again", CTX)
    assert _events(ledger) == before
    assert verify_chain(ChainReader.for_recorder(ledger.recorder)).ok
    assert store.reserve("p", "k", "h").written == WrittenResult(
        first.id, first.version, before, None
    )


def test_a_write_of_several_aggregates_records_the_first_and_the_last_position(
    ledger: OkrLedger, store: IdempotencyStore
) -> None:
    person = ledger.register_person("Ada", "ada@acme.example", CTX)
    store.reserve("p", "kpi", "h")
    with claiming(store.claim("p", "kpi")):
        result = ledger.define_kpi(
            name="NPS",
            unit="points",
            direction="increase",
            owner_person_id=person.id,
            green=50,
            amber=30,
            ctx=CTX,
            north_star=True,
        )
    assert result.position == _events(ledger)
    assert result.position is not None and result.position >= 2 + (person.position or 0)
    written = store.reserve("p", "kpi", "h").written
    assert written == WrittenResult(result.id, result.version, result.position, None)


def test_the_extra_id_of_the_command_is_recorded(world: World, store: IdempotencyStore) -> None:
    built = objective_in(world, "platform", "approved")
    store.reserve("p", "check-in", "h")
    with claiming(store.claim("p", "check-in")):
        checked = world.ledger.check_in(built.objective_id, built.key_result_id, 3, 6, CTX)
    assert checked.extra_id is not None
    written = store.reserve("p", "check-in", "h").written
    assert written is not None and written.extra_id == checked.extra_id


def test_a_write_of_nothing_leaves_the_key_pending(
    ledger: OkrLedger, store: IdempotencyStore
) -> None:
    store.reserve("p", "k", "h")
    with claiming(store.claim("p", "k")):
        assert ledger.save() == []
    assert _state(store, "k") == "pending"


def test_done_replays_the_first_answer_and_keeps_it(store: IdempotencyStore) -> None:
    store.reserve("p", "k", "h")
    first = StoredResponse(201, b'{"id":1}', "application/json", {"etag": '"1"'})
    store.complete("p", "k", first)
    store.complete("p", "k", StoredResponse(201, b'{"id":2}', "application/json"))
    replay = store.reserve("p", "k", "h")
    assert replay.outcome is Outcome.REPLAY
    assert replay.response == first


def test_release_forgets_a_pending_key_but_not_a_written_one(
    ledger: OkrLedger, store: IdempotencyStore
) -> None:
    store.reserve("p", "failed", "h")
    store.release("p", "failed")
    assert _state(store, "failed") is None
    store.reserve("p", "wrote", "h")
    with claiming(store.claim("p", "wrote")):
        ledger.form_team("Platform", CTX)
    store.release("p", "wrote")
    assert _state(store, "wrote") == "written"


def test_a_pending_key_whose_owner_is_gone_is_taken_over_at_once(
    ledger: OkrLedger, store: IdempotencyStore
) -> None:
    """Another server process reserved the key, then died before its commit: its liveness
    lock went with its connection, so the retry runs the command without waiting."""
    other = IdempotencyStore.for_recorder(ledger.recorder)
    assert other.reserve("p", "k", "h").outcome is Outcome.RESERVED
    assert store.reserve("p", "k", "h").outcome is Outcome.IN_PROGRESS
    other.close()
    assert store.reserve("p", "k", "h").outcome is Outcome.RESERVED
    assert store.reserve("p", "k", "h").outcome is Outcome.IN_PROGRESS


def test_a_taken_over_request_that_commits_late_is_rolled_back(
    ledger: OkrLedger, store: IdempotencyStore
) -> None:
    """The owner looked gone but its commit was still on the way: of the two writes under
    one key, the second is refused in its own transaction, whichever it is."""
    other = IdempotencyStore.for_recorder(ledger.recorder)
    other.reserve("p", "k", "h")
    other.close()
    assert store.reserve("p", "k", "h").outcome is Outcome.RESERVED
    with claiming(store.claim("p", "k")):
        ledger.form_team("Platform", CTX)
    before = _events(ledger)
    with claiming(other.claim("p", "k")), pytest.raises(KeyAlreadyWritten):
        ledger.form_team("Platform", CTX)
    assert _events(ledger) == before
    assert verify_chain(ChainReader.for_recorder(ledger.recorder)).ok
