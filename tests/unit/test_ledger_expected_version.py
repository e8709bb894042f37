"""Every ledger command that takes `expected_version` passes it on.

A command that accepts the caller's If-Match and drops it lets two concurrent writers both win:
the HTTP layer maps `expected_version` from If-Match, so nothing above the ledger would notice.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import domain.ledger

LEDGER = Path(inspect.getfile(domain.ledger)).parent


def _commands_dropping_the_version(source: str) -> list[str]:
    dropping = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        params = node.args.args + node.args.kwonlyargs
        if not any(p.arg == "expected_version" for p in params):
            continue
        used = any(
            isinstance(n, ast.Name) and n.id == "expected_version" and isinstance(n.ctx, ast.Load)
            for n in ast.walk(node)
        )
        if not used:
            dropping.append(node.name)
    return dropping


@pytest.mark.parametrize("module", sorted(LEDGER.glob("*.py")), ids=lambda p: p.name)
def test_every_command_passes_its_expected_version_on(module: Path) -> None:
    assert _commands_dropping_the_version(module.read_text()) == []


def test_the_check_finds_a_command_that_drops_it() -> None:
    source = (
        "class Ledger:\n"
        "    def correct(self, kpi_id, value, expected_version=None):\n"
        "        return self._on(KPI, kpi_id, None, lambda k: k.correct(value))\n"
        "    def keep(self, kpi_id, *, expected_version=None):\n"
        "        return self._on(KPI, kpi_id, expected_version, lambda k: k.keep())\n"
    )
    assert _commands_dropping_the_version(source) == ["correct"]


def test_the_ledger_has_commands_that_take_it() -> None:
    """The parametrized check above is not vacuous: the ledger's modules do take the version."""
    taking = [
        node.name
        for module in LEDGER.glob("*.py")
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.FunctionDef)
        and any(p.arg == "expected_version" for p in node.args.args + node.args.kwonlyargs)
    ]
    assert len(taking) > 20
