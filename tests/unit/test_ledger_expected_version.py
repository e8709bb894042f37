"""Every ledger command honours the caller's expected version (If-Match).

A command that accepts the caller's If-Match and drops it lets two concurrent writers both win:
the HTTP layer maps If-Match to the expected version, so nothing above the ledger would notice.

The ledger's commands on one aggregate are made by one piece (`domain/ledger/command.py`), which
takes the version apart from the command's arguments (`ledger.X.expecting(3)(id, ...)`): each
is called here with a stale version and must refuse before it reads any other argument. The
ledger methods still written with an `expected_version` parameter must pass it on.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from uuid import UUID

import pytest

import domain.ledger
from domain.access import Role
from domain.application import CommandResult, OkrLedger
from domain.channel import ChannelKind
from domain.errors import OkrError
from domain.initiative import KeyResultRef
from domain.ledger.command import BoundCommand, Command, ledger_command
from domain.ledger.objectives import ObjectiveLedger
from tests.unit.builders import ADMIN, ALICE, an_org, ctx
from tests.unit.strategy.test_application import a_kpi

LEDGER = Path(inspect.getfile(domain.ledger)).parent
STALE = 10_000
COMMANDS = {
    name: member for name, member in inspect.getmembers(OkrLedger) if isinstance(member, Command)
}


def _id_name(command: Command[OkrLedger, ...]) -> str:
    """The name of the aggregate's id, the parameter after the ledger."""
    return list(inspect.signature(command).parameters)[1]


@pytest.fixture(scope="module")
def aggregates() -> tuple[OkrLedger, dict[str, UUID]]:
    """An in-memory ledger with one aggregate of each kind the commands change."""
    org = an_org()
    app = org.app
    objective_id, kr_id = org.approved_objective()
    return app, {
        "objective_id": objective_id,
        "person_id": ALICE,
        "team_id": org.team_id,
        "cycle_id": org.q2_id,
        "token_id": app.issue_token(ALICE, Role.MEMBER, ctx(ADMIN))[1].id,
        "kpi_id": a_kpi(org),
        "initiative_id": app.launch_initiative(
            title="Onboarding",
            owner_person_id=ALICE,
            key_results=[KeyResultRef(objective_id, kr_id)],
            ctx=ctx(ALICE),
        ).id,
        "webhook_id": app.register_webhook_endpoint(
            "https://hooks.example.com/okr", ["*"], False, ctx(ADMIN)
        ).id,
        "channel_id": app.connect_chat_channel(
            ChannelKind.SLACK, None, "https://hooks.slack.example.com/x", ctx(ADMIN)
        ).id,
    }


def _refuses_a_stale_version(command: BoundCommand[...], aggregate_id: UUID) -> bool:
    """Whether the command refuses a stale version before it reads any other argument: every
    required one is given as None (the change would break on it, had the version been lost)."""
    args: list[object] = []
    kwargs: dict[str, object] = {}
    for parameter in list(inspect.signature(command).parameters.values())[1:]:
        if parameter.default is not inspect.Parameter.empty:
            continue
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = None
        elif parameter.kind is not inspect.Parameter.VAR_KEYWORD:
            args.append(None)
    try:
        command.expecting(STALE)(aggregate_id, *args, **kwargs)
    except OkrError as refused:
        return refused.rule == "version_mismatch"
    except Exception:  # the change ran on the arguments of None: the version was lost
        return False
    return False


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_refuses_a_stale_expected_version(
    name: str, aggregates: tuple[OkrLedger, dict[str, UUID]]
) -> None:
    ledger, ids = aggregates
    id_name = _id_name(COMMANDS[name])
    assert id_name in ids, f"{name}: no {id_name} to try it on (add one to the fixture)"
    assert _refuses_a_stale_version(getattr(ledger, name), ids[id_name])


def test_the_check_finds_a_command_that_drops_it(
    aggregates: tuple[OkrLedger, dict[str, UUID]],
) -> None:
    ledger, ids = aggregates

    def run(
        ledger: ObjectiveLedger, objective_id: UUID, expected_version: int | None, note: str
    ) -> CommandResult:
        return ledger._on_objective(objective_id, None, lambda o, c: None)

    dropping = ledger_command(run)
    keeping = ledger_command(
        lambda ledger, objective_id, expected_version, note: ledger._on_objective(
            objective_id, expected_version, lambda o, c: None
        )
    )
    assert not _refuses_a_stale_version(dropping.__get__(ledger), ids["objective_id"])
    assert _refuses_a_stale_version(keeping.__get__(ledger), ids["objective_id"])


def test_the_ledger_is_made_of_such_commands() -> None:
    """The parametrized check above is not vacuous."""
    assert len(COMMANDS) > 20
    assert {"approve_objective", "check_in", "update_objective", "carry_over"} <= set(COMMANDS)
    assert {"update_kpi", "retire_kpi", "rename_team", "revoke_token"} <= set(COMMANDS)


def _methods_dropping_the_version(source: str) -> list[str]:
    dropping = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        params = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
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
def test_every_method_taking_the_version_passes_it_on(module: Path) -> None:
    assert _methods_dropping_the_version(module.read_text()) == []


def test_the_source_check_finds_a_method_that_drops_it() -> None:
    source = (
        "class Ledger:\n"
        "    def correct(self, kpi_id, value, expected_version=None):\n"
        "        return self._on(KPI, kpi_id, None, lambda k: k.correct(value))\n"
        "    def keep(self, kpi_id, *, expected_version=None):\n"
        "        return self._on(KPI, kpi_id, expected_version, lambda k: k.keep())\n"
    )
    assert _methods_dropping_the_version(source) == ["correct"]
