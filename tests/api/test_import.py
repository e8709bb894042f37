"""The done-when of spreadsheet import, over real HTTP on a real PostgreSQL: the template
(written by `okr import --template`), filled with two objectives and a quarter of weekly
check-ins by openpyxl → a dry run (nothing written) → the import → the tree, the replay and the
audit trail show the quarter and where each value came from → the same file again writes
nothing → a changed value becomes a correction with the reason "import"."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from api.imports.plan import external_uuid
from api.imports.template import write_template
from domain.access import Role
from domain.application import OkrLedger
from domain.base import CommandContext
from tests.api.conftest import API


def last_full_quarter(today: date) -> tuple[date, date]:
    this_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end = this_start - timedelta(days=1)
    return date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end


QUARTER_START, QUARTER_END = last_full_quarter(date.today())
QUARTER = f"Q{(QUARTER_START.month - 1) // 3 + 1} {QUARTER_START.year}"
FRIDAYS = [
    QUARTER_START + timedelta(days=(4 - QUARTER_START.weekday()) % 7 + 7 * week)
    for week in range(12)
]


def filled_template(tmp_path: Path, *, value_of_week_5: float = 20.0) -> bytes:
    path = tmp_path / "okrs.xlsx"
    write_template(path)
    workbook = load_workbook(path)
    workbook["cycles"].append([QUARTER, QUARTER_START, QUARTER_END, "weekly", "scale"])
    workbook["teams"].append(["Platform", None, "ada@acme.example"])
    workbook["people"].append(["ada@acme.example", "Ada Lovelace"])
    workbook["people"].append(["grace@acme.example", "Grace Hopper"])
    objectives = workbook["objectives"]
    objectives.append(["O-1", QUARTER, "Make deploys boring", "", "committed", None, "Platform"])
    objectives.append(
        ["O-2", QUARTER, "Ship the CLI", "", "aspirational", "grace@acme.example", None, "KR-1"]
    )
    key_results = workbook["key_results"]
    key_results.append(["KR-1", "O-1", "Deploys per week", "metric", 5, 40, "deploys"])
    key_results.append(["KR-2", "O-2", "CLI users", "metric", 0, 200, "users"])
    check_ins = workbook["check_ins"]
    for week, friday in enumerate(FRIDAYS):
        deploys = value_of_week_5 if week == 5 else 5 + 3 * week
        check_ins.append(["KR-1", friday, deploys, 6 + week % 3, f"week {week + 1}"])
        check_ins.append(["KR-2", friday.isoformat(), 15 * week, 5, ""])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def post_import(client: Any, headers: dict[str, str], content: bytes, **form: Any) -> Any:
    return client.post(
        f"{API}/imports",
        files={"file": ("okrs.xlsx", content)},
        data={k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()},
        headers=headers,
    )


def admin_headers(ledger: OkrLedger) -> tuple[Any, dict[str, str]]:
    ctx = CommandContext.system()
    admin = ledger.register_person("Ida Admin", "ida@acme.example", ctx).id
    secret, _ = ledger.issue_token(admin, Role.ADMIN, ctx)
    return admin, {"Authorization": f"Bearer {secret}"}


def test_template_to_tree_replay_and_audit(client: Any, ledger: OkrLedger, tmp_path: Path) -> None:
    admin, headers = admin_headers(ledger)
    content = filled_template(tmp_path)
    before = ledger.recorder.max_notification_id()

    dry = post_import(client, headers, content, dry_run=True)
    assert dry.status_code == 200, dry.text
    preview = dry.json()
    assert preview["written"] is False
    assert ledger.recorder.max_notification_id() == before  # the dry run wrote nothing
    created = {(line["kind"], line["key"]) for line in preview["created"]}
    assert {("objective", "O-1"), ("objective", "O-2"), ("key_result", "KR-2")} <= created
    check_in_rows = [line["row"] for line in preview["created"] if line["kind"] == "check_in"]
    assert sorted(check_in_rows) == list(range(2, 2 + 2 * len(FRIDAYS)))

    done = post_import(client, headers, content)
    assert done.status_code == 200, done.text
    report = done.json()
    assert report["written"] is True and report["events"] == preview["events"]
    position = report["position"]
    read = {"min_position": position}

    cycles = client.get(f"{API}/cycles", params=read, headers=headers).json()
    quarter = next(c for c in cycles["items"] if c["name"] == QUARTER)
    tree = client.get(f"{API}/cycles/{quarter['id']}/tree", params=read, headers=headers).json()
    assert {"Make deploys boring", "Ship the CLI"} <= _titles(tree)

    # The objective's history keeps the quarter: every check-in on its own date.
    o1 = external_uuid("objective", "O-1")  # an imported objective's id follows its external id
    history = client.get(f"{API}/objectives/{o1}/history", params=read, headers=headers)
    assert history.status_code == 200, history.text
    assert set(FRIDAYS) <= {date.fromisoformat(d) for d in _effective_dates(history.json())}

    # The audit trail shows each value's source: the file, its SHA-256, the sheet and row.
    audit = client.get(
        f"{API}/audit",
        params={"type": "Objective.ProgressReported", "limit": 100, **read},
        headers=headers,
    ).json()
    rows = audit["items"]
    assert len(rows) == 2 * len(FRIDAYS)
    sha = hashlib.sha256(content).hexdigest()
    for row in rows:
        assert row["provenance"]["file"] == "okrs.xlsx"
        assert row["provenance"]["sha256"] == sha
        assert row["provenance"]["sheet"] == "check_ins"
        assert row["provenance"]["imported_by"] == str(admin)
    assert sorted(int(r["provenance"]["row"]) for r in rows) == check_in_rows

    # The same file again: nothing to write.
    again = post_import(client, headers, content)
    assert again.status_code == 200, again.text
    assert again.json()["created"] == [] and again.json()["changed"] == []
    assert again.json()["written"] is False
    assert ledger.recorder.max_notification_id() == position

    # One value changed: a correction with the reason "import", never an overwrite.
    changed = post_import(client, headers, filled_template(tmp_path, value_of_week_5=21.0))
    assert changed.status_code == 200, changed.text
    lines = changed.json()["changed"]
    assert [(line["kind"], line["row"]) for line in lines] == [("check_in", 12)]
    corrections = client.get(
        f"{API}/audit",
        params={"type": "Objective.CheckInCorrected", "min_position": changed.json()["position"]},
        headers=headers,
    ).json()["items"]
    assert len(corrections) == 1 and corrections[0]["reason"] == "import"


def _mappings(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in a JSON document, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _mappings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mappings(item)


def _effective_dates(node: Any) -> set[str]:
    return {
        m["effective_on"][:10] for m in _mappings(node) if isinstance(m.get("effective_on"), str)
    }


def _titles(node: Any) -> set[str]:
    return {m["title"] for m in _mappings(node) if "title" in m and "key_results" in m}
