"""Slack and Microsoft Teams messages: a generic notice (title, text, link) in each one's format.

`Notice` is the seam between whatever decides to tell a channel something and the delivery
machinery: the webhook follower narrates a team's negotiation and check-in events as notices,
and the notifier (person notices) can hand its own to `queue_notice`, which writes a delivery row
that the one sender posts, with the same retries, backoff, `Retry-After` and 410 rule as every
webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from psycopg import Connection

from domain.channel import ChannelKind
from infra.webhooks.store import WebhookStore


@dataclass(frozen=True)
class Notice:
    """What a chat message says: a title, a sentence or two, and the page that acts on it."""

    title: str
    text: str
    link: str | None = None


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(notice: Notice) -> dict[str, Any]:
    """A Slack incoming-webhook message in Block Kit (with `text` as the notification's
    fallback)."""
    title = _slack_escape(notice.title)
    heading = f"*<{notice.link}|{title}>*" if notice.link else f"*{title}*"
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{heading}\n{_slack_escape(notice.text)}"},
        }
    ]
    if notice.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in okrledger"},
                        "url": notice.link,
                    }
                ],
            }
        )
    return {"text": f"{notice.title}: {notice.text}", "blocks": blocks}


def teams_payload(notice: Notice) -> dict[str, Any]:
    """A Microsoft Teams Workflows ("post to a channel when a webhook request is received")
    message: one Adaptive Card."""
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": notice.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {"type": "TextBlock", "text": notice.text, "wrap": True},
        ],
    }
    if notice.link:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open in okrledger", "url": notice.link}
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def message_body(kind: ChannelKind | str, notice: Notice) -> bytes:
    payload = slack_payload(notice) if kind == ChannelKind.SLACK else teams_payload(notice)
    return orjson.dumps(payload)


def queue_notice(
    store: WebhookStore,
    conn: Connection[Any],
    *,
    channel_id: UUID,
    kind: ChannelKind | str,
    notice: Notice,
    message_id: str,
    position: int,
    about: UUID,
    now: datetime,
) -> None:
    """Queue a notice for a channel, in the caller's transaction (the notifier's, with its own
    progress). `about` orders deliveries: notices about the same thing go out in `position`
    order; `message_id` names the notice in the delivery log."""
    store.insert(
        conn,
        [
            (
                channel_id,
                position,
                about,
                message_id,
                "notice",
                message_body(kind, notice),
                now,
                None,
            )
        ],
    )
