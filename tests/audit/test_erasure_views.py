"""Erasure reaches the PostgreSQL views: no row of any view table keeps a forgotten name."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from domain.base import CommandContext
from infra.audit.personal import forget_person
from infra.readmodels import ReadModels
from tests.audit.conftest import ADMIN, an_org, sql

if TYPE_CHECKING:
    from domain.application import OkrLedger
    from infra.settings import Settings

pytestmark = pytest.mark.postgres

NAME, RENAMED, EMAIL = "Person Number0", "Person Renamed", "person0@acme.example"


def view_texts(database_url: str) -> dict[str, str]:
    """Every view table's rows as text, by table."""
    tables = [
        row[0]
        for row in sql(
            database_url,
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name LIKE %s",
            ("view%",),
        )
    ]
    assert tables, "no view tables"
    return {
        table: " ".join(
            str(row[0]) for row in sql(database_url, f'SELECT t::text FROM "{table}" t')
        )
        for table in tables
    }


def test_no_view_row_keeps_a_forgotten_name(
    ledger: OkrLedger, settings: Settings, database_url: str
) -> None:
    readmodels = ReadModels(ledger, settings.model_copy(update={"checkpoint_every": 3}))
    readmodels.setup()
    readmodels.start()
    try:
        org = an_org(ledger)
        person_id = org.people[EMAIL]
        ledger.rename_person(person_id, RENAMED, CommandContext(actor=str(person_id)))
        head = ledger.recorder.max_notification_id() or 0
        assert readmodels.wait_for(head, timeout=30)
        before = " ".join(view_texts(database_url).values())
        assert RENAMED in before  # the views held the name before the erasure

        forget_person(ledger, EMAIL, "asked for erasure", ADMIN)
        head = ledger.recorder.max_notification_id() or 0
        assert readmodels.wait_for(head, timeout=30)
        for table, text in view_texts(database_url).items():
            for personal in (NAME, RENAMED, EMAIL):
                assert personal not in text, (table, personal)
    finally:
        readmodels.stop()
