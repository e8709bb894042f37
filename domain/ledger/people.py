"""People and their access tokens."""

from __future__ import annotations

import itertools
from typing import Unpack
from uuid import UUID

from domain.access import AccessToken, Role, TokenTerms, new_secret, token_id_for
from domain.base import CommandContext
from domain.errors import NotFound, require, require_choice
from domain.ledger.base import PERSON, TOKEN, CommandResult, LedgerBase
from domain.ledger.command import change_of, command
from domain.person import Person, normalise_email, person_id_for


class PeopleLedger(LedgerBase):
    def person_id_for(self, email: str, generation: int = 0) -> UUID:
        """The id a person registered with ``email`` has in this deployment."""
        return person_id_for(email, self.person_id_secret, generation)

    def get_person(self, person_id: UUID, version: int | None = None) -> Person:
        return self._load_version(PERSON, person_id, version)

    def get_token(self, token_id: UUID) -> AccessToken:
        return self._load(TOKEN, token_id)

    def find_person_by_email(self, email: str) -> Person | None:
        """The live person who registered with ``email`` and still has it. Someone who took
        the address by an e-mail change is not found here: the directory's `emails` index
        (`projections/directory.py` `holder_of`) follows changes."""
        return self._email_slot(email)[0]

    def _email_slot(self, email: str) -> tuple[Person | None, UUID]:
        """The live person registered with ``email`` who still has it, and the id a new
        registration would take.

        A forgotten person keeps their id, and so does a person whose e-mail changed; the
        address then starts a new generation, so it can be registered again.
        """
        address = normalise_email(email)
        for generation in itertools.count():
            person_id = self.person_id_for(address, generation)
            try:
                person = self.get_person(person_id)
            except NotFound:
                return None, person_id
            # "" : their key is gone and the erasure not yet recorded; the address is theirs.
            if not person.forgotten and person.email in (address, ""):
                return person, person_id
        raise AssertionError("unreachable")

    def register_person(self, name: str, email: str, ctx: CommandContext) -> CommandResult:
        existing, person_id = self._email_slot(email)
        require(existing is None, "email_taken", f"{email} is already registered", "email")
        return self._commit(Person.register(name, email, ctx, person_id))

    rename_person = command(PERSON, Person.rename)

    def change_email(
        self, person_id: UUID, email: str, reason: str, ctx: CommandContext
    ) -> CommandResult:
        """Give a person a new e-mail; their id (and history) stay. An address another person
        registered with and still has is refused here; one taken by an e-mail change is refused
        by the use case, which reads the directory's `emails` index."""
        holder, _ = self._email_slot(email)
        require(
            holder is None or holder.id == person_id,
            "email_taken",
            f"{email} is already registered",
            "email",
        )
        return self._on(PERSON, person_id, None, lambda p: p.change_email(email, reason, ctx))

    forget_person = command(PERSON, Person.forget)
    """Record that a person's personal data was erased; the persistence edge erases it."""
    deactivate_person = command(PERSON, Person.deactivate)
    reactivate_person = command(PERSON, Person.reactivate)
    set_notification_preferences = command(PERSON, Person.set_notification_preferences)
    """Record how the person wants to be notified (docs/notifications.md)."""

    # ------------------------------------------------------------ access

    def issue_token(
        self,
        person_id: UUID,
        role: Role,
        ctx: CommandContext,
        **terms: Unpack[TokenTerms],
    ) -> tuple[str, CommandResult]:
        """Issue a token (until `expires_at`, for reads only when `read_only`); the secret is
        returned once and never stored."""
        person = self._load(PERSON, person_id, "person_id")
        require(person.active, "person_inactive", "a deactivated person gets no token", "person_id")
        secret = new_secret()
        token = AccessToken.issue(person_id, role, secret, ctx, **terms)
        if person.role == token.role.value:
            return secret, self._commit(token)
        # The role belongs to the person: a token issued with a role gives the person that role,
        # recorded as its own event (tokens issued before roles moved to people keep theirs).
        person.change_role(token.role.value, f"token issued with the role {token.role}", ctx)
        return secret, self._commit(token, person)

    @change_of(PERSON, "person_id")
    def change_role(self, person: Person, role: Role, reason: str, ctx: CommandContext) -> None:
        """Give a person a role; ``reason`` is `sso:<issuer>`, `scim` or an admin's words."""
        person.change_role(require_choice(Role, role, "role").value, reason, ctx)

    link_identity = command(PERSON, Person.link_identity, "person_id")
    """Remember that an identity provider knows the person as `subject`."""
    unlink_identity = command(PERSON, Person.unlink_identity, "person_id")
    """Record that an identity provider no longer names the person."""

    def role_of(self, token: AccessToken) -> Role:
        """The role a token acts with: its person's, or (set before people had roles) its own."""
        person_role = self.get_person(token.person_id).role
        return Role(person_role) if person_role else token.role

    revoke_token = command(TOKEN, AccessToken.revoke)

    def authenticate(self, secret: str) -> AccessToken | None:
        """The live token for a secret, or None (unknown, revoked, expired, or its person
        deactivated)."""
        try:
            token = self._load(TOKEN, token_id_for(secret))
        except NotFound:
            return None
        if token.revoked or token.expired() or not self.get_person(token.person_id).active:
            return None
        return token
