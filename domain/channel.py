"""Chat channels: Slack and Microsoft Teams incoming webhooks, per team or for the organisation.

Connecting a channel is a decision (who, which kind, for which team), so it is an aggregate. Its
incoming-webhook URL is a secret (whoever has it can post into the channel): it never goes into
an event; the delivery machinery keeps it in its secrets table (infra/webhooks/), and events and
answers show only a hint of it (its host and last four characters).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from domain.base import CommandContext, OkrAggregate
from domain.errors import require_choice
from domain.receivers import Disabling, Receiving, Reenabling
from domain.webhook import require_url


class ChannelKind(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"


def url_hint(url: str) -> str:
    """What may be shown of a secret URL: its scheme and host, and its last four characters."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/…{url[-4:]}"


class ChatChannel(Receiving, OkrAggregate):
    NOUN = "channel"

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        kind: ChannelKind
        team_id: UUID | None
        url_hint: str

    class Connected(OkrAggregate.Created):
        kind: str
        team_id: UUID | None
        """The team whose events it narrates; None: the whole organisation."""
        url_hint: str

        def apply(self, channel: ChatChannel) -> None:
            channel.kind = ChannelKind(self.kind)
            channel.team_id = self.team_id
            channel.url_hint = self.url_hint
            channel.enabled = True
            channel.disabled_reason = ""

    class Disabled(Disabling):
        pass

    class Reenabled(Reenabling):
        pass

    @classmethod
    def connect(
        cls,
        kind: ChannelKind | str,
        team_id: UUID | None,
        url: str,
        ctx: CommandContext,
        channel_id: UUID | None = None,
    ) -> ChatChannel:
        return cls._create(
            cls.Connected,
            id=channel_id or uuid4(),
            kind=require_choice(ChannelKind, str(kind), "kind").value,
            team_id=team_id,
            url_hint=url_hint(require_url(url)),
            **ctx.stamp(),
        )
