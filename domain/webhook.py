"""Outbound webhook endpoints: where the ledger's events are posted, and which of them.

An endpoint is a decision (who registered it, which event types it receives, whether it may
carry private objectives' content, when and why it was disabled), so it is an aggregate. Its
signing secret is not: a secret never goes into an event; the delivery machinery keeps it in a
table of its own (infra/webhooks/), returned once when the endpoint is registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from domain.base import CommandContext, OkrAggregate
from domain.errors import require, require_text, require_value
from domain.receivers import Disabling, Receiving, Reenabling

ALL_EVENT_TYPES = "*"
"""An event type list of just this receives every event."""

MAX_EVENT_TYPES = 200


def require_url(url: str) -> str:
    """An absolute http(s) URL with a host, without credentials or a fragment."""
    text = require_text(url, "url", max_length=2000)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    require_value(
        parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname),
        "url_invalid",
        "url must be an absolute http or https URL with a host",
        "url",
    )
    assert parts is not None
    require_value(
        parts.username is None and parts.password is None and not parts.fragment,
        "url_invalid",
        "url must carry no user name, password or fragment",
        "url",
    )
    require_value(port is None or port > 0, "url_invalid", "url has an invalid port", "url")
    return text


def require_event_types(event_types: list[str]) -> list[str]:
    """A non-empty list of distinct event type names (or just "*")."""
    require_value(
        bool(event_types), "event_types_required", "event_types must not be empty", "event_types"
    )
    require_value(
        len(event_types) <= MAX_EVENT_TYPES,
        "event_types_too_many",
        f"event_types holds at most {MAX_EVENT_TYPES} types",
        "event_types",
    )
    cleaned = [require_text(t, "event_types", max_length=200) for t in event_types]
    require_value(
        len(set(cleaned)) == len(cleaned),
        "event_types_repeated",
        "event_types names a type twice",
        "event_types",
    )
    require_value(
        ALL_EVENT_TYPES not in cleaned or len(cleaned) == 1,
        "event_types_invalid",
        'event_types is either ["*"] or a list of event types',
        "event_types",
    )
    return cleaned


class WebhookEndpoint(Receiving, OkrAggregate):
    NOUN = "endpoint"

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        url: str
        event_types: list[str]
        private_content: bool

    class Registered(OkrAggregate.Created):
        url: str
        event_types: list[str]
        private_content: bool
        """Whether the endpoint may carry private objectives' content (an admin's grant)."""

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.url = self.url
            endpoint.event_types = list(self.event_types)
            endpoint.private_content = self.private_content
            endpoint.enabled = True
            endpoint.disabled_reason = ""

    class EventTypesChanged(OkrAggregate.Event):
        event_types: list[str]

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.event_types = list(self.event_types)

    class Disabled(Disabling):
        pass

    class Reenabled(Reenabling):
        pass

    @classmethod
    def register(
        cls,
        url: str,
        event_types: list[str],
        private_content: bool,
        ctx: CommandContext,
        endpoint_id: UUID | None = None,
    ) -> WebhookEndpoint:
        return cls._create(
            cls.Registered,
            id=endpoint_id or uuid4(),
            url=require_url(url),
            event_types=require_event_types(event_types),
            private_content=bool(private_content),
            **ctx.stamp(),
        )

    def receives(self, event_type: str) -> bool:
        return self.enabled and (
            self.event_types == [ALL_EVENT_TYPES] or event_type in self.event_types
        )

    def change_event_types(self, event_types: list[str], ctx: CommandContext) -> None:
        types = require_event_types(event_types)
        require(
            types != self.event_types,
            "event_types_unchanged",
            "the endpoint already receives exactly these event types",
            "event_types",
        )
        self._trigger(self.EventTypesChanged, ctx, event_types=types)
