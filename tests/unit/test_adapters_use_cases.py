"""The command line, SCIM and the web UI are adapters: they change nothing but through the use
cases (api/usecases/). No call of a ledger command (a method of `OkrLedger` that answers a
`CommandResult`) on anything called `ledger` appears in them; import-linter keeps `api.scim`
and `api.web` from importing the ledger at all (pyproject.toml)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from domain.application import OkrLedger
from domain.ledger.command import Command

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = [
    ROOT / "api" / "cli.py",
    ROOT / "api" / "audit_cli.py",
    *sorted((ROOT / "api" / "scim").rglob("*.py")),
    *sorted((ROOT / "api" / "web").rglob("*.py")),
]


def _commands() -> set[str]:
    names = set()

    def is_method(member: object) -> bool:
        return inspect.isfunction(member) or isinstance(member, Command)

    for name, function in inspect.getmembers(OkrLedger, is_method):
        answer = inspect.signature(function).return_annotation
        if not name.startswith("_") and "CommandResult" in str(answer):
            names.add(name)
    return names


def _names_ledger(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return "ledger" in node.id
    if isinstance(node, ast.Attribute):
        return "ledger" in node.attr
    return False


def ledger_commands_called(source: str, commands: set[str]) -> list[str]:
    calls = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        func = node.func
        if func.attr == "expecting" and isinstance(func.value, ast.Attribute):
            func = func.value  # ledger.X.expecting(version)(...)
        if func.attr in commands and _names_ledger(func.value):
            calls.append(f"{node.lineno}: {ast.unparse(func)}")
    return calls


def test_the_ledger_commands_are_found() -> None:
    commands = _commands()
    assert {"register_person", "issue_token", "revoke_token", "change_email"} <= commands
    assert {"approve_objective", "check_in", "update_objective"} <= commands
    caught = ledger_commands_called(
        "ledger.register_person(n, e, ctx)\nviewer.services.ledger.revoke_token(t, r, c)\n"
        "people.register_person(n, e)\nledger.approve_objective.expecting(3)(o, c)\n",
        commands,
    )
    assert caught == [
        "1: ledger.register_person",
        "2: viewer.services.ledger.revoke_token",
        "4: ledger.approve_objective",
    ]


def test_the_adapters_call_no_ledger_command() -> None:
    commands = _commands()
    found = {
        str(path.relative_to(ROOT)): calls
        for path in ADAPTERS
        if (calls := ledger_commands_called(path.read_text(), commands))
    }
    assert found == {}
