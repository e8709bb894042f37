"""`okr import` as a real process against a fresh PostgreSQL database: the template, a dry run
that writes nothing, the import, the same file again, and a refused file (exit 1, each row)."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.servers import okr_env, run_okr

pytestmark = pytest.mark.postgres


def _okr(*args: str, database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = okr_env(database_url, data_dir, COLUMNS="200")
    return run_okr(*args, env=env, timeout=240)


def test_template_dry_run_import_and_again(database_url: str, tmp_path: Path) -> None:
    def okr(*args: str) -> subprocess.CompletedProcess[str]:
        return _okr(*args, database_url=database_url, data_dir=tmp_path)

    token = okr(
        "token", "create", "--email", "ida@acme.example", "--name", "Ida", "--role", "admin"
    )
    assert token.returncode == 0, token.stderr
    template = tmp_path / "okrs.xlsx"
    assert okr("import", "--template", str(template)).returncode == 0
    book = load_workbook(template)
    assert book.sheetnames[0] == "instructions"
    start = date.today() - timedelta(days=30)
    book["cycles"].append(["Now", start, start + timedelta(days=90)])
    book["objectives"].append(["O-1", "Now", "Ship it", "", "committed", "ida@acme.example"])
    book["key_results"].append(["KR-1", "O-1", "Users", "metric", 0, 100])
    book["check_ins"].append(["KR-1", start + timedelta(days=7), 10, 6, "first week"])
    book["check_ins"].append(["KR-1", start + timedelta(days=14), 25, 7, "second week"])
    book.save(template)

    dry = okr("import", str(template), "--dry-run")  # the only admin imports
    assert dry.returncode == 0, dry.stderr
    assert "created (5)" in dry.stdout and "Dry run: nothing was written." in dry.stdout
    rows = [[c.strip() for c in line.split("│")] for line in dry.stdout.splitlines()]
    assert [
        "",
        "check_ins",
        "3",
        "check_in KR-1@" + str(start + timedelta(days=14)),
        "",
        "",
    ] in rows

    done = okr("import", str(template), "--by", "ida@acme.example")
    assert done.returncode == 0, done.stderr
    assert "Imported:" in done.stdout and "events written" in done.stdout

    again = okr("import", str(template), "--by", "ida@acme.example")
    assert again.returncode == 0, again.stderr
    assert "created" not in again.stdout and "Imported: 0 events" in again.stdout

    book["check_ins"].append(["KR-1", date.today() + timedelta(days=3), 30, 7, ""])
    book.save(template)
    refused = okr("import", str(template), "--by", "ida@acme.example")
    assert refused.returncode == 1
    assert "Nothing was imported" in refused.stderr
    assert "check_ins row 4" in refused.stderr and "(effective_date_in_future)" in refused.stderr
