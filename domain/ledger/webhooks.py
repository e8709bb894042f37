"""Webhook endpoints (registering, changing what they receive, disabling, re-enabling) and
Slack / Teams chat channels (connecting, disabling, re-enabling)."""

from __future__ import annotations

from uuid import UUID

from domain.base import CommandContext
from domain.channel import ChannelKind, ChatChannel
from domain.errors import require
from domain.ledger.base import CHANNEL, TEAM, WEBHOOK, CommandResult, LedgerBase
from domain.ledger.command import command
from domain.ledger.creation import creation
from domain.webhook import WebhookEndpoint


class WebhookLedger(LedgerBase):
    def get_webhook_endpoint(self, endpoint_id: UUID) -> WebhookEndpoint:
        return self._load(WEBHOOK, endpoint_id)

    register_webhook_endpoint = creation(WebhookEndpoint.register)
    change_webhook_event_types = command(WEBHOOK, WebhookEndpoint.change_event_types)
    disable_webhook_endpoint = command(WEBHOOK, WebhookEndpoint.disable)
    reenable_webhook_endpoint = command(WEBHOOK, WebhookEndpoint.reenable)

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

    disable_chat_channel = command(CHANNEL, ChatChannel.disable)
    reenable_chat_channel = command(CHANNEL, ChatChannel.reenable)
