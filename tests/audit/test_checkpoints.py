"""Signed chain checkpoints: when they are signed, and what verification does with them."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.application import OkrLedger
from infra.audit.checkpoints import (
    ChainTamperedError,
    Checkpoint,
    Checkpointer,
    CheckpointFollower,
    checkpointer_for,
    sign_checkpoint,
)
from infra.audit.keys import (
    key_id,
    load_signing_key,
    public_key_pem,
    trusted_public_keys,
    write_new_signing_key,
)
from infra.audit.verify import PublishedHead, audit_verify
from infra.chain import ChainReader
from infra.chainhash import link_hash
from tests.audit.conftest import ADMIN, CHAIN, CHECKPOINTS, EVENTS, an_org, sql

if TYPE_CHECKING:
    from pathlib import Path

    from infra.settings import Settings

pytestmark = pytest.mark.postgres


def test_checkpoints_are_signed_every_n_positions_and_at_each_cycle_close(
    ledger: OkrLedger, settings: Settings
) -> None:
    org = an_org(ledger)
    checkpointer = checkpointer_for(ledger.recorder, settings)
    signed = checkpointer.catch_up()

    head = ChainReader.for_recorder(ledger.recorder).head()
    assert head is not None and head.position == org.closed_at
    intervals = [c.position for c in signed if c.reason == "interval"]
    assert intervals == list(range(10, head.position + 1, 10))
    closes = [c for c in signed if c.reason.startswith("cycle-closed")]
    assert [(c.position, c.reason) for c in closes] == [
        (org.closed_at, f"cycle-closed {org.cycle_id}")
    ]
    keys = trusted_public_keys(settings)
    assert all(c.verify(keys) for c in signed)
    hashes = dict(sql(settings.database_url or "", f"SELECT position, hash FROM {CHAIN}"))
    assert all(hashes[c.position] == c.hash for c in signed)

    assert checkpointer.catch_up() == []  # nothing new is due
    ledger.rename_team(org.team_id, "Core", ADMIN)
    assert checkpointer.catch_up() == []  # one more event completes no interval
    report = audit_verify(ledger, settings=settings)
    assert report.ok, report
    assert report.checkpoints_checked == len(signed)


def test_an_interval_completed_later_is_still_signed(ledger: OkrLedger, settings: Settings) -> None:
    checkpointer = checkpointer_for(ledger.recorder, settings)
    an_org(ledger, people=1, renames=0)  # ends before position 10
    before = {c.position for c in checkpointer.catch_up()}
    for i in range(12):
        ledger.register_person(f"P {i}", f"p{i}@acme.example", ADMIN)
    after = {c.position for c in checkpointer.catch_up()}
    assert 10 not in before and {10, 20} <= after


def test_nothing_is_signed_without_a_key_and_signing_resumes_with_one(
    ledger: OkrLedger, settings: Settings
) -> None:
    an_org(ledger)
    unkeyed = Checkpointer(ledger.recorder, None, 10)
    assert unkeyed.catch_up() == []
    with pytest.raises(ValueError, match="no audit signing key"):
        unkeyed.sign_head()
    assert checkpointer_for(ledger.recorder, settings).catch_up()  # it catches up on everything


def test_a_signed_head_round_trips_through_its_published_form(
    ledger: OkrLedger, settings: Settings
) -> None:
    an_org(ledger)
    head = checkpointer_for(ledger.recorder, settings).sign_head()
    assert head is not None
    published = Checkpoint.from_json(head.as_json())
    assert published == head
    assert published.verify(trusted_public_keys(settings))
    assert not dataclasses.replace(published, position=head.position - 1).verify(
        trusted_public_keys(settings)
    )


# -- a history rewritten consistently ------------------------------------------------------------


def rewrite_from(database_url: str, position: int) -> None:
    """Edit the event at ``position`` and recompute every link after it: a valid chain again."""
    sql(
        database_url,
        f"UPDATE {EVENTS} SET state = set_byte(state, 3, get_byte(state, 3) # 1) "
        "WHERE notification_id = %s",
        (position,),
    )
    rows = sql(
        database_url,
        f"SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, "
        f"(SELECT hash FROM {CHAIN} WHERE position < e.notification_id "
        f"ORDER BY position DESC LIMIT 1) FROM {EVENTS} e "
        "WHERE e.notification_id >= %s ORDER BY e.notification_id",
        (position,),
    )
    prev_hash = bytes(rows[0][5])
    for pos, oid, version, topic, state, _ in rows:
        prev_hash = link_hash(prev_hash, pos, str(oid), version, topic, bytes(state))
        sql(database_url, f"UPDATE {CHAIN} SET hash = %s WHERE position = %s", (prev_hash, pos))


def test_a_consistent_rewrite_passes_the_chain_but_not_the_signed_checkpoints(
    ledger: OkrLedger, settings: Settings
) -> None:
    org = an_org(ledger)
    signed = checkpointer_for(ledger.recorder, settings).catch_up()
    database_url = settings.database_url or ""
    assert [c.position for c in signed] == [10, org.closed_at] and org.closed_at > 13

    rewrite_from(database_url, 13)

    report = audit_verify(ledger, settings=settings)
    assert report.chain.ok, report.chain  # the chain alone is consistent again
    assert not report.ok
    first = report.first_problem
    assert first is not None
    assert (first.problem, first.position) == ("rewritten", org.closed_at)
    assert "after position 10" in first.detail  # located: the rewrite lies in 11..closed_at
    # The rewrite is refused, not signed over.
    ledger.register_person("Late Comer", "late@acme.example", ADMIN)
    with pytest.raises(ChainTamperedError, match="no longer matches"):
        checkpointer_for(ledger.recorder, settings).catch_up()


def test_a_rewrite_after_the_last_checkpoint_is_caught_by_a_published_head(
    ledger: OkrLedger, settings: Settings
) -> None:
    org = an_org(ledger)
    head = ChainReader.for_recorder(ledger.recorder).head()
    assert head is not None
    published = PublishedHead(head.position, head.hash)
    rewrite_from(settings.database_url or "", org.closed_at)  # no checkpoint signed yet

    assert audit_verify(ledger, settings=settings).ok  # nothing signed: nothing to compare with
    report = audit_verify(ledger, settings=settings, published=[published])
    first = report.first_problem
    assert first is not None and (first.problem, first.position) == ("rewritten", head.position)


def test_forged_or_foreign_checkpoints_are_reported(ledger: OkrLedger, settings: Settings) -> None:
    an_org(ledger)
    checkpointer_for(ledger.recorder, settings).catch_up()
    database_url = settings.database_url or ""
    # A database writer forges a checkpoint for a rewritten hash with a key of their own.
    intruder = Ed25519PrivateKey.generate()
    forged = sign_checkpoint(intruder, EVENTS, 5, bytes(32), "interval")
    sql(
        database_url,
        f"INSERT INTO {CHECKPOINTS} (position, hash, signed_at, key_id, reason, signature) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (5, forged.hash, forged.signed_at, forged.key_id, forged.reason, forged.signature),
    )
    report = audit_verify(ledger, settings=settings)
    first = report.first_problem
    assert first is not None and (first.problem, first.position) == ("forged-checkpoint", 5)
    assert key_id(intruder.public_key()) in first.detail and "untrusted" in first.detail

    sql(database_url, f"DELETE FROM {CHECKPOINTS} WHERE position = 5")
    sql(database_url, f"UPDATE {CHECKPOINTS} SET hash = sha256(hash) WHERE position = 10")
    first = audit_verify(ledger, settings=settings).first_problem
    assert first is not None and (first.problem, first.position) == ("forged-checkpoint", 10)
    assert "invalid signature" in first.detail


def test_rotated_keys_still_verify_their_checkpoints(
    ledger: OkrLedger, settings: Settings, tmp_path: Path
) -> None:
    an_org(ledger)
    checkpointer_for(ledger.recorder, settings).catch_up()
    old = load_signing_key(settings)
    assert old is not None
    base = tmp_path
    old_public = base / "old.pem"
    old_public.write_bytes(public_key_pem(old.public_key()))
    write_new_signing_key(base / "new.pem")
    rotated = settings.model_copy(update={"audit_signing_key_file": base / "new.pem"})
    report = audit_verify(ledger, settings=rotated)
    assert not report.ok and report.first_problem is not None
    assert report.first_problem.problem == "forged-checkpoint"  # the old key is not trusted
    trusting = rotated.model_copy(update={"audit_public_key_files": (old_public,)})
    assert audit_verify(ledger, settings=trusting).ok


def test_the_follower_signs_in_the_background(ledger: OkrLedger, settings: Settings) -> None:
    follower = CheckpointFollower(checkpointer_for(ledger.recorder, settings), poll_seconds=0.05)
    follower.start()
    try:
        org = an_org(ledger)
        store = follower.checkpointer.store
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(c.position == org.closed_at for c in store.list()):
                break
            time.sleep(0.05)
    finally:
        follower.stop()
    assert any(c.reason == f"cycle-closed {org.cycle_id}" for c in store.list())
