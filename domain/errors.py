"""Domain errors. Each names the rule it enforces so the edge can answer precisely."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


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


def require_text(value: str, field: str, *, max_length: int = 500) -> str:
    """Trimmed, non-empty text of bounded length."""
    text = value.strip()
    require_value(bool(text), "text_required", f"{field} must not be empty", field)
    require_value(
        len(text) <= max_length,
        "text_too_long",
        f"{field} must be at most {max_length} characters",
        field,
    )
    return text
