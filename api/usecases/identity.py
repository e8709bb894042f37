"""The identity use cases: provisioning people from SCIM, single sign-on and the command line.

The caller is a `Provisioner` (`api/policy.py`), not a person: each command asks
`policy.may_provision` first (403 `provisioning_forbidden` otherwise). Who has an e-mail is read
from the directory's `emails` index (`projections/directory.py`), which follows e-mail changes,
so an address taken by a change is as taken as one registered with, and a person is found by
their current address without reading anyone's events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from api.deps import execute
from api.directory import LogDirectory
from api.errors import forbidden
from api.policy import Provisioner, may_provision
from domain.access import Role
from domain.application import CommandResult, OkrLedger
from domain.base import SYSTEM, CommandContext
from domain.errors import NotFound, RuleViolated
from domain.person import Person, normalise_email
from domain.team import MemberRole, Team
from infra.audit.personal import Forgetting, forget_person
from infra.token_use import PersonalToken, personal_tokens
from projections.directory import holder_of, identity_key


class IdentityUseCases:
    """What one provisioner may do to people and their tokens."""

    def __init__(
        self,
        ledger: OkrLedger,
        directory: LogDirectory,
        provisioner: Provisioner,
        request_id: str | None = None,
    ) -> None:
        self.ledger = ledger
        self.directory = directory
        self.provisioner = provisioner
        self.ctx = (
            CommandContext(actor=provisioner.actor, request_id=request_id)
            if request_id
            else CommandContext(actor=provisioner.actor)
        )

    def _may(self, action: str) -> None:
        if not may_provision(self.provisioner, action):
            raise forbidden(
                "provisioning_forbidden",
                f"{self.provisioner.actor} may not {action.replace('_', ' ')} here",
            )

    def _run(
        self, action: str, person_id: UUID | None, command: Callable[[], CommandResult]
    ) -> CommandResult:
        self._may(action)
        return execute(self.ledger, person_id, command)

    # ------------------------------------------------------------------- reads

    def person(self, person_id: UUID) -> Person:
        return self.ledger.get_person(person_id)

    def history(self, person_id: UUID) -> list[Person.Event]:
        """One person's events (a few: their registry entry's history)."""
        events = self.ledger.repository.event_store.get(person_id)
        return [e for e in events if isinstance(e, Person.Event)]

    def tokens(self, person_id: UUID) -> list[PersonalToken]:
        """A person's tokens, newest first, with their last use."""
        self._may("list_tokens")
        return personal_tokens(self.ledger, person_id)

    def holder_of(self, email: str) -> Person | None:
        """The person who has `email` now (registered with it, or changed to it), if any."""
        return email_holder(self.ledger, self.directory, email)

    def linked(self, issuer: str, subject: str) -> UUID | None:
        """The person an identity provider last linked as `subject` (maybe since relinked)."""
        with self.directory.current() as directory:
            return directory.identities.get(identity_key(issuer, subject))

    def _free(self, email: str, person_id: UUID | None) -> None:
        require_email_free(self.ledger, self.directory, email, person_id)

    # ---------------------------------------------------------------- commands

    def register_person(self, name: str, email: str) -> CommandResult:
        self._may("register")
        self._free(email, None)
        return self._run(
            "register", None, lambda: self.ledger.register_person(name, email, self.ctx)
        )

    def change_email(self, person_id: UUID, email: str, reason: str) -> CommandResult:
        self._may("change_email")
        self._free(email, person_id)
        return self._run(
            "change_email",
            person_id,
            lambda: self.ledger.change_email(person_id, email, reason, self.ctx),
        )

    def rename(self, person_id: UUID, name: str) -> CommandResult:
        return self._run(
            "rename", person_id, lambda: self.ledger.rename_person(person_id, name, self.ctx)
        )

    def deactivate(self, person_id: UUID, reason: str) -> CommandResult:
        return self._run(
            "deactivate",
            person_id,
            lambda: self.ledger.deactivate_person(person_id, reason, self.ctx),
        )

    def reactivate(self, person_id: UUID, reason: str) -> CommandResult:
        return self._run(
            "reactivate",
            person_id,
            lambda: self.ledger.reactivate_person(person_id, reason, self.ctx),
        )

    def change_role(self, person_id: UUID, role: Role, reason: str) -> CommandResult:
        return self._run(
            "change_role",
            person_id,
            lambda: self.ledger.change_role(person_id, role, reason, self.ctx),
        )

    def link(self, person_id: UUID, issuer: str, subject: str) -> CommandResult:
        return self._run(
            "link",
            person_id,
            lambda: self.ledger.link_identity(person_id, issuer, subject, self.ctx),
        )

    def unlink(self, person_id: UUID, issuer: str) -> CommandResult:
        return self._run(
            "unlink", person_id, lambda: self.ledger.unlink_identity(person_id, issuer, self.ctx)
        )

    def issue_token(
        self,
        person_id: UUID,
        role: Role,
        label: str = "",
        *,
        expires_at: datetime | None = None,
        read_only: bool = False,
    ) -> tuple[str, CommandResult]:
        """The secret (shown once, stored nowhere) and the command's result."""
        self._may("issue_token")
        issued: list[str] = []

        def issue() -> CommandResult:
            secret, result = self.ledger.issue_token(
                person_id, role, self.ctx, label=label, expires_at=expires_at, read_only=read_only
            )
            issued.append(secret)
            return result

        result = execute(self.ledger, None, issue)
        return issued[0], result

    # ------------------------------------------------------------------- teams

    def team(self, team_id: UUID) -> Team:
        self._may("teams")
        return self.ledger.get_team(team_id)

    def teams(self) -> list[UUID]:
        """The teams not disbanded, in forming order."""
        self._may("teams")
        with self.directory.current() as directory:
            return [i for i, team in directory.teams.items() if not team.disbanded]

    def form_team(self, name: str, reason: str) -> CommandResult:
        return self._run(
            "teams", None, lambda: self.ledger.form_team(name, self.ctx, reason=reason)
        )

    def rename_team(self, team_id: UUID, name: str, reason: str) -> CommandResult:
        return self._run(
            "teams", team_id, lambda: self.ledger.rename_team(team_id, name, self.ctx, reason)
        )

    def add_member(self, team_id: UUID, person_id: UUID, reason: str) -> CommandResult:
        """`person_id` joins the team as a member (managers are named by admins), as the
        identity provider's group lists them, deactivated or not."""
        return self._run(
            "teams",
            team_id,
            lambda: self.ledger.add_team_member(
                team_id, person_id, MemberRole.MEMBER, self.ctx, reason, mirrored=True
            ),
        )

    def remove_member(self, team_id: UUID, person_id: UUID, reason: str) -> CommandResult:
        return self._run(
            "teams",
            team_id,
            lambda: self.ledger.remove_team_member(team_id, person_id, self.ctx, reason),
        )

    def disband_team(self, team_id: UUID, reason: str) -> CommandResult:
        return self._run(
            "teams", team_id, lambda: self.ledger.disband_team(team_id, reason, self.ctx)
        )

    def revoke_token(self, token_id: UUID, reason: str) -> CommandResult:
        return self._run(
            "revoke_token", token_id, lambda: self.ledger.revoke_token(token_id, reason, self.ctx)
        )

    def forget(self, email: str, reason: str) -> Forgetting:
        """Erase the personal data of the person who has `email` now (their key destroyed,
        then `Person.Forgotten`)."""
        self._may("forget")
        person = self.holder_of(email)
        if person is None:
            raise NotFound("person", email, "email")
        return forget_person(self.ledger, email, reason, self.ctx, person_id=person.id)


def email_holder(ledger: OkrLedger, directory: LogDirectory, email: str) -> Person | None:
    """The person who has `email` now (registered with it, or changed to it), if any: the
    directory's `emails` index, checked against that one person."""
    address = normalise_email(email)
    with directory.current() as state:
        person_id = holder_of(state, address)
    if person_id is None:  # the directory may not have seen this request's own write yet
        return ledger.find_person_by_email(address)
    person = ledger.get_person(person_id)
    return person if person.email == address and not person.forgotten else None


def require_email_free(
    ledger: OkrLedger, directory: LogDirectory, email: str, person_id: UUID | None
) -> None:
    """409 `email_taken` when someone other than `person_id` has `email` now."""
    holder = email_holder(ledger, directory, email)
    if holder is not None and holder.id != person_id:
        raise RuleViolated("email_taken", f"{email} is already registered", "email")


def command_line(ledger: OkrLedger) -> IdentityUseCases:
    """The use cases as the command line run on the server uses them (the actor `system`),
    with a directory of its own folded from the log."""
    return IdentityUseCases(ledger, LogDirectory(ledger), Provisioner(SYSTEM))
