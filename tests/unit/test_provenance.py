"""Provenance: a command's source is stamped onto every event it causes and stored with it."""

from __future__ import annotations

from domain.application import OkrLedger
from domain.base import CommandContext


def test_the_provenance_of_a_command_is_stored_on_each_event_and_read_back() -> None:
    ledger = OkrLedger()
    source = {"file": "okrs.xlsx", "sha256": "ab" * 32, "sheet": "People", "row": "7"}
    imported = ledger.register_person(
        "Ada", "ada@acme.example", CommandContext("importer", provenance=source)
    )
    typed = ledger.register_person("Bob", "bob@acme.example", CommandContext.system())

    stored = {n.originator_id: n for n in ledger.notification_log.select(start=1, limit=10)}
    events = {i: ledger.mapper.to_domain_event(n) for i, n in stored.items()}

    assert events[imported.id].provenance == source
    assert events[typed.id].provenance is None
    assert b"okrs.xlsx" in stored[imported.id].state
    assert b"okrs.xlsx" not in stored[typed.id].state
