"""A person's notifications: their preferences (events on the person, with a reason), the
messages sent to them, and the one-click unsubscribe that needs no sign-in.

Everyone sees and changes only their own: the routes are under `/me`, and the use cases take
the person from the caller's token, never from the request.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api import positions
from api.deps import Services, execute
from api.notification_schemas import NotificationPreferencesIn
from api.usecases import UseCases
from domain.application import CommandResult
from domain.base import CommandContext
from domain.errors import OkrError
from domain.person import Person, validate_preferences
from infra.notify.engine import LedgerDirectory
from infra.notify.render import sentence
from infra.notify.store import notice_of, notice_store_of
from infra.notify.unsubscribe import InvalidLink, UnsubscribeLinks
from infra.settings import get_settings

ONE_CLICK_REASON = "one-click unsubscribe from an e-mail"


def _default_time_zone(services: Services) -> str:
    return (services.settings or get_settings()).default_time_zone


class NotificationUseCases(UseCases):
    """The caller's own preferences and messages."""

    def preferences(self) -> dict[str, Any]:
        person = self.services.ledger.get_person(self.principal.person_id)
        positions.saw_aggregate(self.services.ledger, person.id, person.version)
        prefs = person.notifications
        return {
            "person_id": person.id,
            **prefs.to_dict(),
            "effective_time_zone": prefs.time_zone or _default_time_zone(self.services),
            "version": person.version,
        }

    def set_preferences(
        self, body: NotificationPreferencesIn, expected: int | None
    ) -> CommandResult:
        prefs = validate_preferences(
            body.channels,
            body.delivery,
            body.quiet_from or "",
            body.quiet_to or "",
            body.time_zone or "",
        )
        me = self.principal.person_id
        return execute(
            self.services.ledger,
            me,
            lambda: self.services.ledger.set_notification_preferences.expecting(expected)(
                me, prefs, body.reason, self.ctx
            ),
        )

    def messages(self, limit: int = 50) -> list[dict[str, Any]]:
        positions.saw_head(self.services.ledger)
        return messages_of(self.services, self.principal.person_id, limit)


def messages_of(services: Services, person_id: UUID, limit: int = 50) -> list[dict[str, Any]]:
    """The person's latest notices, rendered now (names as they are now), with their
    deliveries per channel."""
    store = notice_store_of(services.ledger.recorder)
    if store is None:
        return []
    directory = LedgerDirectory(services.ledger)
    found = []
    for row in store.messages(person_id, limit):
        subject, detail = sentence(notice_of(row), directory)
        found.append(
            {
                "id": row["id"],
                "kind": row["kind"],
                "subject": subject,
                "detail": detail,
                "link": row["link"],
                "objective_id": row["objective_id"],
                "position": row["position"],
                "created_at": row["created_at"],
                "dropped": row["dropped"],
                "deliveries": row["deliveries"],
            }
        )
    return found


def unsubscribe(services: Services, token: str) -> tuple[Person | None, str]:
    """Turn the channel a signed link names off for the person it names (no sign-in: the
    signature is the authority). Recorded as the person's own preference change, with the
    reason `ONE_CLICK_REASON`; a channel already off records nothing. Raises InvalidLink."""
    store = notice_store_of(services.ledger.recorder)
    if store is None:
        raise InvalidLink("notifications are not kept here")
    person_id, channel = UnsubscribeLinks(store, "").read(token)
    ledger = services.ledger
    try:
        person = ledger.get_person(person_id)
    except OkrError:
        return None, channel
    prefs = person.notifications
    if not person.active or person.forgotten or not prefs.wants(channel):
        return person, channel
    changed = validate_preferences(
        {**prefs.channels, channel: False},
        prefs.delivery,
        prefs.quiet_from,
        prefs.quiet_to,
        prefs.time_zone,
    )
    ledger.set_notification_preferences(
        person_id, changed, ONE_CLICK_REASON, CommandContext(actor=str(person_id))
    )
    return ledger.get_person(person_id), channel
