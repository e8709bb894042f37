"""The audit export: a bundle the standalone verifier accepts intact and rejects when modified."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import random
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from eventsourcing.persistence import IntegrityError

import infra.chainhash
from domain.application import OkrLedger
from infra.audit.export import ExportError, export_bundle, render_verifier
from infra.audit.keys import load_signing_key
from infra.audit.standalone import MANIFEST, MANIFEST_SIGNATURE, verify_bundle
from infra.chain import ChainReader
from tests.audit.conftest import ADMIN, EVENTS, Org, an_org, sql

if TYPE_CHECKING:
    from collections.abc import Callable

    from infra.settings import Settings

pytestmark = pytest.mark.postgres

PROJECT_PACKAGES = ("infra", "domain", "api", "projections", "eventsourcing", "psycopg")

# Runs verify.py with every okrledger (and eventsourcing / psycopg) import refused.
_ISOLATED = textwrap.dedent(
    """
    import runpy, sys
    blocked = set(sys.argv[1].split(","))
    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in blocked:
                raise ImportError(f"the standalone verifier imported {name}")
    sys.meta_path.insert(0, Refuse())
    script = sys.argv[2]
    sys.argv = sys.argv[2:]
    runpy.run_path(script, run_name="__main__")
    """
)


def run_verifier(bundle: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python verify.py`` in a fresh, isolated interpreter, from a folder of its own."""
    cwd.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "OKR_"))}
    return subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _ISOLATED,
            ",".join(PROJECT_PACKAGES),
            str(bundle / "verify.py"),
            str(bundle),
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def org(ledger: OkrLedger) -> Org:
    return an_org(ledger, people=4, renames=12)


@pytest.fixture
def bundle(ledger: OkrLedger, org: Org, settings: Settings, tmp_path: Path) -> Path:
    summary = export_bundle(ledger, tmp_path / "bundle", settings=settings)
    assert summary.report.ok, summary.report
    return summary.out


def bundle_key_id(bundle: Path) -> str:
    return str(json.loads((bundle / MANIFEST).read_text())["key_id"])


_LIST_IMPORTS = """
import ast, sys
for node in ast.walk(ast.parse(sys.stdin.read())):
    if isinstance(node, ast.Import):
        for alias in node.names:
            print(alias.name.split(".")[0])
    elif isinstance(node, ast.ImportFrom) and node.module:
        print(node.module.split(".")[0])
"""


def _top_level_imports(source: str) -> list[str]:
    """The modules `source` imports, parsed in a fresh interpreter.

    CPython 3.11's ast can fail with "AST constructor recursion depth mismatch" in a process
    whose recursion counter earlier code left off (gh-106905), so the parse runs on its own.
    """
    listed = subprocess.run(
        [sys.executable, "-c", _LIST_IMPORTS],
        input=source,
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


# -- the verifier itself ---------------------------------------------------------------------


def test_the_verifier_carries_the_link_function_verbatim_and_imports_nothing_of_okrledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = render_verifier()
    chainhash = Path(infra.chainhash.__file__).read_text()
    body = chainhash.replace("from __future__ import annotations\n", "")
    assert body in source
    imported = set(_top_level_imports(source))
    assert imported <= set(sys.stdlib_module_names) | {"cryptography"}, imported
    (tmp_path / "verify.py").write_text(source)
    spec = importlib.util.spec_from_file_location("okr_generated_verify", tmp_path / "verify.py")
    assert spec is not None and spec.loader is not None
    generated = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, generated)
    spec.loader.exec_module(generated)  # the generated module, as shipped
    rng = random.Random(5)
    for _ in range(50):
        args = (
            rng.randbytes(32),
            rng.randrange(1, 2**40),
            str(rng.random()),
            rng.randrange(1, 1000),
            "domain.objective:Objective.Approved",
            rng.randbytes(rng.randrange(0, 300)),
        )
        assert generated.link_hash(*args) == infra.chainhash.link_hash(*args)


# -- an intact bundle ------------------------------------------------------------------------


