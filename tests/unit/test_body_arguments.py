"""Bodies whose fields are their command's arguments by name (`Body.arguments()`): every field
must be a parameter of the ledger command the use case passes it to, or the command would
fail on an unexpected keyword (a 500) the day a field is added to the body alone."""

from __future__ import annotations

import inspect
import typing

import pytest

from api import schemas as s
from api import strategy_schemas as ss
from domain.application import OkrLedger

PASSED_WHOLE = [
    (s.ObjectiveCreate, OkrLedger.draft_objective),
    (s.KeyResultCreate, OkrLedger.add_key_result),
    (s.KeyResultPatch, OkrLedger.update_key_result),
    (ss.InitiativePatch, OkrLedger.update_initiative),
    (s.CycleCreate, OkrLedger.plan_cycle),
    (s.ObjectivePatch, OkrLedger.update_objective),
    (s.TokenCreate, OkrLedger.issue_token),
]


@pytest.mark.parametrize(("body", "command"), PASSED_WHOLE, ids=lambda v: v.__name__)
def test_every_field_is_a_parameter_of_its_command(body: type[s.Body], command: object) -> None:
    parameters = set(inspect.signature(command).parameters)  # type: ignore[arg-type]
    hints = typing.get_type_hints(command) if inspect.isfunction(command) else {}
    for name, hint in hints.items():  # `**draft: Unpack[ObjectiveDraft]`: the draft's keys
        if typing.get_origin(hint) is typing.Unpack:
            parameters |= {name, *typing.get_type_hints(typing.get_args(hint)[0])}
    assert [f for f in body.model_fields if f not in parameters] == []


def test_arguments_are_the_fields_as_sent_or_defaulted() -> None:
    body = s.KeyResultPatch(target=65)
    assert body.arguments() == {
        "title": None,
        "baseline": None,
        "target": 65.0,
        "weight": None,
        "reason": "",
    }
