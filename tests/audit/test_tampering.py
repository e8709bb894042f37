"""``okr audit verify`` against tampering done directly with SQL: detected, and located."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from infra.chain import ChainReader
from tests.audit.conftest import CHAIN, EVENTS, Org, an_org, okr, sql
from tests.audit.test_checkpoints import rewrite_from

if TYPE_CHECKING:
    from pathlib import Path

    from domain.application import OkrLedger
    from infra.settings import Settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def org(ledger: OkrLedger, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Org:
    """A closed cycle's history (positions 1..closed_at), its checkpoints signed by the CLI."""
    org = an_org(ledger, people=4, renames=12)
    ran = okr(settings, "audit", "checkpoint", monkeypatch=monkeypatch)
    assert ran.exit_code == 0, ran.output
    ran = okr(settings, "audit", "verify", monkeypatch=monkeypatch)
    assert ran.exit_code == 0, ran.output
    assert f"OK: {org.closed_at} events verified" in ran.output
    return org


def one_byte_of_a_state(database_url: str, org: Org) -> None:
    sql(
        database_url,
        f"UPDATE {EVENTS} SET state = set_byte(state, 40, get_byte(state, 40) # 1) "
        "WHERE notification_id = 7",
    )


def a_deleted_row(database_url: str, org: Org) -> None:
    sql(database_url, f"DELETE FROM {EVENTS} WHERE notification_id = 9")


def a_forged_row(database_url: str, org: Org) -> None:
    sql(
        database_url,
        f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state) "
        f"SELECT %s, 1, topic, state FROM {EVENTS} WHERE notification_id = 2",
        (uuid4(),),
    )


def two_swapped_positions(database_url: str, org: Org) -> None:
    swap = f"UPDATE {EVENTS} SET notification_id = %s WHERE notification_id = %s"
    sql(database_url, swap, (-1, 5))
    sql(database_url, swap, (5, 14))
    sql(database_url, swap, (14, -1))


def a_consistent_rewrite(database_url: str, org: Org) -> None:
    rewrite_from(database_url, 13)


TAMPERING = {
    "one byte of a stored state": (one_byte_of_a_state, "edited", lambda org: 7),
    "a deleted row": (a_deleted_row, "deleted", lambda org: 9),
    "a forged row": (a_forged_row, "inserted", lambda org: org.closed_at + 1),
    "two swapped positions": (two_swapped_positions, "reordered", lambda org: 5),
    # Caught only by the checkpoint signed at the next interval (20), not by the chain itself.
    "the chain rewritten from 13 on": (a_consistent_rewrite, "rewritten", lambda org: 20),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_detected_and_located(
    org: Org, settings: Settings, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    tamper, problem, where = TAMPERING[case]
    tamper(settings.database_url or "", org)

    ran = okr(settings, "audit", "verify", "--json", monkeypatch=monkeypatch)
    assert ran.exit_code == 1, ran.output
    report = json.loads(ran.output)
    assert (report["ok"], report["problem"], report["position"]) == (False, problem, where(org))
    human = okr(settings, "audit", "verify", monkeypatch=monkeypatch)
    assert human.exit_code == 1
    assert f"{problem} at position {where(org)}" in human.output


def test_the_chain_rewrite_is_located_between_two_checkpoints(
    org: Org, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_consistent_rewrite(settings.database_url or "", org)
    report = json.loads(okr(settings, "audit", "verify", "--json", monkeypatch=monkeypatch).output)
    assert report["count"] == org.closed_at  # every link is consistent: the chain alone passes
    assert "up to 20 was rewritten after position 10" in report["detail"]


def test_ranges_and_published_heads(
    org: Org,
    ledger: OkrLedger,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    published = okr(settings, "audit", "checkpoint", "--json", monkeypatch=monkeypatch)
    assert published.exit_code == 0
    (tmp_path / "published.jsonl").write_text(published.output)
    head = ChainReader.for_recorder(ledger.recorder).head()
    assert head is not None
    one_byte_of_a_state(settings.database_url or "", org)

    assert okr(settings, "audit", "verify", "--to", "6", monkeypatch=monkeypatch).exit_code == 0
    assert okr(settings, "audit", "verify", "--from", "8", monkeypatch=monkeypatch).exit_code == 0
    assert okr(settings, "audit", "verify", "--from", "7", monkeypatch=monkeypatch).exit_code == 1

    # Someone with the database also drops every stored checkpoint and re-links the chain:
    # only what was published elsewhere still tells.
    sql(settings.database_url or "", "DELETE FROM okrledger_events_chain_checkpoints")
    rewrite_from(settings.database_url or "", 7)
    assert okr(settings, "audit", "verify", monkeypatch=monkeypatch).exit_code == 0
    for option in (
        ["--head", f"{head.position}:{head.hash.hex()}"],
        ["--checkpoints", str(tmp_path / "published.jsonl")],
    ):
        ran = okr(settings, "audit", "verify", "--json", *option, monkeypatch=monkeypatch)
        assert ran.exit_code == 1, ran.output
        report = json.loads(ran.output)
        assert (report["problem"], report["position"]) == ("rewritten", head.position)


def test_a_deleted_link_is_located(
    org: Org, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql(settings.database_url or "", f"DELETE FROM {CHAIN} WHERE position = 11")
    report = json.loads(okr(settings, "audit", "verify", "--json", monkeypatch=monkeypatch).output)
    assert (report["problem"], report["position"]) == ("inserted", 11)