def test_a_whole_log_export_verifies_in_a_fresh_process(
    bundle: Path, org: Org, tmp_path: Path, database_url: str
) -> None:
    names = sorted(p.name for p in bundle.iterdir())
    assert names == [
        "README.md",
        "chain.json",
        "checkpoints.jsonl",
        "events.jsonl",
        "manifest.json",
        "manifest.sig",
        "people.jsonl",
        "public_key.pem",
        "verify.py",
    ]
    lines = (bundle / "events.jsonl").read_text().splitlines()
    assert len(lines) == org.closed_at
    first = json.loads(lines[0])
    assert set(first) == {
        "position",
        "prev_position",
        "committed_at",
        "imported",
        "originator_id",
        "originator_version",
        "topic",
        "state",
        "hash",
    }
    stored = sql(database_url, f"SELECT state FROM {EVENTS} WHERE notification_id = 1")[0][0]
    assert base64.b64decode(first["state"]) == bytes(stored)  # exactly the bytes hashed

    kid = bundle_key_id(bundle)
    done = run_verifier(bundle, "--key-id", kid, cwd=tmp_path / "auditor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"OK: {org.closed_at} events" in done.stdout
    checkpoints = [
        json.loads(line) for line in (bundle / "checkpoints.jsonl").read_text().splitlines()
    ]
    assert {c["reason"] for c in checkpoints} >= {"interval", f"cycle-closed {org.cycle_id}"}


def test_a_modified_bundle_fails_in_a_fresh_process(bundle: Path, tmp_path: Path) -> None:
    lines = (bundle / "events.jsonl").read_text().splitlines(keepends=True)
    (bundle / "events.jsonl").write_text("".join(lines[:-1]))
    done = run_verifier(bundle, "--key-id", bundle_key_id(bundle), cwd=tmp_path / "auditor")
    assert done.returncode == 1
    assert "FAILED" in done.stdout and "events.jsonl does not match" in done.stdout


# -- modified bundles --------------------------------------------------------------------------


def edit_event(position: int) -> Callable[[list[dict[str, Any]]], None]:
    def edit(events: list[dict[str, Any]]) -> None:
        event = next(e for e in events if e["position"] == position)
        state = bytearray(base64.b64decode(event["state"]))
        state[-3] ^= 1
        event["state"] = base64.b64encode(bytes(state)).decode()

    return edit


def delete_line(position: int) -> Callable[[list[dict[str, Any]]], None]:
    def delete(events: list[dict[str, Any]]) -> None:
        events[:] = [e for e in events if e["position"] != position]

    return delete


def swap_lines(a: int, b: int) -> Callable[[list[dict[str, Any]]], None]:
    def swap(events: list[dict[str, Any]]) -> None:
        i = next(i for i, e in enumerate(events) if e["position"] == a)
        j = next(i for i, e in enumerate(events) if e["position"] == b)
        events[i], events[j] = events[j], events[i]

    return swap


def swap_contents(a: int, b: int) -> Callable[[list[dict[str, Any]]], None]:
    """Two events trade places but keep the positions in order (a swap of notification ids)."""

    def swap(events: list[dict[str, Any]]) -> None:
        i = next(i for i, e in enumerate(events) if e["position"] == a)
        j = next(i for i, e in enumerate(events) if e["position"] == b)
        fields = ("originator_id", "originator_version", "topic", "state")
        for name in fields:
            events[i][name], events[j][name] = events[j][name], events[i][name]

    return swap


def insert_forged(after: int) -> Callable[[list[dict[str, Any]]], None]:
    """A forged line claiming the position after ``after`` (the genuine line follows it)."""

    def insert(events: list[dict[str, Any]]) -> None:
        i = next(i for i, e in enumerate(events) if e["position"] == after)
        forged = dict(events[i + 1], hash=hashlib.sha256(b"forged").hexdigest())
        events.insert(i + 1, forged)

    return insert


def rewrite(bundle: Path, change: Callable[[list[dict[str, Any]]], None]) -> None:
    path = bundle / "events.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines()]
    change(events)
    path.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))


