"""docs/adding-an-event.md stays true: its code blocks, applied to a scratch copy of the
repository exactly as the guide shows them, pass the catalogue tests; without the catalogue entry
or the tree's handler they fail as the guide says; and the example touches four product files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "adding-an-event.md"
COPIED = ("domain", "projections", "infra", "pyproject.toml", "tests/__init__.py")
COPIED_TESTS = (
    "tests/conftest.py",
    "tests/steps.py",
    "tests/unit/__init__.py",
    "tests/unit/projections",
)
CATALOGUE_TESTS = "tests/unit/projections/test_catalogue.py"

_INSERT = re.compile(
    r'<!-- insert into (?P<file>\S+) before: "(?P<anchor>[^"]+)" -->\n```python\n(?P<code>.*?)```',
    re.DOTALL,
)
_RUN = re.compile(r"<!-- run -->\n```sh\n(?P<command>.*?)\n```", re.DOTALL)


@dataclass(frozen=True)
class Step:
    file: str
    anchor: str
    code: str


def steps() -> list[Step]:
    return [Step(m["file"], m["anchor"], m["code"]) for m in _INSERT.finditer(GUIDE.read_text())]


def scratch_copy(tmp_path: Path, applied: list[Step]) -> Path:
    copy = tmp_path / "repo"
    for name in (*COPIED, *COPIED_TESTS):
        source, target = ROOT / name, copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    for step in applied:
        path = copy / step.file
        text = path.read_text()
        assert text.count(step.anchor) == 1, f"{step.file}: anchor {step.anchor!r} not unique"
        path.write_text(text.replace(step.anchor, step.code + step.anchor, 1))
    return copy


def run(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=copy, env=env, capture_output=True, text=True, timeout=240
    )


def record_fingerprints(copy: Path) -> None:
    command = _RUN.search(GUIDE.read_text())
    assert command is not None
    program, target = command["command"].split(" > ")
    assert program.startswith("python ")
    done = run(copy, *program.split()[1:])
    assert done.returncode == 0, done.stderr
    (copy / target).write_text(done.stdout)


def catalogue_tests(copy: Path) -> subprocess.CompletedProcess[str]:
    return run(copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", CATALOGUE_TESTS)


def test_the_guide_touches_four_product_files_named_in_its_table() -> None:
    files = sorted({step.file for step in steps()})
    assert files == [
        "domain/ledger/objectives.py",
        "domain/objective.py",
        "projections/narrative.py",
        "projections/tree.py",
    ]
    for name in files:
        assert f"| `{name}` |" in GUIDE.read_text()


def test_the_guides_example_passes_the_catalogue_checks(tmp_path: Path) -> None:
    copy = scratch_copy(tmp_path, steps())
    record_fingerprints(copy)
    done = catalogue_tests(copy)
    assert done.returncode == 0, done.stdout[-3000:]
    lint = run(copy, "-m", "ruff", "check", "--no-cache", *{s.file for s in steps()})
    assert lint.returncode == 0, lint.stdout
    formatted = run(
        copy, "-m", "ruff", "format", "--check", "--no-cache", *{s.file for s in steps()}
    )
    assert formatted.returncode == 0, formatted.stdout


@pytest.mark.parametrize(
    ("left_out", "failure"),
    [
        (
            "projections/narrative.py",
            "events without a catalogue entry (and so without a phraser):"
            " ['Objective.PrivacyChanged']",
        ),
        ("projections/tree.py", "tree: Objective.PrivacyChanged is neither handled nor ignored"),
    ],
)
def test_the_guides_example_fails_as_it_says_without_a_step(
    tmp_path: Path, left_out: str, failure: str
) -> None:
    copy = scratch_copy(tmp_path, [s for s in steps() if s.file != left_out])
    record_fingerprints(copy)
    done = catalogue_tests(copy)
    assert done.returncode != 0
    assert failure in done.stdout
