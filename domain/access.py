"""API access tokens: issued to a person with a role, stored only as a hash, revocable.

A token's id is derived from the hash of its secret, so authenticating a request is one lookup
by id, and the secret itself is never stored anywhere.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, TypedDict, Unpack
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import Assigns, CommandContext, OkrAggregate
from domain.errors import clean_text, require, require_choice, require_text, require_value

TOKEN_PREFIX = "okr_"


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"
    AUDITOR = "auditor"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_id_for(secret: str) -> UUID:
    return uuid5(NAMESPACE_URL, "okrledger:token:" + hash_secret(secret))


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class TokenTerms(TypedDict, total=False):
    """What a token is issued with besides its holder and role (`AccessToken.issue`, and the
    ledger's `issue_token`): a label, an expiry (None: until revoked), reads only."""

    label: str
    expires_at: datetime | None
    read_only: bool


class AccessToken(OkrAggregate):
    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        person_id: UUID
        role: Role
        token_hash: str
        label: str
        revoked: bool
        expires_at: datetime | None
        read_only: bool

    class Issued(OkrAggregate.Created):
        person_id: UUID
        role: str
        token_hash: str
        label: str

        def apply(self, token: AccessToken) -> None:
            token.person_id = self.person_id
            token.role = Role(self.role)
            token.token_hash = self.token_hash
            token.label = self.label
            token.revoked = False
            token.expires_at = None
            token.read_only = False

    class Limited(Assigns):
        """The token works only until ``expires_at`` (None: until revoked) and, when
        ``read_only``, only for reads. Recorded with the issue, in the same commit."""

        expires_at: datetime | None
        read_only: bool

    class Revoked(OkrAggregate.Event):
        def apply(self, token: AccessToken) -> None:
            token.revoked = True

    @classmethod
    def issue(
        cls,
        person_id: UUID,
        role: Role,
        secret: str,
        ctx: CommandContext,
        **terms: Unpack[TokenTerms],
    ) -> AccessToken:
        token = cls._create(
            cls.Issued,
            id=token_id_for(secret),
            person_id=person_id,
            role=require_choice(Role, role, "role").value,
            token_hash=hash_secret(secret),
            label=clean_text(terms.get("label", ""), "label"),
            **ctx.stamp(),
        )
        expires_at, read_only = terms.get("expires_at"), terms.get("read_only", False)
        if expires_at is not None or read_only:
            require_value(
                expires_at is None or expires_at.tzinfo is not None,
                "expires_at_naive",
                "the expiry needs a time zone",
                "expires_at",
            )
            token._trigger(cls.Limited, ctx, expires_at=expires_at, read_only=read_only)
        return token

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))

    def revoke(self, reason: str, ctx: CommandContext) -> None:
        require(not self.revoked, "token_revoked", "the token is already revoked")
        self._trigger(self.Revoked, ctx, reason=require_text(reason, "reason"))
