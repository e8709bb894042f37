"""The domain's text rule, which the CLI, imports and the web forms meet as well as the API:
no control characters in a single line, none but tab and line breaks in paragraphs, and no
unpaired surrogates or noncharacters anywhere."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.errors import InvalidValue, clean_text, is_multiline, require_text

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
