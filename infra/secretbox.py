"""Integration secrets at rest: AES-256-GCM under the key from ``OKR_SECRETS_KEY``.

A sealed value is ``okrsec1:<key id>:<base64 of nonce and ciphertext>``; the row's id is the
associated data, so a sealed value copied onto another row does not open. Earlier keys
(``OKR_SECRETS_OLD_KEYS``) still open values until they are sealed again under the current key.
Values written before sealing existed (no ``okrsec1:`` prefix) are read as they are and sealed
on their first use once a key is configured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.errors import RuleViolated
from infra.settings import Settings

PREFIX = "okrsec1:"
KEY_SETTING = "OKR_SECRETS_KEY"


class SecretsKeyMissing(RuleViolated):
    """No key is configured, so no new secret may be stored."""

    def __init__(self) -> None:
        super().__init__(
            "secrets_key_missing",
            f"{KEY_SETTING} is not set: integration secrets are stored encrypted, so set it to "
            "the base64 of 32 random bytes (see docs/deploy.md) before registering one",
        )


class SecretUnreadable(RuleViolated):
    """A stored value opens with none of the configured keys."""

    def __init__(self, row_id: UUID) -> None:
        super().__init__(
            "secrets_key_wrong",
            f"the stored secret of {row_id} opens with neither {KEY_SETTING} nor "
            "OKR_SECRETS_OLD_KEYS: configure the key it was sealed with",
        )


def parse_key(text: str, setting: str) -> bytes:
    """A base64 32-byte key, or ValueError naming the setting (never the value)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        msg = f"{setting} must be the base64 of 32 random bytes"
        raise ValueError(msg)
    return key


def key_id(key: bytes) -> str:
    """A short public name of a key (the first 8 hex digits of its SHA-256)."""
    return hashlib.sha256(key).hexdigest()[:8]


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


@dataclass(frozen=True)
class SecretBox:
    """Seals and opens secrets under the current key; opens under earlier ones too."""

    key: bytes
    old_keys: tuple[bytes, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox | None:
        """The configured box; None without ``OKR_SECRETS_KEY``."""
        if settings.secrets_key is None or not settings.secrets_key.get_secret_value().strip():
            return None
        key = parse_key(settings.secrets_key.get_secret_value(), KEY_SETTING)
        old = settings.secrets_old_keys.get_secret_value() if settings.secrets_old_keys else ""
        olds = tuple(
            parse_key(part, "OKR_SECRETS_OLD_KEYS") for part in old.split(",") if part.strip()
        )
        return cls(key, olds)

    @property
    def key_id(self) -> str:
        return key_id(self.key)

    def seal(self, row_id: UUID, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.key).encrypt(nonce, secret.encode(), row_id.bytes)
        return f"{PREFIX}{self.key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, row_id: UUID, stored: str) -> str:
        """The secret of a sealed value; SecretUnreadable if no configured key opens it."""
        try:
            _, kid, body = stored.split(":", 2)
            raw = base64.b64decode(body, validate=True)
            key = next(k for k in (self.key, *self.old_keys) if key_id(k) == kid)
            return AESGCM(key).decrypt(raw[:12], raw[12:], row_id.bytes).decode()
        except (ValueError, StopIteration, InvalidTag, binascii.Error):
            raise SecretUnreadable(row_id) from None

    def is_current(self, stored: str) -> bool:
        """Whether a stored value is sealed under the current key."""
        return stored.startswith(f"{PREFIX}{self.key_id}:")
