"""Domain errors. Each names the rule it enforces so the edge can answer precisely."""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Any, Protocol, TypeVar
from uuid import UUID

E = TypeVar("E", bound=StrEnum)


class Supersedable(Protocol):
    """A recorded value a correction supersedes (a check-in, a KPI's measurement)."""

    @property
    def superseded_by(self) -> UUID | None: ...


S = TypeVar("S", bound=Supersedable)


class OkrError(Exception):
    """Base for every error the OKR model raises on purpose."""

    def __init__(self, rule: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.field = field


class InvalidValue(OkrError):
    """A value breaks a rule on its own (a confidence of 11, a negative weight): HTTP 422."""


class RuleViolated(OkrError):
    """The command is valid but the current state forbids it (wrong phase, self-approval): 409."""


class NotFound(OkrError):
    """A referenced aggregate or entity does not exist: HTTP 404."""

    def __init__(self, kind: str, identifier: object, field: str | None = None) -> None:
        super().__init__(
            f"{kind}_not_found", f"{kind.replace('_', ' ')} {identifier} not found", field
        )
        self.kind = kind
        self.identifier = identifier


def require(condition: bool, rule: str, message: str, field: str | None = None) -> None:
    """Raise RuleViolated unless `condition` holds."""
    if not condition:
        raise RuleViolated(rule, message, field)


def require_value(condition: bool, rule: str, message: str, field: str | None = None) -> None:
    """Raise InvalidValue unless `condition` holds."""
    if not condition:
        raise InvalidValue(rule, message, field)


def require_choice(choices: type[E], value: str, field: str) -> E:
    """One of an enumeration's values, or InvalidValue (rule `<field>_invalid`)."""
    try:
        return choices(value)
    except ValueError:
        raise InvalidValue(
            f"{field}_invalid",
            f"{field} must be one of {', '.join(c.value for c in choices)}",
            field,
        ) from None


def finite_number(value: float, field: str) -> float:
    """A finite number, or InvalidValue (rules `not_a_number`, `not_finite`)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidValue("not_a_number", f"{field} must be a number", field) from None
    require_value(math.isfinite(number), "not_finite", f"{field} must be a finite number", field)
    return number


MULTILINE_FIELDS = frozenset(
    {"comment", "description", "mission", "note", "query", "reason", "text", "vision"}
)
"""Fields written as paragraphs: they may hold line breaks and tabs. Every other text (names,
titles, labels, units, keys) is a single line."""

_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_FORBIDDEN_IN_TEXT = re.compile(
    f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]"
)
_FORBIDDEN_IN_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")


def is_multiline(field: str) -> bool:
    """Whether `field` (a dotted path: `changes.description`) is written as paragraphs."""
    return field.rpartition(".")[2] in MULTILINE_FIELDS


def forbidden_character(value: str, *, multiline: bool) -> str | None:
    """The first character text may not hold, if any: a control character (C0, DEL, C1; a
    single line also refuses tab, line feed and carriage return), an unpaired surrogate or a
    Unicode noncharacter."""
    found = (_FORBIDDEN_IN_TEXT if multiline else _FORBIDDEN_IN_LINE).search(value)
    return found.group() if found else None


def control_character_message(field: str, character: str, *, multiline: bool) -> str:
    allowed = "" if not multiline else " other than tab and line breaks"
    return (
        f"{field} must not contain control characters{allowed}, unpaired surrogates or "
        f"noncharacters (found U+{ord(character):04X})"
    )


def clean_text(value: str, field: str, *, multiline: bool | None = None) -> str:
    """Trimmed text (maybe empty) without control characters: InvalidValue (rule
    `control_character`) otherwise. Paragraph fields (`MULTILINE_FIELDS`) keep tab, CR and LF
    unless `multiline` says otherwise."""
    paragraphs = is_multiline(field) if multiline is None else multiline
    character = forbidden_character(value, multiline=paragraphs)
    if character is not None:
        raise InvalidValue(
            "control_character",
            control_character_message(field, character, multiline=paragraphs),
            field,
        )
    return value.strip()


def clean_text_or(value: str | None, field: str, kept: str) -> str:
    """`value` as `clean_text` makes it, or `kept` (the text as it stands) when None."""
    return kept if value is None else clean_text(value, field)


def bounded_text(
    value: str, field: str, *, max_length: int = 2000, multiline: bool | None = None
) -> str:
    """Trimmed text (maybe empty) of at most `max_length` characters, without control
    characters (see `clean_text`): a note, a mission."""
    text = clean_text(value, field, multiline=multiline)
    require_value(
        len(text) <= max_length,
        "text_too_long",
        f"{field} must be at most {max_length} characters",
        field,
    )
    return text


def require_text(
    value: str, field: str, *, max_length: int = 500, multiline: bool | None = None
) -> str:
    """Trimmed, non-empty text of bounded length, without control characters (see
    `clean_text`)."""
    text = clean_text(value, field, multiline=multiline)
    require_value(bool(text), "text_required", f"{field} must not be empty", field)
    return bounded_text(text, field, max_length=max_length, multiline=multiline)


def require_correctable(original: S | None, kind: str, noun: str, record_id: Any) -> S:
    """The record a correction supersedes: it exists and no correction superseded it yet
    (rules `<kind>_not_found`, `<kind>_superseded`, on the field `<kind>_id`)."""
    field = f"{kind}_id"
    require_value(original is not None, f"{kind}_not_found", f"{noun} {record_id} not found", field)
    assert original is not None
    require(
        original.superseded_by is None,
        f"{kind}_superseded",
        f"that {noun} was already corrected; correct the latest correction instead",
        field,
    )
    return original
