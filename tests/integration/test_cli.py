"""`okr demo` then `okr status`, as real processes against a fresh PostgreSQL database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.servers import OKR, okr_env, run_okr

pytestmark = pytest.mark.postgres


def _okr(*args: str, database_url: str, data_dir: Path) -> str:
    env = okr_env(database_url, data_dir, COLUMNS="200")
    done = run_okr(*args, env=env, timeout=240)
    assert done.returncode == 0, done.stderr or done.stdout
    return done.stdout


def _rows(output: str) -> dict[str, list[str]]:
    """Table rows of rich's output, keyed by their first cell."""
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if len(cells) >= 2:
            rows[cells[0]] = cells[1:]
    return rows


def _number(cell: str) -> int:
    return int(cell.replace(",", ""))


def test_demo_then_status(database_url: str, tmp_path: Path) -> None:
    assert OKR.exists(), f"{OKR} is not installed (pip install -e .)"

    demo = _rows(_okr("demo", "--seed", "7", database_url=database_url, data_dir=tmp_path))
    assert [demo[q][0] for q in ("Q2 2026", "Q3 2026", "Q4 2026")] == ["closed", "closed", "active"]
    written = _number(demo["events written"][0])
    assert written > 3000
    assert "time taken" in demo

    status = _rows(_okr("status", database_url=database_url, data_dir=tmp_path))
    assert _number(status["Cycle"][0]) == 3
    assert _number(status["Person"][0]) >= 15
    assert _number(status["total"][1]) == written

    again = _okr("demo", database_url=database_url, data_dir=tmp_path)
    assert "already loaded" in again
    status = _rows(_okr("status", database_url=database_url, data_dir=tmp_path))
    assert _number(status["total"][1]) == written
