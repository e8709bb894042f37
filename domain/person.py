"""The person registry: the only place names and e-mail addresses are kept."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import time
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.base import Assigns, CommandContext, OkrAggregate
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


NOTIFICATION_CHANNELS = ("email",)
"""The channels a person may turn on or off (the in-app notifications page is always on)."""
DELIVERIES = ("immediate", "digest")
_HOUR_MINUTE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass(frozen=True)
class NotificationPreferences:
    """How a person wants to be told: per channel on or off, at once or in the digest, not
    during their quiet hours, in their time zone (an IANA name; "" means the deployment's
    default)."""

    channels: dict[str, bool]
    delivery: str = "immediate"
    quiet_from: str = ""
    """Start of the quiet hours, local "HH:MM" ("" for none)."""
    quiet_to: str = ""
    time_zone: str = ""

    def wants(self, channel: str) -> bool:
        return self.channels.get(channel, True)

    def quiet_hours(self) -> tuple[time, time] | None:
        if not self.quiet_from or not self.quiet_to:
            return None
        return time.fromisoformat(self.quiet_from), time.fromisoformat(self.quiet_to)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channels": {name: self.wants(name) for name in NOTIFICATION_CHANNELS},
            "delivery": self.delivery,
            "quiet_from": self.quiet_from or None,
            "quiet_to": self.quiet_to or None,
            "time_zone": self.time_zone or None,
        }


DEFAULT_PREFERENCES = NotificationPreferences(channels={})


def validate_preferences(
    channels: dict[str, bool], delivery: str, quiet_from: str, quiet_to: str, time_zone: str
) -> NotificationPreferences:
    """The preferences, or InvalidValue naming the field and the rule it breaks."""
    for name, on in channels.items():
        require_value(
            name in NOTIFICATION_CHANNELS,
            "channel_unknown",
            f"unknown channel '{name}' (one of: {', '.join(NOTIFICATION_CHANNELS)})",
            "channels",
        )
        require_value(isinstance(on, bool), "channel_on_off", "a channel is true or false", name)
    require_value(
        delivery in DELIVERIES,
        "delivery_invalid",
        f"delivery must be one of: {', '.join(DELIVERIES)}",
        "delivery",
    )
    for field_name, value in (("quiet_from", quiet_from), ("quiet_to", quiet_to)):
        require_value(
            value == "" or bool(_HOUR_MINUTE.match(value)),
            "time_of_day_invalid",
            f"{field_name} must be a time of day as HH:MM (24 hours)",
            field_name,
        )
    require_value(
        (quiet_from == "") == (quiet_to == ""),
        "quiet_hours_incomplete",
        "quiet hours need both quiet_from and quiet_to",
        "quiet_to" if quiet_from else "quiet_from",
    )
    require_value(
        quiet_from == "" or quiet_from != quiet_to,
        "quiet_hours_empty",
        "quiet_from and quiet_to must differ",
        "quiet_to",
    )
    if time_zone:
        try:
            valid = "/" in time_zone or time_zone == "UTC"
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            valid = False
        require_value(
            valid,
            "time_zone_invalid",
            f"'{time_zone}' is not an IANA time zone (e.g. Europe/Berlin)",
            "time_zone",
        )
    return NotificationPreferences(
        channels={name: bool(on) for name, on in sorted(channels.items())},
        delivery=delivery,
        quiet_from=quiet_from,
        quiet_to=quiet_to,
        time_zone=time_zone,
    )


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
        notifications: NotificationPreferences

    class Registered(OkrAggregate.Created):
        name: str
        email: str

        def apply(self, person: Person) -> None:
            person.name = self.name
            person.email = self.email
            person.active = True
            person.forgotten = False
            person.role = None
            person.notifications = DEFAULT_PREFERENCES

    class Renamed(Assigns):
        name: str

    class EmailChanged(Assigns):
        """The person's e-mail is now ``email`` (their id stays the one their first e-mail gave
        them); ``reason`` says why: ``scim``, ``sso:<issuer>`` or an admin's words."""

        email: str

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

    class NotificationPreferencesChanged(OkrAggregate.Event):
        """How the person wants to be notified (see `NotificationPreferences`); ``reason``
        says why (their own words, or ``one-click unsubscribe`` from an e-mail)."""

        channels: dict[str, bool]
        delivery: str
        quiet_from: str
        quiet_to: str
        time_zone: str

        def apply(self, person: Person) -> None:
            person.notifications = NotificationPreferences(
                channels=dict(self.channels),
                delivery=self.delivery,
                quiet_from=self.quiet_from,
                quiet_to=self.quiet_to,
                time_zone=self.time_zone,
            )

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

    def set_notification_preferences(
        self, preferences: NotificationPreferences, reason: str, ctx: CommandContext
    ) -> None:
        self._require_remembered()
        require(self.active, "person_inactive", f"{self.name} is deactivated")
        self._trigger(
            self.NotificationPreferencesChanged,
            ctx,
            reason=require_text(reason, "reason"),
            channels=dict(preferences.channels),
            delivery=preferences.delivery,
            quiet_from=preferences.quiet_from,
            quiet_to=preferences.quiet_to,
            time_zone=preferences.time_zone,
        )

    def _require_remembered(self) -> None:
        require(not self.forgotten, "person_forgotten", f"{self.name} has been forgotten")
