"""Outbound webhook endpoints and Slack / Teams channels (admins): register or connect, list,
read, change, disable; deliveries, redelivery and (webhooks) replay from any log position
(docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api import present
from api import webhook_schemas as w
from api.deps import answer, etag
from api.routes import WebhooksDep, problems
from api.routes.commands import Command, register
from api.usecases.webhooks import WebhookUseCases as W
from domain.channel import ChatChannel
from domain.webhook import WebhookEndpoint
from infra.webhooks.store import Delivery

webhooks = APIRouter(tags=["webhooks"])
"""Not idempotent-replayable: registration answers a secret that is answered only once."""


def _out(endpoint: WebhookEndpoint) -> w.WebhookOut:
    return present.shaped(w.WebhookOut, endpoint, created_at=endpoint.created_on)


Before = Annotated[int | None, Query(ge=1, description="Deliveries older than this id.")]
Shown = Annotated[int, Query(ge=1, le=500)]


def _delivery(d: Delivery) -> w.DeliveryOut:
    return w.DeliveryOut.model_validate(d.as_json())


@webhooks.post(
    "/webhooks",
    status_code=201,
    response_model=w.WebhookCreated,
    responses=problems(403, 409),
    summary="Register a webhook endpoint (admin)",
)
def register_webhook(
    body: w.WebhookCreate, uses: WebhooksDep, response: Response
) -> w.WebhookCreated:
    """Registers an endpoint for the given CloudEvents types. The answer holds the signing
    secret, the only time it is shown (so this POST ignores `Idempotency-Key`). Deliveries
    start with the events after this one."""
    result, secret = uses.register(body)
    answer(response, result, location=f"/api/v1/webhooks/{result.id}")
    return w.WebhookCreated(
        id=result.id, version=result.version, position=result.position, secret=secret
    )


@webhooks.get(
    "/webhooks",
    response_model=w.WebhookPage,
    responses=problems(403),
    summary="List webhook endpoints (admin)",
)
def list_webhooks(uses: WebhooksDep) -> w.WebhookPage:
    """Every endpoint, in registration order (never a secret)."""
    items = [_out(e) for e in uses.endpoints()]
    return w.WebhookPage(items=items, total=len(items))


@webhooks.get(
    "/webhooks/{endpoint_id}",
    response_model=w.WebhookOut,
    responses=problems(403, 404),
    summary="Read a webhook endpoint (admin)",
)
def read_webhook(endpoint_id: UUID, uses: WebhooksDep, response: Response) -> w.WebhookOut:
    """One endpoint; the `ETag` is its version."""
    endpoint = uses.endpoint(endpoint_id)
    response.headers["ETag"] = etag(endpoint.version)
    return _out(endpoint)


register(
    webhooks,
    WebhooksDep,
    problems(403, 404, 409, 412),
    Command(
        "PATCH",
        "/webhooks/{endpoint_id}",
        "patch_webhook",
        "Change a webhook endpoint's event types, or disable / re-enable it (admin)",
        """`event_types` replaces the list; `enabled: false` disables (with a `reason`), `true`
        re-enables: deliveries left pending resume, events in between are not queued (replay them).
        """,
        W.change,
        w.WebhookPatch,
    ),
    Command(
        "POST",
        "/webhooks/{endpoint_id}/disable",
        "disable_webhook",
        "Disable a webhook endpoint (admin)",
        "Stops deliveries to the endpoint; the reason is recorded with the event.",
        lambda uses, endpoint_id, body, expected: uses.disable(endpoint_id, body.reason, expected),
        w.WebhookDisable,
    ),
)


@webhooks.get(
    "/webhooks/{endpoint_id}/deliveries",
    response_model=w.DeliveryPage,
    responses=problems(403, 404),
    summary="List an endpoint's deliveries (admin)",
)
def list_deliveries(
    endpoint_id: UUID,
    uses: WebhooksDep,
    before: Before = None,
    limit: Shown = 100,
) -> w.DeliveryPage:
    """Newest first: status, attempts, the next attempt, the receiver's last answer."""
    return w.DeliveryPage(items=[_delivery(d) for d in uses.deliveries(endpoint_id, before, limit)])


