"""The webhook endpoints' and chat channels' use cases: admins register, change, disable and
replay endpoints, connect Slack and Teams channels, and read their deliveries. A webhook's
secret is answered once, at registration; a channel's URL never (only its hint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from api import positions
from api import webhook_schemas as w
from api.deps import check_version, require_admin
from api.errors import invalid, not_found
from api.usecases import Caller, UseCases
from domain.application import CommandResult, OkrLedger
from domain.channel import ChatChannel
from domain.webhook import ALL_EVENT_TYPES, WebhookEndpoint
from infra.settings import get_settings
from infra.webhooks.access import webhooks_of
from infra.webhooks.delivery import Endpoints, WebhookDelivery
from infra.webhooks.endpoints import connect_channel, register_endpoint
from infra.webhooks.store import Delivery
from projections.catalogue import CATALOGUE

T = TypeVar("T", WebhookEndpoint, ChatChannel)


def require_known_types(event_types: list[str]) -> list[str]:
    """Every type a CloudEvents type of the catalogue (or just "*"): 422 naming the first
    unknown one otherwise."""
    known = set(CATALOGUE.type_names())
    for name in event_types:
        if name != ALL_EVENT_TYPES and name not in known:
            raise invalid(
                "event_type_unknown",
                f"event_types: {name!r} is no event type (e.g. Objective.Approved)",
                "event_types",
            )
    return event_types


class WebhookUseCases(UseCases):
    """Admins only: a 403 before the body is looked at."""

    def __init__(self, caller: Caller) -> None:
        require_admin(caller.principal)
        super().__init__(caller)
        self.ledger = caller.services.ledger
        self.settings = caller.services.settings or get_settings()

    @property
    def delivery(self) -> WebhookDelivery:
        return webhooks_of(self.ledger, self.settings)

    def register(self, body: w.WebhookCreate) -> tuple[CommandResult, str]:
        types = require_known_types(body.event_types)
        made: list[str] = []

        def register(ledger: OkrLedger) -> CommandResult:
            result, secret = register_endpoint(
                ledger,
                self.delivery.store,
                body.url,
                types,
                body.private_content,
                self.ctx,
                secret=body.secret,
                allow_private=self.settings.webhook_allow_private,
            )
            made.append(secret)
            return result

        result = self._run(None, register)
        return result, made[0]

    def _known(self, kind: str, target_id: UUID, load: Callable[[UUID], T]) -> T:
        """An endpoint or channel this instance delivers to (its secret is here), else a 404."""
        if target_id not in self.delivery.store.secrets():
            raise not_found(kind, target_id)
        target = load(target_id)
        positions.saw_aggregate(self.ledger, target.id, target.version)
        return target

    def _every(self, of: Callable[[Endpoints], dict[UUID, T]]) -> list[T]:
        """Every endpoint or channel (`of` picks which) this instance delivers to, oldest
        first."""
        positions.saw_head(self.ledger)
        return sorted(of(self.delivery.endpoints()).values(), key=lambda t: t.created_on)

    def _deliveries(
        self, known: Callable[[UUID], object], target_id: UUID, before: int | None, limit: int
    ) -> list[Delivery]:
        """The deliveries to an endpoint or channel that `known` finds (else a 404)."""
        known(target_id)
        positions.saw_head(self.ledger)
        return self.delivery.store.deliveries(target_id, before=before, limit=limit)

    def _redeliver(
        self, known: Callable[[UUID], object], target_id: UUID, delivery_id: int
    ) -> Delivery:
        """One delivery to an endpoint or channel that `known` finds, queued again."""
        known(target_id)
        made = self.delivery.store.redeliver(target_id, delivery_id, self.delivery.clock())
        if made is None:
            raise not_found("delivery", delivery_id)
        return made

    def endpoint(self, endpoint_id: UUID) -> WebhookEndpoint:
        return self._known("webhook", endpoint_id, self.ledger.get_webhook_endpoint)

    def endpoints(self) -> list[WebhookEndpoint]:
        return self._every(lambda known: known.states)

    # ------------------------------------------------------------- channels

    def connect(self, body: w.ChannelCreate) -> CommandResult:
        return self._run(
            None,
            lambda ledger: connect_channel(
                ledger,
                self.delivery.store,
                body.kind,
                body.team_id,
                body.url,
                self.ctx,
                allow_private=self.settings.webhook_allow_private,
            ),
        )

    def channel(self, channel_id: UUID) -> ChatChannel:
        return self._known("channel", channel_id, self.ledger.get_chat_channel)

    def channels(self) -> list[ChatChannel]:
        return self._every(lambda known: known.channels)

    def disable_channel(self, channel_id: UUID, reason: str) -> CommandResult:
        self.channel(channel_id)
        return self._run(
            channel_id, lambda ledger: ledger.disable_chat_channel(channel_id, reason, self.ctx)
        )

    def reenable_channel(self, channel_id: UUID) -> CommandResult:
        self.channel(channel_id)
        return self._run(
            channel_id, lambda ledger: ledger.reenable_chat_channel(channel_id, self.ctx)
        )

    def channel_deliveries(
        self, channel_id: UUID, before: int | None = None, limit: int = 100
    ) -> list[Delivery]:
        return self._deliveries(self.channel, channel_id, before, limit)

    def redeliver_to_channel(self, channel_id: UUID, delivery_id: int) -> Delivery:
        return self._redeliver(self.channel, channel_id, delivery_id)

    def change(
        self, endpoint_id: UUID, body: w.WebhookPatch, expected: int | None
    ) -> CommandResult:
        endpoint = self.endpoint(endpoint_id)
        check_version(endpoint.version, expected)
        if body.event_types is None and body.enabled is None:
            raise invalid("patch_empty", "give event_types, enabled or both", "body")
        result: CommandResult | None = None
        if body.event_types is not None:
            types = require_known_types(body.event_types)
            result = self._run(
                endpoint_id,
                lambda ledger: ledger.change_webhook_event_types(endpoint_id, types, self.ctx),
            )
        if body.enabled is False:
            result = self.disable(endpoint_id, body.reason or "", None)
        elif body.enabled is True:
            result = self._run(
                endpoint_id,
                lambda ledger: ledger.reenable_webhook_endpoint(
                    endpoint_id, self.ctx, body.reason or ""
                ),
            )
        assert result is not None
        return result

    def disable(self, endpoint_id: UUID, reason: str, expected: int | None) -> CommandResult:
        endpoint = self.endpoint(endpoint_id)
        check_version(endpoint.version, expected)
        return self._run(
            endpoint_id,
            lambda ledger: ledger.disable_webhook_endpoint(endpoint_id, reason, self.ctx),
        )

    def deliveries(
        self, endpoint_id: UUID, before: int | None = None, limit: int = 100
    ) -> list[Delivery]:
        return self._deliveries(self.endpoint, endpoint_id, before, limit)

    def redeliver(self, endpoint_id: UUID, delivery_id: int) -> Delivery:
        return self._redeliver(self.endpoint, endpoint_id, delivery_id)

    def replay(self, endpoint_id: UUID, from_position: int) -> int:
        self.endpoint(endpoint_id)
        return self.delivery.replay(endpoint_id, from_position)
