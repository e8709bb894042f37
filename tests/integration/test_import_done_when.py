"""Issue 18's "done when", as one story against the real parts: the test session's PostgreSQL,
`okr` as a real process, the SQL data source on the same PostgreSQL.

A new admin downloads the template (`okr import --template`) and fills two objectives with a
quarter of weekly check-ins (openpyxl) → `okr import --dry-run` writes nothing → `okr import`
→ the tree, the replay (week by week, on the check-ins' own dates, though the whole quarter
was committed today) and the audit trail (each value's file, sheet and row) → a key result
follows a SQL query and moves by itself (the scheduler's rounds) → `okr export`, then `okr
import-ledger` into a fresh database, gives the same tree, replay, history and audit trail.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from openpyxl import load_workbook
from pydantic import SecretStr

from api.imports.plan import external_uuid
from infra.bootstrap import build_ledger
from infra.settings import Settings
from infra.sources.sync import Health, SourceSync
from tests.audit.test_ledger_package import answers, serving, settings_for
from tests.servers import OKR

pytestmark = pytest.mark.postgres

API = "/api/v1"
ADMIN = "ida@acme.example"
TODAY = date.today()
STARTS = TODAY - timedelta(weeks=11)
ENDS = STARTS + timedelta(days=90)
WEEKS = 10
CHECK_IN_DAYS = [STARTS + timedelta(weeks=week, days=4) for week in range(WEEKS)]
"""One check-in per week of the cycle so far, the last one ten days ago."""


def deploys(week: int) -> float:
    return 5.0 + 3 * week


def users(week: int) -> float:
    return 15.0 * week


class Okr:
    """`okr` as a process on one database and data folder."""

    def __init__(self, settings: Settings) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OKR_")}
        self.env = {
            **env,
            "OKR_DATABASE_URL": settings.database_url or "",
            "OKR_DATA_DIR": str(settings.data_dir),
            "OKR_PERSON_ID_SECRET": settings.person_id_secret.get_secret_value()
            if settings.person_id_secret
            else "",
            "OKR_AUDIT_SIGNING_KEY_FILE": str(settings.audit_signing_key_file),
            "COLUMNS": "200",
            "NO_COLOR": "1",
            "PYTHONIOENCODING": "utf-8",
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(OKR), *args], env=self.env, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done


def fill(template: Path) -> None:
    book = load_workbook(template)
    book["cycles"].append(["This quarter", STARTS, ENDS, "weekly", "scale"])
    book["people"].append(["grace@acme.example", "Grace Hopper"])
    book["objectives"].append(
        ["O-1", "This quarter", "Make deploys boring", "", "committed", ADMIN]
    )
    book["objectives"].append(
        ["O-2", "This quarter", "Ship the CLI", "", "aspirational", "grace@acme.example"]
    )
    book["key_results"].append(["KR-1", "O-1", "Deploys per week", "metric", 5, 40, "deploys"])
    book["key_results"].append(["KR-2", "O-2", "CLI users", "metric", 0, 200, "users"])
    for week, day in enumerate(CHECK_IN_DAYS):
        book["check_ins"].append(["KR-1", day, deploys(week), 6, f"week {week + 1}"])
        book["check_ins"].append(["KR-2", day, users(week), 5, ""])
    book.save(template)


def head(settings: Settings) -> int:
    with psycopg.connect(settings.database_url or "") as conn:
        row = conn.execute("SELECT max(notification_id) FROM okrledger_events").fetchone()
    return int(row[0] or 0) if row else 0


def kr_values(frame: dict[str, Any]) -> dict[str, float | None]:
    """Each key result's current value in a replay frame, by title."""
    found: dict[str, float | None] = {}
    stack = list(frame["tree"])
    while stack:
        node = stack.pop()
        for kr in node["key_results"]:
            found[kr["title"]] = kr["current_value"]
        stack += node.get("children", [])
    return found


@pytest.fixture
def fresh_url(_postgres_server: Any, postgres_server_url: str) -> Iterator[str]:
    """A second new database, for the ledger package to go into."""
    with _postgres_server.fresh_database() as url:
        yield url