@webhooks.post(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=201,
    response_model=w.DeliveryOut,
    responses=problems(403, 404),
    summary="Send a delivery again (admin)",
)
def redeliver(endpoint_id: UUID, delivery_id: int, uses: WebhooksDep) -> w.DeliveryOut:
    """Queues a new delivery of the same signed content (same `webhook-id`)."""
    return _delivery(uses.redeliver(endpoint_id, delivery_id))


@webhooks.post(
    "/webhooks/{endpoint_id}/replay",
    status_code=202,
    response_model=w.ReplayOut,
    responses=problems(403, 404),
    summary="Send every event from a log position again (admin)",
)
def replay(endpoint_id: UUID, body: w.WebhookReplay, uses: WebhooksDep) -> w.ReplayOut:
    """Queues every event the endpoint receives, from `from_position` up to where the
    deliveries have followed the log, in log order (same `webhook-id`s as the first time)."""
    queued = uses.replay(endpoint_id, body.from_position)
    return w.ReplayOut(endpoint_id=endpoint_id, from_position=body.from_position, queued=queued)


# ------------------------------------------------------------------ chat channels


def _channel(channel: ChatChannel) -> w.ChannelOut:
    return present.shaped(w.ChannelOut, channel, created_at=channel.created_on)


@webhooks.post(
    "/channels",
    status_code=201,
    response_model=w.ChannelOut,
    responses=problems(403, 404, 409),
    summary="Connect a Slack or Teams channel (admin)",
)
def connect_channel(body: w.ChannelCreate, uses: WebhooksDep, response: Response) -> w.ChannelOut:
    """Connects an incoming-webhook URL for a team (or every team): its negotiation and check-in
    events are narrated there, with a link to the objective. The URL is a secret: it is never
    answered again, nor stored in an event (only its hint)."""
    result = uses.connect(body)
    answer(response, result, location=f"/api/v1/channels/{result.id}")
    return _channel(uses.channel(result.id))


@webhooks.get(
    "/channels",
    response_model=w.ChannelPage,
    responses=problems(403),
    summary="List Slack and Teams channels (admin)",
)
def list_channels(uses: WebhooksDep) -> w.ChannelPage:
    """Every channel, in connection order (URLs shown only as hints)."""
    items = [_channel(c) for c in uses.channels()]
    return w.ChannelPage(items=items, total=len(items))


@webhooks.get(
    "/channels/{channel_id}",
    response_model=w.ChannelOut,
    responses=problems(403, 404),
    summary="Read a channel (admin)",
)
def read_channel(channel_id: UUID, uses: WebhooksDep, response: Response) -> w.ChannelOut:
    """One channel; the `ETag` is its version."""
    channel = uses.channel(channel_id)
    response.headers["ETag"] = etag(channel.version)
    return _channel(channel)


register(
    webhooks,
    WebhooksDep,
    problems(403, 404, 409),
    Command(
        "POST",
        "/channels/{channel_id}/disable",
        "disable_channel",
        "Disable a channel (admin)",
        "Stops messages to the channel; the reason is recorded with the event.",
        lambda uses, channel_id, body: uses.disable_channel(channel_id, body.reason),
        w.WebhookDisable,
        if_match=False,
    ),
    Command(
        "POST",
        "/channels/{channel_id}/enable",
        "enable_channel",
        "Re-enable a channel (admin)",
        "Messages resume: the pending ones first, then new events.",
        W.reenable_channel,
        if_match=False,
    ),
)


@webhooks.get(
    "/channels/{channel_id}/deliveries",
    response_model=w.DeliveryPage,
    responses=problems(403, 404),
    summary="List a channel's deliveries (admin)",
)
def list_channel_deliveries(
    channel_id: UUID,
    uses: WebhooksDep,
    before: Before = None,
    limit: Shown = 100,
) -> w.DeliveryPage:
    """Newest first: status, attempts, the next attempt, the receiver's last answer."""
    return w.DeliveryPage(
        items=[_delivery(d) for d in uses.channel_deliveries(channel_id, before, limit)]
    )


@webhooks.post(
    "/channels/{channel_id}/deliveries/{delivery_id}/redeliver",
    status_code=201,
    response_model=w.DeliveryOut,
    responses=problems(403, 404),
    summary="Send a channel message again (admin)",
)
def redeliver_to_channel(channel_id: UUID, delivery_id: int, uses: WebhooksDep) -> w.DeliveryOut:
    """Queues the same message again."""
    return _delivery(uses.redeliver_to_channel(channel_id, delivery_id))
