"""The audit commands end to end: a new key, checkpoints, an export verified by its own script."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest

from tests.audit.conftest import an_org, okr
from tests.audit.test_export import run_verifier

if TYPE_CHECKING:
    from pathlib import Path

    from domain.application import OkrLedger
    from infra.settings import Settings

pytestmark = pytest.mark.postgres


def test_init_key_then_checkpoint_then_export(
    ledger: OkrLedger, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = settings.model_copy(update={"audit_signing_key_file": tmp_path / "new" / "key.pem"})
    created = okr(fresh, "audit", "init-key", monkeypatch=monkeypatch)
    assert created.exit_code == 0, created.output
    key_id = re.search(r"key id: ([0-9a-f]{32})", created.output)
    assert key_id is not None and "BEGIN PUBLIC KEY" in created.output
    assert (tmp_path / "new" / "key.pem").stat().st_mode & 0o777 == 0o600
    again = okr(fresh, "audit", "init-key", monkeypatch=monkeypatch)
    assert again.exit_code == 1 and "already exists" in again.output

    org = an_org(ledger)
    published = okr(fresh, "audit", "checkpoint", "--json", monkeypatch=monkeypatch)
    assert published.exit_code == 0, published.output
    head = json.loads(published.output)
    assert (head["position"], head["key_id"]) == (org.closed_at, key_id.group(1))

    out = tmp_path / "bundle"
    exported = okr(
        fresh,
        "audit",
        "export",
        "--out",
        str(out),
        "--cycle",
        str(org.cycle_id),
        monkeypatch=monkeypatch,
    )
    assert exported.exit_code == 0, exported.output
    assert f"--key-id {key_id.group(1)}" in exported.output
    done = run_verifier(
        out,
        "--key-id",
        key_id.group(1),
        "--head",
        f"{head['position']}:{head['hash']}",
        cwd=tmp_path / "auditor",
    )
    assert done.returncode == 0, done.stdout + done.stderr

    refused = okr(fresh, "audit", "export", "--out", str(out), monkeypatch=monkeypatch)
    assert refused.exit_code == 1 and "not empty" in refused.output
    bad = okr(
        fresh,
        "audit",
        "export",
        "--out",
        str(tmp_path / "x"),
        "--from",
        "yesterday",
        monkeypatch=monkeypatch,
    )
    assert bad.exit_code == 2


def test_without_a_key_checkpoint_says_what_to_do(
    ledger: OkrLedger, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    an_org(ledger, people=1, renames=0)
    keyless = settings.model_copy(update={"audit_signing_key_file": tmp_path / "none.pem"})
    ran = okr(keyless, "audit", "checkpoint", monkeypatch=monkeypatch)
    assert ran.exit_code == 1 and "okr audit init-key" in ran.output
    verified = okr(keyless, "audit", "verify", monkeypatch=monkeypatch)
    assert verified.exit_code == 0, verified.output
