"""Request and answer bodies of the notification routes (docs/notifications.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from api.schemas import Body, Line, Out, Text, examples


class NotificationPreferencesIn(Body):
    channels: dict[str, bool] = Field(
        default_factory=dict,
        description="Channel → on/off (`email`); a channel left out stays on. The in-app "
        "notifications page is always on.",
        examples=[{"email": True}],
    )
    delivery: Literal["immediate", "digest"] = Field(
        default="immediate", description="Each notice at once, or gathered into the digest."
    )
    quiet_from: Line | None = Field(
        default=None,
        description="Start of quiet hours, local HH:MM (with quiet_to).",
        examples=["22:00"],
    )
    quiet_to: Line | None = Field(
        default=None, description="End of quiet hours, local HH:MM.", examples=["07:00"]
    )
    time_zone: Line | None = Field(
        default=None,
        description="IANA time zone (e.g. Europe/Berlin); none: the deployment's default.",
        examples=["Europe/Berlin"],
    )
    reason: Text = Field(
        default="changed my notification preferences",
        max_length=2000,
        description="Why (recorded with the change).",
    )

    model_config = examples(
        {
            "channels": {"email": True},
            "delivery": "immediate",
            "quiet_from": "22:00",
            "quiet_to": "07:00",
            "time_zone": "Europe/Berlin",
            "reason": "no mail at night",
        }
    )


class NotificationPreferencesOut(Out):
    person_id: UUID
    channels: dict[str, bool]
    delivery: str
    quiet_from: str | None
    quiet_to: str | None
    time_zone: str | None = Field(description="The person's choice (null: the default).")
    effective_time_zone: str = Field(description="The time zone in effect.")
    version: int = Field(description="The person's version (the ETag).")


class DeliveryOut(Out):
    channel: str
    status: str = Field(description="sent, pending, held (for the digest), skipped or failed.")
    attempts: int
    sent_at: datetime | None = None
    last_error: str | None = None


class NotificationOut(Out):
    id: UUID
    kind: str
    subject: str = Field(description="Rendered now, with names as the directory holds them.")
    detail: str
    link: str = Field(description="The page that acts on it.")
    objective_id: UUID | None
    position: int = Field(description="The log position of the event that caused it.")
    created_at: datetime
    dropped: str | None = None
    deliveries: list[DeliveryOut]


class NotificationsPage(Out):
    items: list[NotificationOut]
