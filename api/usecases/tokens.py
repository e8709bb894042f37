"""A person's own personal access tokens: list, issue and revoke them, and end a session.

Whoever is signed in manages their own tokens (`api/policy.py` `may_manage_own_tokens`: not
with a read-only token); someone else's token does not exist for them (404). A new token acts
with its person's current role.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from api.deps import Services, execute
from api.errors import forbidden, not_found
from api.policy import may_manage_own_tokens
from api.usecases import UseCases
from domain.access import AccessToken
from domain.application import CommandResult
from domain.base import CommandContext
from domain.errors import NotFound
from infra.token_use import PersonalToken, personal_tokens


class PersonalTokens(UseCases):
    """The caller's own tokens."""

    def list(self) -> list[PersonalToken]:
        return personal_tokens(self.services.ledger, self.principal.person_id)

    def issue(
        self, label: str, expires_at: datetime | None, read_only: bool
    ) -> tuple[str, CommandResult]:
        """The secret (shown once, stored nowhere) and the command's result."""
        if not may_manage_own_tokens(self.principal):
            raise forbidden("token_read_only", "a read-only token cannot create tokens")
        ledger, issued = self.services.ledger, []

        def issue() -> CommandResult:
            secret, result = ledger.issue_token(
                self.principal.person_id,
                self.principal.role,
                self.ctx,
                label=label,
                expires_at=expires_at,
                read_only=read_only,
            )
            issued.append(secret)
            return result

        result = execute(ledger, None, issue)
        return issued[0], result

    def revoke(self, token_id: UUID) -> CommandResult:
        """Revoke one of the caller's tokens; anyone else's is a 404."""
        if not may_manage_own_tokens(self.principal):
            raise forbidden("token_read_only", "a read-only token cannot revoke tokens")
        token = _token(self.services, token_id)
        if token is None or token.person_id != self.principal.person_id:
            raise not_found("token", token_id)
        return self._run(
            token_id,
            lambda ledger: ledger.revoke_token(token_id, "revoked by its person", self.ctx),
        )


def _token(services: Services, token_id: UUID) -> AccessToken | None:
    try:
        return services.ledger.get_token(token_id)
    except NotFound:
        return None


def end_session(services: Services, token_id: str, label: str) -> None:
    """Sign-out: revoke the session token (one labelled `label`, issued by a sign-in), as its
    own person; any other token is left alone."""
    try:
        token = _token(services, UUID(token_id))
    except ValueError:
        return
    if token is None or token.label != label or token.revoked:
        return
    ctx = CommandContext(actor=str(token.person_id))
    execute(
        services.ledger, token.id, lambda: services.ledger.revoke_token(token.id, "signed out", ctx)
    )
