"""Outbound webhook endpoints and Slack / Teams channels (admins): register or connect, list,
read, change, disable; deliveries, redelivery and (webhooks) replay from any log position
(docs/webhooks.md)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from api import present
from api import webhook_schemas as w
from api.deps import answer, etag
from api.routes import WebhooksDep, problems
from api.routes.commands import Command, Param, Route, add_route, register
from api.usecases.webhooks import WebhookUseCases as W
from domain.channel import ChatChannel
from domain.webhook import WebhookEndpoint
from infra.webhooks.store import Delivery

webhooks = APIRouter(tags=["webhooks"])
"""Not idempotent-replayable: registration answers a secret that is answered only once."""


def _out(endpoint: WebhookEndpoint) -> w.WebhookOut:
    return present.shaped(w.WebhookOut, endpoint, created_at=endpoint.created_on)


def _channel(channel: ChatChannel) -> w.ChannelOut:
    return present.shaped(w.ChannelOut, channel, created_at=channel.created_on)


Before = Annotated[int | None, Query(ge=1, description="Deliveries older than this id.")]
Shown = Annotated[int, Query(ge=1, le=500)]


def _delivery(d: Delivery) -> w.DeliveryOut:
    return w.DeliveryOut.model_validate(d.as_json())


@dataclass(frozen=True)
class _Receivers:
    """Webhook endpoints and chat channels are read alike: listed, one read (its `ETag` its
    version), its deliveries listed and one sent again; the use case's method for each."""

    id_name: str
    show: Callable[[Any], BaseModel]
    out: type[BaseModel]
    page: type[BaseModel]
    every: Callable[[W], Sequence[Any]]
    one: Callable[[W, UUID], Any]
    deliveries: Callable[[W, UUID, int | None, int], list[Delivery]]
    redeliver: Callable[[W, UUID, int], Delivery]

    def add_reads(self, listing: Route, read: Route) -> None:
        """GET the collection (every one, with the total) and GET one."""

        def list_all(**values: Any) -> Any:
            items = [self.show(found) for found in self.every(values["uses"])]
            return self.page(items=items, total=len(items))

        def read_one(**values: Any) -> Any:
            found = self.one(values["uses"], values[self.id_name])
            values["response"].headers["ETag"] = etag(found.version)
            return self.show(found)

        uses = Param("uses", WebhooksDep).parameter()
        add_route(
            webhooks,
            list_all,
            [uses],
            method="GET",
            route=listing,
            out=self.page,
            responses=problems(403),
        )
        add_route(
            webhooks,
            read_one,
            [self._id(), uses, Param("response", Response).parameter()],
            method="GET",
            route=read,
            out=self.out,
            responses=problems(403, 404),
        )

    def add_deliveries(self, listing: Route, redeliver: Route) -> None:
        """GET the deliveries, newest first, and POST one again."""

        def list_deliveries(**values: Any) -> Any:
            found = self.deliveries(
                values["uses"], values[self.id_name], values["before"], values["limit"]
            )
            return w.DeliveryPage(items=[_delivery(d) for d in found])

        def send_again(**values: Any) -> Any:
            uses, delivery_id = values["uses"], values["delivery_id"]
            return _delivery(self.redeliver(uses, values[self.id_name], delivery_id))

        uses = Param("uses", WebhooksDep).parameter()
        add_route(
            webhooks,
            list_deliveries,
            [
                self._id(),
                uses,
                Param("before", Before, None).parameter(),
                Param("limit", Shown, 100).parameter(),
            ],
            method="GET",
            route=listing,
            out=w.DeliveryPage,
            responses=problems(403, 404),
        )
        add_route(
            webhooks,
            send_again,
            [self._id(), Param("delivery_id", int).parameter(), uses],
            method="POST",
            route=redeliver,
            out=w.DeliveryOut,
            responses=problems(403, 404),
            status_code=201,
        )

    def _id(self) -> inspect.Parameter:
        return Param(self.id_name, UUID).parameter()


ENDPOINTS = _Receivers(
    "endpoint_id",
    _out,
    w.WebhookOut,
    w.WebhookPage,
    W.endpoints,
    W.endpoint,
    W.deliveries,
    W.redeliver,
)
CHANNELS = _Receivers(
    "channel_id",
    _channel,
    w.ChannelOut,
    w.ChannelPage,
    W.channels,
    W.channel,
    W.channel_deliveries,
    W.redeliver_to_channel,
)

_DELIVERIES = "Newest first: status, attempts, the next attempt, the receiver's last answer."


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


ENDPOINTS.add_reads(
    Route(
        "/webhooks",
        "list_webhooks",
        "List webhook endpoints (admin)",
        "Every endpoint, in registration order (never a secret).",
    ),
    Route(
        "/webhooks/{endpoint_id}",
        "read_webhook",
        "Read a webhook endpoint (admin)",
        "One endpoint; the `ETag` is its version.",
    ),
)


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


ENDPOINTS.add_deliveries(
    Route(
        "/webhooks/{endpoint_id}/deliveries",
        "list_deliveries",
        "List an endpoint's deliveries (admin)",
        _DELIVERIES,
    ),
    Route(
        "/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
        "redeliver",
        "Send a delivery again (admin)",
        "Queues a new delivery of the same signed content (same `webhook-id`).",
    ),
)


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


CHANNELS.add_reads(
    Route(
        "/channels",
        "list_channels",
        "List Slack and Teams channels (admin)",
        "Every channel, in connection order (URLs shown only as hints).",
    ),
    Route(
        "/channels/{channel_id}",
        "read_channel",
        "Read a channel (admin)",
        "One channel; the `ETag` is its version.",
    ),
)


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


CHANNELS.add_deliveries(
    Route(
        "/channels/{channel_id}/deliveries",
        "list_channel_deliveries",
        "List a channel's deliveries (admin)",
        _DELIVERIES,
    ),
    Route(
        "/channels/{channel_id}/deliveries/{delivery_id}/redeliver",
        "redeliver_to_channel",
        "Send a channel message again (admin)",
        "Queues the same message again.",
    ),
)
