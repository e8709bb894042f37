"""Webhook endpoints (registering, changing what they receive, disabling, re-enabling) and
Slack / Teams chat channels (connecting, disabling, re-enabling)."""

from __future__ import annotations

from uuid import UUID

from domain.base import CommandContext
from domain.channel import ChannelKind, ChatChannel
from domain.errors import require
from domain.ledger.base import CHANNEL, TEAM, WEBHOOK, CommandResult, LedgerBase
from domain.webhook import WebhookEndpoint


class WebhookLedger(LedgerBase):
    def get_webhook_endpoint(self, endpoint_id: UUID) -> WebhookEndpoint:
        return self._load(WEBHOOK, endpoint_id)

    def register_webhook_endpoint(
        self,
        url: str,
        event_types: list[str],
        private_content: bool,
        ctx: CommandContext,
        endpoint_id: UUID | None = None,
    ) -> CommandResult:
        return self._commit(
            WebhookEndpoint.register(url, event_types, private_content, ctx, endpoint_id)
        )

    def change_webhook_event_types(
        self,
        endpoint_id: UUID,
        event_types: list[str],
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on(
            WEBHOOK, endpoint_id, expected_version, lambda e: e.change_event_types(event_types, ctx)
        )

    def disable_webhook_endpoint(
        self,
        endpoint_id: UUID,
        reason: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on(WEBHOOK, endpoint_id, expected_version, lambda e: e.disable(reason, ctx))

    def reenable_webhook_endpoint(
        self,
        endpoint_id: UUID,
        ctx: CommandContext,
        reason: str = "",
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on(WEBHOOK, endpoint_id, expected_version, lambda e: e.reenable(ctx, reason))

    # ------------------------------------------------------- chat channels

    def get_chat_channel(self, channel_id: UUID) -> ChatChannel:
        return self._load(CHANNEL, channel_id)

    def connect_chat_channel(
        self,
        kind: ChannelKind,
        team_id: UUID | None,
        url: str,
        ctx: CommandContext,
        channel_id: UUID | None = None,
    ) -> CommandResult:
        if team_id is not None:
            team = self._load(TEAM, team_id, "team_id")
            require(not team.disbanded, "team_disbanded", "the team is disbanded", "team_id")
        return self._commit(ChatChannel.connect(kind, team_id, url, ctx, channel_id))

    def disable_chat_channel(
        self, channel_id: UUID, reason: str, ctx: CommandContext
    ) -> CommandResult:
        return self._on(CHANNEL, channel_id, None, lambda c: c.disable(reason, ctx))

    def reenable_chat_channel(self, channel_id: UUID, ctx: CommandContext) -> CommandResult:
        return self._on(CHANNEL, channel_id, None, lambda c: c.reenable(ctx))
