"""The domain's text rule, which the CLI, imports and the web forms meet as well as the API:
no control characters in a single line, none but tab and line breaks in paragraphs, and no
unpaired surrogates or noncharacters anywhere."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.errors import InvalidValue, clean_text, is_multiline, require_text
from domain.objective import Kind
from domain.scoring import Direction, Measure

CONTROL = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]]
BAD_ANYWHERE = ["\ud800", "\udfff", "\ufdd0", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"]
TEXT = st.text(st.characters(categories=["L", "N", "P", "Zs", "So"]), max_size=20)


@given(before=TEXT, bad=st.sampled_from(CONTROL + BAD_ANYWHERE), after=TEXT)
def test_a_single_line_refuses_every_control_character(before: str, bad: str, after: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        require_text(f"x{before}{bad}{after}", "title")
    assert (refused.value.rule, refused.value.field) == ("control_character", "title")
    assert f"U+{ord(bad):04X}" in refused.value.message


@given(before=TEXT, bad=st.sampled_from(CONTROL + BAD_ANYWHERE), after=TEXT)
def test_paragraphs_keep_tab_and_line_breaks_only(before: str, bad: str, after: str) -> None:
    text = f"x{before}{bad}{after}"
    if bad in "\t\n\r":
        assert clean_text(text, "changes.description") == text.strip()
    else:
        with pytest.raises(InvalidValue) as refused:
            clean_text(text, "changes.description")
        assert refused.value.field == "changes.description"


@given(text=TEXT)
def test_ordinary_text_passes(text: str) -> None:
    assert clean_text(f"{text}😀", "name") == f"{text}😀".strip()


def test_which_fields_are_paragraphs() -> None:
    assert [is_multiline(f) for f in ("reason", "changes.description", "note", "text")] == [
        True
    ] * 4
    assert [is_multiline(f) for f in ("name", "title", "label", "unit", "values")] == [False] * 5


def test_the_ledger_refuses_a_name_with_nul_and_records_nothing() -> None:
    ledger = OkrLedger()
    ctx = CommandContext.system()
    with pytest.raises(InvalidValue) as refused:
        ledger.register_person("a\x00b", "ab@acme.example", ctx)
    assert refused.value.rule == "control_character"
    assert ledger.recorder.max_notification_id() in (None, 0)
    person = ledger.register_person("Ada", "ada@acme.example", ctx)
    with pytest.raises(InvalidValue):
        ledger.deactivate_person(person.id, "left\x1b[2J", ctx)
    ledger.deactivate_person(person.id, "left the company\r\nafter ten years", ctx)


def test_every_event_reason_meets_the_rule() -> None:
    """The reason is checked where every event is stamped, so a command that forgets to check
    its own still cannot store one: here, a key result's edit."""
    ledger = OkrLedger()
    ctx = CommandContext.system()
    today = date.today()
    cycle = ledger.plan_cycle("Q", today, today + timedelta(days=90), ctx).id
    team = ledger.form_team("Platform", ctx).id
    objective = ledger.draft_objective(
        cycle_id=cycle, title="Fast builds", kind=Kind.COMMITTED, ctx=ctx, owner_team_id=team
    ).id
    kr = ledger.add_key_result(
        objective, title="Build time", measure=Measure.METRIC, baseline=10, target=5,
        direction=Direction.DECREASE, ctx=ctx,
    ).extra_id  # fmt: skip
    assert kr is not None
    head = ledger.recorder.max_notification_id()
    with pytest.raises(InvalidValue) as refused:
        ledger.update_key_result(objective, kr, ctx, target=4, reason="faster\x00")
    assert (refused.value.rule, refused.value.field) == ("control_character", "reason")
    assert ledger.recorder.max_notification_id() == head
    ledger.update_key_result(objective, kr, ctx, target=4, reason="faster:\n\tthe cache")
