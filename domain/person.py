"""The person registry: the only place names and e-mail addresses are kept."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import CommandContext, OkrAggregate
from domain.errors import require, require_text, require_value

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(email: str) -> str:
    address = email.strip().lower()
    require_value(
        bool(_EMAIL.match(address)), "email_invalid", f"'{email}' is not an e-mail address", "email"
    )
    return address


def person_id_for(email: str) -> UUID:
    """A person's id follows from their e-mail, so registering twice finds the same person."""
    return uuid5(NAMESPACE_URL, "okrledger:person:" + normalise_email(email))


class Person(OkrAggregate):
    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        name: str
        email: str
        active: bool

    class Registered(OkrAggregate.Created):
        name: str
        email: str

        def apply(self, person: Person) -> None:
            person.name = self.name
            person.email = self.email
            person.active = True

    class Renamed(OkrAggregate.Event):
        name: str

        def apply(self, person: Person) -> None:
            person.name = self.name

    class Deactivated(OkrAggregate.Event):
        def apply(self, person: Person) -> None:
            person.active = False

    class Reactivated(OkrAggregate.Event):
        def apply(self, person: Person) -> None:
            person.active = True

    @classmethod
    def register(cls, name: str, email: str, ctx: CommandContext) -> Person:
        address = normalise_email(email)
        return cls._create(
            cls.Registered,
            id=person_id_for(address),
            name=require_text(name, "name", max_length=200),
            email=address,
            **ctx.stamp(),
        )

    def rename(self, name: str, ctx: CommandContext) -> None:
        self._trigger(self.Renamed, ctx, name=require_text(name, "name", max_length=200))

    def deactivate(self, reason: str, ctx: CommandContext) -> None:
        require(self.active, "person_inactive", f"{self.name} is already deactivated")
        self._trigger(self.Deactivated, ctx, reason=require_text(reason, "reason"))

    def reactivate(self, reason: str, ctx: CommandContext) -> None:
        require(not self.active, "person_active", f"{self.name} is already active")
        self._trigger(self.Reactivated, ctx, reason=require_text(reason, "reason"))
