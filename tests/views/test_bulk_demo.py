"""`okr demo` on the bulk path (`load_demo(..., history_writer=...)`): the story plays on an
in-memory rehearsal and its saves are written in one bulk transaction. The store then holds
the same events, in the same order, committed at the same instants, as the story's commands
write one save at a time, and its chain verifies."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import psycopg

from demo import load_demo
from domain.application import OkrLedger
from infra.bulk import history_writer
from infra.chain import ChainReader, importing_history, verify_chain
from tests.views.conftest import Databases, ledger_on

_RANDOM_TEXT = re.compile(
    r"^[0-9a-f]{32}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def _canonical(value: Any, names: dict[Any, int]) -> Any:
    """`value` with every id (random in each run: aggregates, check-ins, requests, people
    keyed by each store's own secret) replaced by the order it first appears in."""
    if isinstance(value, UUID) or (isinstance(value, str) and _RANDOM_TEXT.match(value)):
        return ("id", names.setdefault(str(value).replace("-", ""), len(names)))
    if isinstance(value, dict):
        # An approval's content hash covers the objective's (random) ids: compared by presence.
        return {  # ids as keys too (a counter-proposal's changes by key result)
            _canonical(k, names): (v is not None) if k == "content_hash" else _canonical(v, names)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_canonical(v, names) for v in value]
    return value


def _log(app: OkrLedger, url: str) -> list[tuple[str, Any, Any, bool]]:
    """Every event as (topic, its state with canonical ids, its commit time, imported)."""
    with psycopg.connect(url) as conn:
        links = conn.execute(
            "SELECT committed_at, imported FROM okrledger_events_chain ORDER BY position"
        ).fetchall()
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    assert len(notifications) == len(links)
    names: dict[Any, int] = {}
    out = []
    for notification, (committed_at, imported) in zip(notifications, links, strict=True):
        event = app.mapper.to_domain_event(notification)
        state = {"originator_id": event.originator_id, **vars(event)}
        out.append((notification.topic, _canonical(state, names), committed_at, bool(imported)))
    return out


def test_the_bulk_demo_writes_the_commands_events_at_their_instants(
    databases: Databases,
) -> None:
    with databases.fresh() as by_commands, databases.fresh() as in_bulk:
        commands = ledger_on(by_commands)
        bulk = ledger_on(in_bulk)
        try:
            told = load_demo(commands, history_clock=importing_history)
            loaded = load_demo(
                bulk, history_clock=importing_history, history_writer=history_writer(bulk)
            )
            assert loaded.events_written == told.events_written > 3000
            assert (loaded.people, loaded.check_ins, loaded.corrections) == (
                told.people,
                told.check_ins,
                told.corrections,
            )
            expected = _log(commands, by_commands)
            written = _log(bulk, in_bulk)
            assert [e[0] for e in written] == [e[0] for e in expected], "same events, same order"
            assert [e[2] for e in written] == [e[2] for e in expected], "same commit times"
            assert all(e[3] for e in written), "flagged imported"
            assert written == expected
            assert verify_chain(ChainReader.for_recorder(bulk.recorder)).ok
            assert load_demo(bulk, history_writer=history_writer(bulk)).already_loaded
        finally:
            commands.close()
            bulk.close()
