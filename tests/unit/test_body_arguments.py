"""Bodies whose fields are their command's arguments by name (`Body.arguments()`): every field
must be a parameter of the ledger command the use case passes it to, or the command would
fail on an unexpected keyword (a 500) the day a field is added to the body alone."""

from __future__ import annotations

import inspect
import typing

import pytest

import domain.access
import domain.initiative
import domain.kpi
import domain.objective
import domain.objective_values
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


TYPES = {
    **vars(typing),
    **vars(domain.access),
    **vars(domain.objective),
    **vars(domain.objective_values),
    **vars(domain.initiative),
    **vars(domain.kpi),
}
"""The names a postponed `**kw: Unpack[...]` annotation (a string) is read with."""


def keywords(command: object) -> set[str]:
    """The names `command` takes: its parameters', and for `**draft: Unpack[ObjectiveDraft]`
    the draft's keys."""
    names = set()
    for name, parameter in inspect.signature(command).parameters.items():  # type: ignore[arg-type]
        names.add(name)
        hint = parameter.annotation
        if parameter.kind is inspect.Parameter.VAR_KEYWORD and isinstance(hint, str):
            hint = eval(hint, TYPES)
        if typing.get_origin(hint) is typing.Unpack:
            names |= set(typing.get_type_hints(typing.get_args(hint)[0]))
    return names


@pytest.mark.parametrize(("body", "command"), PASSED_WHOLE, ids=lambda v: v.__name__)
def test_every_field_is_a_parameter_of_its_command(body: type[s.Body], command: object) -> None:
    parameters = keywords(command)
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