def reseal(bundle: Path, settings: Settings) -> None:
    """Recompute the manifest and sign it again: what only the key holder could do."""
    manifest = json.loads((bundle / MANIFEST).read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    key = load_signing_key(settings)
    assert key is not None
    signature = key.sign((bundle / MANIFEST).read_bytes())
    (bundle / MANIFEST_SIGNATURE).write_text(base64.b64encode(signature).decode() + "\n")


CHANGES = {
    "an edited event": (edit_event(7), "edited", 7),
    "a deleted line": (delete_line(9), "deleted", 9),
    "two swapped lines": (swap_lines(5, 14), "reordered", 5),
    "two events trading positions": (swap_contents(5, 14), "reordered", 5),
    "a forged line": (insert_forged(11), "inserted", 12),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_modified_event_file_fails_the_manifest(bundle: Path, name: str) -> None:
    change, _, _ = CHANGES[name]
    rewrite(bundle, change)
    report = verify_bundle(bundle, key_ids=(bundle_key_id(bundle),))
    assert not report.ok
    assert [p.problem for p in report.problems] == ["manifest"]
    assert "events.jsonl does not match" in report.problems[0].detail


@pytest.mark.parametrize("name", list(CHANGES))
def test_even_a_resigned_bundle_locates_the_modified_event(
    bundle: Path, settings: Settings, name: str
) -> None:
    change, problem, position = CHANGES[name]
    rewrite(bundle, change)
    reseal(bundle, settings)
    report = verify_bundle(bundle, key_ids=(bundle_key_id(bundle),))
    assert not report.ok
    assert (report.problems[0].problem, report.problems[0].position) == (problem, position), (
        report.problems
    )


@pytest.mark.parametrize("rehashed", [False, True], ids=["bad hash", "recomputed hash"])
def test_a_line_forged_into_a_gap_is_located(
    ledger: OkrLedger, settings: Settings, tmp_path: Path, rehashed: bool
) -> None:
    """A rolled-back insert leaves a free position; a line forged into it is still caught."""
    org = an_org(ledger, people=2, renames=2)
    stale = ledger.get_team(org.team_id)
    ledger.rename_team(org.team_id, "fresh", ADMIN)
    stale.rename("stale", ADMIN)
    with pytest.raises(IntegrityError):
        ledger.save(stale)  # consumes a notification id, then rolls back
    gap = ledger.rename_team(org.team_id, "after the gap", ADMIN).position
    assert gap is not None
    gap -= 1
    summary = export_bundle(ledger, tmp_path / "gap", settings=settings)
    assert summary.report.ok, summary.report

    def forge(events: list[dict[str, Any]]) -> None:
        i = next(i for i, e in enumerate(events) if e["position"] == gap - 1)
        forged = dict(events[i], position=gap, prev_position=gap - 1, originator_version=99)
        prev = bytes.fromhex(events[i]["hash"])
        forged["hash"] = (
            infra.chainhash.link_hash(
                prev,
                gap,
                forged["originator_id"],
                99,
                forged["topic"],
                base64.b64decode(forged["state"]),
            ).hex()
            if rehashed
            else hashlib.sha256(b"forged").hexdigest()
        )
        events.insert(i + 1, forged)

    rewrite(summary.out, forge)
    reseal(summary.out, settings)
    report = verify_bundle(summary.out, key_ids=(bundle_key_id(summary.out),))
    assert (report.problems[0].problem, report.problems[0].position) == ("inserted", gap)


def test_an_edited_manifest_fails_its_signature(bundle: Path) -> None:
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["description"] = "nothing to see here"
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    report = verify_bundle(bundle, key_ids=(bundle_key_id(bundle),))
    assert [p.problem for p in report.problems] == ["signature"]


def test_a_truncated_tail_fails_even_when_resigned(bundle: Path, settings: Settings) -> None:
    """Dropping the newest events leaves a valid prefix; the export checkpoint notices."""
    rewrite(bundle, lambda events: events.__delitem__(slice(-3, None)))
    reseal(bundle, settings)
    report = verify_bundle(bundle, key_ids=(bundle_key_id(bundle),))
    assert not report.ok
    assert {p.problem for p in report.problems} >= {"deleted", "unsigned"}


def test_a_bundle_forged_with_another_key_passes_only_unpinned(
    bundle: Path, settings: Settings, tmp_path: Path
) -> None:
    """The manifest, checkpoints and key all replaced: only pinning the key id catches it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from infra.audit.checkpoints import Checkpoint, sign_checkpoint
    from infra.audit.keys import public_key_pem
    from infra.chainhash import link_hash

    real = bundle_key_id(bundle)
    rewrite(bundle, edit_event(7))
    events = [json.loads(line) for line in (bundle / "events.jsonl").read_text().splitlines()]
    prev = bytes(32)
    for event in events:  # recompute every hash from the edit on
        prev = link_hash(
            prev,
            event["position"],
            event["originator_id"],
            event["originator_version"],
            event["topic"],
            base64.b64decode(event["state"]),
        )
        event["hash"] = prev.hex()
    (bundle / "events.jsonl").write_text(
        "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
    )
    intruder = Ed25519PrivateKey.generate()
    old = [
        Checkpoint.from_json(json.loads(line))
        for line in (bundle / "checkpoints.jsonl").read_text().splitlines()
    ]
    hashes = {e["position"]: bytes.fromhex(e["hash"]) for e in events}
    forged = [
        sign_checkpoint(intruder, c.log, c.position, hashes[c.position], c.reason) for c in old
    ]
    (bundle / "checkpoints.jsonl").write_text(
        "".join(json.dumps(c.as_json()) + "\n" for c in forged)
    )
    chain = json.loads((bundle / "chain.json").read_text())
    chain["head"]["hash"] = events[-1]["hash"]
    (bundle / "chain.json").write_text(json.dumps(chain, indent=2) + "\n")
    (bundle / "public_key.pem").write_bytes(public_key_pem(intruder.public_key()))
    forged_settings = settings.model_copy(update={"audit_signing_key_file": tmp_path / "i.pem"})
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    (tmp_path / "i.pem").write_bytes(
        intruder.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    reseal(bundle, forged_settings)

    assert verify_bundle(bundle).ok  # consistent with itself: why the key must be pinned
    pinned = verify_bundle(bundle, key_ids=(real,))
    assert [p.problem for p in pinned.problems] == ["untrusted-key"]


# -- slices ----------------------------------------------------------------------------------


def test_a_cycle_export_links_into_the_chain(
    ledger: OkrLedger, settings: Settings, tmp_path: Path
) -> None:
    an_org(ledger, people=2, renames=3)  # an earlier cycle's history
    later = an_org_again(ledger)
    summary = export_bundle(ledger, tmp_path / "cycle", cycle_id=later.cycle_id, settings=settings)
    assert summary.report.ok, summary.report
    events = [
        json.loads(line) for line in (tmp_path / "cycle" / "events.jsonl").read_text().splitlines()
    ]
    assert events[0]["originator_id"] == str(later.cycle_id)  # starts with the cycle's plan
    assert events[-1]["position"] == later.closed_at  # ends with its close
    chain = json.loads((tmp_path / "cycle" / "chain.json").read_text())
    anchor = chain["anchor"]
    reader = ChainReader.for_recorder(ledger.recorder)
    stored = sql(
        settings.database_url or "",
        "SELECT hash FROM okrledger_events_chain WHERE position = %s",
        (anchor["position"],),
    )
    assert anchor["position"] == events[0]["position"] - 1
    assert bytes(stored[0][0]).hex() == anchor["hash"]
    assert summary.report.checkpoints_matched[-1] == later.closed_at
    head = reader.head()
    assert head is not None and head.position > later.closed_at  # the tail is not exported
    done = run_verifier(summary.out, "--key-id", bundle_key_id(summary.out), cwd=tmp_path / "a")
    assert done.returncode == 0, done.stdout


def an_org_again(ledger: OkrLedger) -> Org:
    from datetime import date

    cycle_id = ledger.plan_cycle("2026-Q2", date(2026, 4, 1), date(2026, 6, 30), ADMIN).id
    team_id = ledger.form_team("Growth", ADMIN).id
    ledger.start_cycle(cycle_id, ADMIN)
    ledger.rename_team(team_id, "Growth 2", ADMIN)
    ledger.open_grading(cycle_id, ADMIN)
    closed = ledger.close_cycle(cycle_id, ADMIN).position
    assert closed is not None
    ledger.rename_team(team_id, "Growth 3", ADMIN)  # after the close
    return Org({}, team_id, cycle_id, closed)


def test_a_time_range_export_and_an_empty_one(
    ledger: OkrLedger, org: Org, settings: Settings, tmp_path: Path
) -> None:
    reader = ChainReader.for_recorder(ledger.recorder)
    start, end = reader.committed_at(5), reader.committed_at(12)
    assert start is not None and end is not None
    summary = export_bundle(
        ledger, tmp_path / "range", from_time=start, to_time=end, settings=settings
    )
    assert summary.report.ok, summary.report
    first, last = summary.first_position, summary.head_position
    assert first is not None and last is not None
    assert reader.committed_at(first) == start and first <= 5 and last >= 12
    assert summary.anchor_position == first - 1

    empty = export_bundle(
        ledger,
        tmp_path / "empty",
        from_time=end + timedelta(days=365),
        settings=settings,
    )
    assert empty.count == 0 and empty.report.ok


def test_an_unsigned_export_says_so(
    ledger: OkrLedger, org: Org, settings: Settings, tmp_path: Path
) -> None:
    unkeyed = settings.model_copy(update={"audit_signing_key_file": tmp_path / "none.pem"})
    summary = export_bundle(ledger, tmp_path / "unsigned", settings=unkeyed)
    assert summary.key_id is None and summary.report.ok
    assert not (summary.out / "public_key.pem").exists()
    assert not verify_bundle(summary.out).ok
    assert verify_bundle(summary.out, allow_unsigned=True).ok


def test_a_tampered_chain_is_not_exported_signed(
    ledger: OkrLedger, org: Org, settings: Settings, tmp_path: Path
) -> None:
    sql(settings.database_url or "", f"DELETE FROM {EVENTS} WHERE notification_id = 4")
    with pytest.raises(ExportError, match="refusing to export: the chain is deleted at 4"):
        export_bundle(ledger, tmp_path / "refused", settings=settings)
