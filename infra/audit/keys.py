"""The Ed25519 key that signs chain checkpoints and export manifests.

The private key comes from configuration only: ``OKR_AUDIT_SIGNING_KEY`` (the PEM itself) or the
file ``okr audit init-key`` writes (``OKR_AUDIT_SIGNING_KEY_FILE``, by default in the data
folder). The database never holds it, so someone who can rewrite the database cannot sign.
Verification trusts the configured key's public half and any earlier public keys configured in
``OKR_AUDIT_PUBLIC_KEY_FILES`` (after a rotation); never a key found in the database.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from infra.audit.standalone import key_id

if TYPE_CHECKING:
    from pathlib import Path

    from infra.settings import Settings

__all__ = [
    "SigningKeyError",
    "key_id",
    "load_signing_key",
    "public_key_pem",
    "trusted_public_keys",
    "write_new_signing_key",
]


class SigningKeyError(Exception):
    """The configured signing key is missing, unreadable or not Ed25519."""


def write_new_signing_key(path: Path, *, force: bool = False) -> Ed25519PrivateKey:
    """Generate a key pair and write the private key to ``path`` (PKCS#8 PEM, mode 0600)."""
    if path.exists() and not force:
        msg = f"{path} already exists; a new key would orphan the checkpoints it signed"
        raise SigningKeyError(msg)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    os.replace(temporary, path)
    return key


def load_signing_key(settings: Settings) -> Ed25519PrivateKey | None:
    """The configured signing key, or ``None`` when none is configured (nothing gets signed)."""
    if settings.audit_signing_key is not None:
        return _private_key(settings.audit_signing_key.get_secret_value().encode(), "the PEM")
    path = settings.signing_key_file
    if not path.exists():
        return None
    return _private_key(path.read_bytes(), str(path))


def require_signing_key(settings: Settings) -> Ed25519PrivateKey:
    key = load_signing_key(settings)
    if key is None:
        msg = (
            f"no audit signing key: run `okr audit init-key` (writes {settings.signing_key_file}) "
            "or set OKR_AUDIT_SIGNING_KEY"
        )
        raise SigningKeyError(msg)
    return key


def trusted_public_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    """Public keys whose checkpoint signatures verification accepts, by key id."""
    keys: dict[str, Ed25519PublicKey] = {}
    signing = load_signing_key(settings)
    if signing is not None:
        keys[key_id(signing.public_key())] = signing.public_key()
    for path in settings.audit_public_key_files:
        public = load_pem_public_key(path.read_bytes())
        if not isinstance(public, Ed25519PublicKey):
            msg = f"{path} is not an Ed25519 public key"
            raise SigningKeyError(msg)
        keys[key_id(public)] = public
    return keys


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def _private_key(pem: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        msg = f"cannot read the audit signing key from {source}: {error}"
        raise SigningKeyError(msg) from None
    if not isinstance(key, Ed25519PrivateKey):
        msg = f"the audit signing key in {source} is not an Ed25519 key"
        raise SigningKeyError(msg)
    return key