def test_template_import_replay_audit_source_and_the_ledger_round_trip(
    database_url: str, fresh_url: str, tmp_path: Path
) -> None:
    url = database_url
    settings = settings_for(url, tmp_path / "origin").model_copy(
        update={"source_connections": SecretStr(f"warehouse={url}")}
    )
    okr = Okr(settings)
    token = okr("token", "create", "--email", ADMIN, "--name", "Ida", "--role", "admin")
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}

    # The template, filled with a quarter; a dry run; the import.
    template = tmp_path / "okrs.xlsx"
    okr("import", "--template", str(template))
    fill(template)
    before = head(settings)
    dry = okr("import", str(template), "--dry-run")
    assert "Dry run: nothing was written." in dry.stdout
    assert head(settings) == before
    done = okr("import", str(template))
    assert "Imported:" in done.stdout
    imported_head = head(settings)
    assert imported_head > before

    o1 = external_uuid("objective", "O-1")
    with serving(settings) as client:
        cycle = next(
            c
            for c in client.get(f"{API}/cycles", headers=headers).json()["items"]
            if c["name"] == "This quarter"
        )
        tree = client.get(f"{API}/cycles/{cycle['id']}/tree", headers=headers).json()
        titles = {node["title"] for node in tree["roots"]}
        assert titles == {"Make deploys boring", "Ship the CLI"}

        # The replay tells the quarter by its dates: one imported check-in a week per key
        # result, each week's value, though all of it was committed a moment ago.
        replay = client.get(f"{API}/cycles/{cycle['id']}/replay?step=week", headers=headers)
        frames = replay.json()["frames"]
        for week in range(WEEKS):
            frame = frames[week]
            assert kr_values(frame) == {
                "Deploys per week": deploys(week),
                "CLI users": users(week),
            }, frame["boundary"]
            reported = [
                e for e in frame["events"] if e["event_type"] == "Objective.ProgressReported"
            ]
            assert len(reported) == 2
            assert {e["provenance"]["source"] for e in reported} == {"import"}
            assert all(e["counted_at"][:10] == str(CHECK_IN_DAYS[week]) for e in reported)

        # The audit trail names each value's file, sheet and row.
        audit = client.get(
            f"{API}/audit",
            params={"type": "Objective.ProgressReported", "limit": 100},
            headers=headers,
        ).json()["items"]
        sha = hashlib.sha256(template.read_bytes()).hexdigest()
        assert len(audit) == 2 * WEEKS
        assert {(r["provenance"]["file"], r["provenance"]["sha256"]) for r in audit} == {
            ("okrs.xlsx", sha)
        }
        assert sorted(int(r["provenance"]["row"]) for r in audit) == list(range(2, 2 + 2 * WEEKS))

        # KR-1 follows a SQL query on the same PostgreSQL.
        kr1 = next(n for n in tree["roots"] if n["objective_id"] == str(o1))["key_results"][0]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE deploys (n integer); INSERT INTO deploys VALUES (31)")
        attached = client.put(
            f"{API}/objectives/{o1}/key-results/{kr1['key_result_id']}/source",
            json={
                "kind": "sql",
                "connection": "warehouse",
                "query": "SELECT sum(n) FROM deploys",
                "reason": "the deploy log counts them",
            },
            headers=headers,
        )
        assert attached.status_code == 200, attached.text

    # The scheduler's rounds: the key result moves by itself.
    ledger = build_ledger(settings)
    try:
        now = datetime.now(UTC) - timedelta(hours=2)
        rounds = SourceSync(ledger, settings, lambda: now)
        assert [(o.health, o.value) for o in rounds.sync_due()] == [(Health.OK, 31.0)]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO deploys VALUES (4)")
        now += timedelta(hours=1)
        assert [(o.health, o.value) for o in rounds.sync_due()] == [(Health.OK, 35.0)]
    finally:
        ledger.close()

    history = f"/objectives/{o1}/history"
    paths = [
        f"/cycles/{cycle['id']}/tree",
        f"/cycles/{cycle['id']}/replay?step=week",
        f"/cycles/{cycle['id']}/replay?step=day",
        history,
        "/audit?limit=500",
    ]
    with serving(settings) as client:
        before_round_trip = answers(client, headers["Authorization"][7:], paths)
    frames = before_round_trip[paths[1]]["body"]["frames"]
    now_frame = next(f for f in frames if f["boundary"] >= datetime.now(UTC).isoformat())
    assert kr_values(now_frame)["Deploys per week"] == 35.0
    fetched = [e for e in now_frame["events"] if e["actor"].startswith("source:")]
    assert [e["after"].get("value") for e in fetched] == [31.0, 35.0]
    assert all(e["provenance"]["source"] == "SQL on 'warehouse'" for e in fetched)
    assert all("counted_at" not in e for e in fetched)  # fetched now, counted now
    last_imported = frames[WEEKS - 1]
    assert kr_values(last_imported)["Deploys per week"] == deploys(WEEKS - 1)

    # The exit door: export, and import the package into a fresh database.
    package = tmp_path / "package"
    okr("export", "--out", str(package))
    fresh = settings.model_copy(update={"database_url": fresh_url, "data_dir": tmp_path / "fresh"})
    fresh.data_dir.mkdir()
    Okr(fresh)("import-ledger", str(package))
    with serving(fresh) as client:
        after_round_trip = answers(client, headers["Authorization"][7:], paths)
    different = [p for p in paths if before_round_trip[p] != after_round_trip[p]]
    assert different == []
