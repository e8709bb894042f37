"""Registering an endpoint: its secret in the table first, then the event (never the secret)."""

from __future__ import annotations

import base64
import binascii
import secrets as random_secrets
from uuid import UUID, uuid4

from domain.application import CommandResult, OkrLedger
from domain.base import CommandContext
from domain.channel import ChannelKind
from domain.errors import InvalidValue
from domain.webhook import require_url
from infra.secretbox import SecretsKeyMissing
from infra.webhooks.guard import check_url
from infra.webhooks.store import WebhookStore

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(32)).decode()


def require_secret(secret: str) -> str:
    """A ``whsec_`` secret of 24 to 64 base64 bytes, or InvalidValue naming `secret`."""
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not secret.startswith(SECRET_PREFIX) or not 24 <= len(key) <= 64:
        raise InvalidValue(
            "secret_invalid",
            "secret must be whsec_ followed by 24 to 64 bytes in base64 (Standard Webhooks)",
            "secret",
        )
    return secret


def register_endpoint(
    ledger: OkrLedger,
    store: WebhookStore,
    url: str,
    event_types: list[str],
    private_content: bool,
    ctx: CommandContext,
    *,
    secret: str | None = None,
    allow_private: bool = False,
) -> tuple[CommandResult, str]:
    """Register an endpoint; its result and its secret (to be shown once, never again).
    Without a key to seal the secret with, nothing is checked or stored: SecretsKeyMissing."""
    if store.box is None:
        raise SecretsKeyMissing
    secret = require_secret(secret) if secret is not None else new_secret()
    check_url(require_url(url), allow_private)
    endpoint_id: UUID = uuid4()
    store.put_secret(endpoint_id, secret)
    result = ledger.register_webhook_endpoint(url, event_types, private_content, ctx, endpoint_id)
    return result, secret


def connect_channel(
    ledger: OkrLedger,
    store: WebhookStore,
    kind: ChannelKind,
    team_id: UUID | None,
    url: str,
    ctx: CommandContext,
    *,
    allow_private: bool = False,
) -> CommandResult:
    """Connect a Slack or Teams incoming webhook: its URL (a secret) in the table first, then
    the event (with only a hint of the URL)."""
    if store.box is None:
        raise SecretsKeyMissing
    check_url(require_url(url), allow_private)
    channel_id: UUID = uuid4()
    store.put_secret(channel_id, url)
    return ledger.connect_chat_channel(kind, team_id, url, ctx, channel_id)
