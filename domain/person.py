"""The person registry: the only place names and e-mail addresses are kept."""

from __future__ import annotations

import hashlib
import hmac
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


def person_id_for(email: str, secret: bytes | None = None, generation: int = 0) -> UUID:
    """A person's id follows from their e-mail, so registering twice finds the same person.

    With the deployment's ``secret`` the id is a keyed HMAC of the address: knowing an e-mail is
    not enough to find or confirm a person in an export, a log or an API answer. ``generation``
    counts earlier, forgotten registrations of the same address. Without a secret (in-memory
    tests) the id is the public uuid5 of the address.
    """
    address = normalise_email(email)
    if secret is None:
        suffix = f"#{generation}" if generation else ""
        return uuid5(NAMESPACE_URL, "okrledger:person:" + address + suffix)
    message = f"okrledger:person:{generation}:{address}".encode()
    return UUID(bytes=hmac.new(secret, message, hashlib.sha256).digest()[:16], version=4)


def forgotten_name(number: int) -> str:
    """How a forgotten person appears everywhere once their name and e-mail are erased."""
    return f"forgotten person #{number}"


class Person(OkrAggregate):
    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        name: str
        email: str
        active: bool
        forgotten: bool
        role: str | None
        """The person's role (admin, manager, member, auditor); None until first set."""

    class Registered(OkrAggregate.Created):
        name: str
        email: str

        def apply(self, person: Person) -> None:
            person.name = self.name
            person.email = self.email
            person.active = True
            person.forgotten = False
            person.role = None

    class Renamed(OkrAggregate.Event):
        name: str

        def apply(self, person: Person) -> None:
            person.name = self.name

    class EmailChanged(OkrAggregate.Event):
        """The person's e-mail is now ``email`` (their id stays the one their first e-mail gave
        them); ``reason`` says why: ``scim``, ``sso:<issuer>`` or an admin's words."""

        email: str

        def apply(self, person: Person) -> None:
            person.email = self.email

    class Deactivated(OkrAggregate.Event):
        def apply(self, person: Person) -> None:
            person.active = False

    class Reactivated(OkrAggregate.Event):
        def apply(self, person: Person) -> None:
            person.active = True

    class RoleChanged(OkrAggregate.Event):
        """The person's role changed from ``previous`` ("" when none was set) to ``role``.

        ``reason`` says why: ``sso:<issuer>`` (groups at a sign-in), ``scim``, or an admin's words.
        """

        role: str
        previous: str

        def apply(self, person: Person) -> None:
            person.role = self.role

    class IdentityLinked(OkrAggregate.Event):
        """The identity provider ``issuer`` knows the person as ``subject`` (its `sub`), so a
        renamed e-mail still signs in as the same person."""

        issuer: str
        subject: str

        def apply(self, person: Person) -> None:
            pass

    class IdentityUnlinked(OkrAggregate.Event):
        """The identity provider ``issuer`` no longer names the person (e.g. a SCIM
        `externalId` removed)."""

        issuer: str

        def apply(self, person: Person) -> None:
            pass

    class Forgotten(OkrAggregate.Event):
        """The person's name and e-mail were erased (their key destroyed); ``number`` names them."""

        number: int

        def apply(self, person: Person) -> None:
            person.name = forgotten_name(self.number)
            person.email = ""
            person.active = False
            person.forgotten = True

    @classmethod
    def register(
        cls, name: str, email: str, ctx: CommandContext, person_id: UUID | None = None
    ) -> Person:
        address = normalise_email(email)
        return cls._create(
            cls.Registered,
            id=person_id or person_id_for(address),
            name=require_text(name, "name", max_length=200),
            email=address,
            **ctx.stamp(),
        )

    def rename(self, name: str, ctx: CommandContext) -> None:
        self._require_remembered()
        self._trigger(self.Renamed, ctx, name=require_text(name, "name", max_length=200))

    def change_email(self, email: str, reason: str, ctx: CommandContext) -> None:
        self._require_remembered()
        address = normalise_email(email)
        require(
            address != self.email,
            "email_unchanged",
            f"{self.name} already has that e-mail",
            "email",
        )
        self._trigger(self.EmailChanged, ctx, reason=require_text(reason, "reason"), email=address)

    def deactivate(self, reason: str, ctx: CommandContext) -> None:
        require(self.active, "person_inactive", f"{self.name} is already deactivated")
        self._trigger(self.Deactivated, ctx, reason=require_text(reason, "reason"))

    def reactivate(self, reason: str, ctx: CommandContext) -> None:
        self._require_remembered()
        require(not self.active, "person_active", f"{self.name} is already active")
        self._trigger(self.Reactivated, ctx, reason=require_text(reason, "reason"))

    def change_role(self, role: str, reason: str, ctx: CommandContext) -> None:
        self._require_remembered()
        require(role != self.role, "role_unchanged", f"{self.name} already has the role {role}")
        self._trigger(
            self.RoleChanged,
            ctx,
            reason=require_text(reason, "reason"),
            role=role,
            previous=self.role or "",
        )

    def link_identity(self, issuer: str, subject: str, ctx: CommandContext) -> None:
        self._require_remembered()
        self._trigger(
            self.IdentityLinked,
            ctx,
            issuer=require_text(issuer, "issuer", max_length=500),
            subject=require_text(subject, "subject", max_length=500),
        )

    def unlink_identity(self, issuer: str, ctx: CommandContext) -> None:
        self._require_remembered()
        self._trigger(
            self.IdentityUnlinked, ctx, issuer=require_text(issuer, "issuer", max_length=500)
        )

    def forget(self, number: int, reason: str, ctx: CommandContext) -> None:
        self._require_remembered()
        self._trigger(self.Forgotten, ctx, reason=require_text(reason, "reason"), number=number)

    def _require_remembered(self) -> None:
        require(not self.forgotten, "person_forgotten", f"{self.name} has been forgotten")
