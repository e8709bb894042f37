"""Request and response bodies of the webhook endpoints' API (api/routes/webhooks.py)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from api.schemas import EXAMPLE_ID, Body, CommandResultOut, Line, Out, Text, examples
from domain.channel import ChannelKind

_URL = "https://hooks.example.com/okrledger"


class WebhookCreate(Body):
    url: Line = Field(
        max_length=2000,
        description="Where events are posted: an absolute http(s) URL whose host does not "
        "resolve to a private, loopback or link-local address.",
        examples=[_URL],
    )
    event_types: list[Line] = Field(
        min_length=1,
        max_length=200,
        description='CloudEvents types to receive (`Objective.Approved` ...), or `["*"]` for all.',
        examples=[["Objective.Approved", "Objective.ProgressReported"]],
    )
    secret: Line | None = Field(
        default=None,
        description="A Standard Webhooks secret (`whsec_` + base64 of 24-64 bytes); made for "
        "you when left out. Returned in this answer only.",
    )
    private_content: bool = Field(
        default=False,
        description="Whether the endpoint may carry private objectives' content (else their "
        'events arrive without `data`, marked `"withheld": "private"`).',
    )

    model_config = examples({"url": _URL, "event_types": ["Objective.Approved"]})


class WebhookPatch(Body):
    event_types: list[Line] | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool | None = Field(default=None, description="false disables, true re-enables.")
    reason: Text | None = Field(
        default=None, max_length=2000, description="Why (required when disabling)."
    )

    model_config = examples(
        {"event_types": ["Objective.Approved"]}, {"enabled": False, "reason": "receiver retired"}
    )


class WebhookDisable(Body):
    reason: Text = Field(min_length=1, max_length=2000, examples=["receiver retired"])

    model_config = examples({"reason": "receiver retired"})


class WebhookReplay(Body):
    from_position: int = Field(
        ge=1, description="The first log position to send again (every later one follows)."
    )

    model_config = examples({"from_position": 1})


class WebhookCreated(CommandResultOut):
    secret: str = Field(
        description="The signing secret: shown in this answer only, never again.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookOut(Out):
    id: UUID = Field(examples=[EXAMPLE_ID])
    version: int
    url: str
    event_types: list[str]
    private_content: bool
    enabled: bool
    disabled_reason: str
    created_at: datetime


class WebhookPage(Out):
    items: list[WebhookOut]
    total: int


class DeliveryOut(Out):
    id: int
    endpoint_id: UUID
    position: int = Field(description="The event's log position.")
    message_id: str = Field(description="`webhook-id`: the CloudEvents id, the same on resends.")
    event_type: str
    status: str = Field(description="pending, delivered or failed.")
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None = Field(description="The receiver's last HTTP status.")
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    redelivery_of: int | None


class DeliveryPage(Out):
    items: list[DeliveryOut]


class ReplayOut(Out):
    endpoint_id: UUID
    from_position: int
    queued: int = Field(description="Deliveries queued by the replay.")


class ChannelCreate(Body):
    kind: ChannelKind = Field(description="slack or teams.")
    url: Line = Field(
        max_length=2000,
        description="The incoming-webhook URL (Slack) or the Workflows webhook URL (Teams). A "
        "secret: shown back only as a hint, never in an event.",
        examples=["https://hooks.slack.com/services/T000/B000/XXXX"],
    )
    team_id: UUID | None = Field(
        default=None, description="The team whose events it hears; left out: every team."
    )

    model_config = examples(
        {"kind": "slack", "url": "https://hooks.slack.com/services/T000/B000/XXXX"}
    )


class ChannelOut(Out):
    id: UUID
    version: int
    kind: ChannelKind
    team_id: UUID | None
    url_hint: str = Field(description="The URL's host and last four characters.")
    enabled: bool
    disabled_reason: str
    created_at: datetime


class ChannelPage(Out):
    items: list[ChannelOut]
    total: int
