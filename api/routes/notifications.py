"""The caller's notifications: preferences and the messages sent to them (docs/notifications.md).

Only `/me`: a person sees and changes their own, and nobody else's (an admin included).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response

from api import notification_schemas as n
from api import schemas as s
from api.deps import IfMatchDep, answer
from api.routes import _for_caller, problems, read_from_store, router
from api.usecases.notifications import NotificationUseCases
from domain.application import CommandResult

notifications = router("notifications")

NotificationsDep = Annotated[NotificationUseCases, _for_caller(NotificationUseCases)]


@notifications.get(
    "/me/notification-preferences",
    response_model=n.NotificationPreferencesOut,
    responses=problems(),
    summary="My notification preferences",
)
def my_preferences(uses: NotificationsDep, response: Response) -> dict[str, Any]:
    """Per channel on or off, immediate or digest, quiet hours and time zone. Untouched
    preferences are the defaults: e-mail on (when the server sends e-mail), immediate."""
    found = uses.preferences()
    ledger = uses.services.ledger
    read_from_store(response, ledger, ledger.get_person(found["person_id"]))
    return found


@notifications.put(
    "/me/notification-preferences",
    response_model=s.CommandResultOut,
    responses=problems(409, 412),
    summary="Set my notification preferences",
)
def set_my_preferences(
    body: n.NotificationPreferencesIn,
    uses: NotificationsDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Recorded as an event on the person with the reason given (history is kept). A bad
    value is a 422 naming the field and the rule: `channel_unknown`, `time_of_day_invalid`,
    `quiet_hours_incomplete`, `quiet_hours_empty`, `time_zone_invalid`."""
    return answer(response, uses.set_preferences(body, expected))


@notifications.get(
    "/me/notifications",
    response_model=n.NotificationsPage,
    responses=problems(),
    summary="The notifications sent to me",
)
def my_notifications(
    uses: NotificationsDep,
    limit: Annotated[int, Query(ge=1, le=200, description="How many, newest first.")] = 50,
) -> dict[str, Any]:
    """Newest first, each rendered now (names as they are now) with a link to the page that
    acts on it and its delivery per channel (in-app, e-mail)."""
    return {"items": uses.messages(limit)}
