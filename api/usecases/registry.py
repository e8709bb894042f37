"""The registry's use cases: people, access tokens, teams and cycles (admins manage them).

The caller is authorized once, when the use cases are made for them (`api/policy.py`
`may_administer`, through `api/deps.py` `require_admin`); If-Match is checked against the
aggregate's current version just before its command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from api import schemas as s
from api.deps import check_version, require_admin
from api.errors import invalid
from api.usecases import Caller, Command, UseCases
from api.usecases.identity import require_email_free
from domain.application import CommandResult, OkrLedger

Version = Callable[[OkrLedger], int]


class RegistryUseCases(UseCases):
    """The admin commands on people, tokens, teams and cycles, for one caller."""

    def __init__(self, caller: Caller) -> None:
        require_admin(caller.principal)
        super().__init__(caller)
        self.ledger = caller.services.ledger

    def _change(
        self, aggregate_id: UUID, version: Version, expected: int | None, command: Command
    ) -> CommandResult:
        """If-Match against the current version, then the command."""
        check_version(version(self.ledger), expected)
        return self._run(aggregate_id, command)

    # -------------------------------------------------------------------- people

    def register_person(self, body: s.PersonCreate) -> CommandResult:
        """An e-mail someone has now (registered with or changed to) is taken: 409."""
        require_email_free(self.ledger, self.services.directory, body.email, None)
        return self._run(
            None, lambda ledger: ledger.register_person(body.name, body.email, self.ctx)
        )

    def _person(self, person_id: UUID, expected: int | None, command: Command) -> CommandResult:
        return self._change(
            person_id, lambda ledger: ledger.get_person(person_id).version, expected, command
        )

    def rename_person(
        self, person_id: UUID, body: s.PersonPatch, expected: int | None
    ) -> CommandResult:
        return self._person(
            person_id, expected, lambda ledger: ledger.rename_person(person_id, body.name, self.ctx)
        )

    def change_email(
        self, person_id: UUID, body: s.PersonEmailChange, expected: int | None
    ) -> CommandResult:
        """An e-mail someone else has now is taken: 409 `email_taken`."""

        def change(ledger: OkrLedger) -> CommandResult:
            require_email_free(ledger, self.services.directory, body.email, person_id)
            return ledger.change_email(person_id, body.email, body.reason, self.ctx)

        return self._person(person_id, expected, change)

    def deactivate_person(
        self, person_id: UUID, body: s.Reason, expected: int | None
    ) -> CommandResult:
        return self._person(
            person_id,
            expected,
            lambda ledger: ledger.deactivate_person(person_id, body.reason, self.ctx),
        )

    def reactivate_person(
        self, person_id: UUID, body: s.Reason, expected: int | None
    ) -> CommandResult:
        return self._person(
            person_id,
            expected,
            lambda ledger: ledger.reactivate_person(person_id, body.reason, self.ctx),
        )

    # -------------------------------------------------------------------- tokens

    def issue_token(self, body: s.TokenCreate) -> tuple[str, CommandResult]:
        """The secret (answered once, stored nowhere) and the command's result."""
        issued: list[str] = []

        def issue(ledger: OkrLedger) -> CommandResult:
            secret, result = ledger.issue_token(ctx=self.ctx, **body.arguments())
            issued.append(secret)
            return result

        result = self._run(None, issue)
        return issued[0], result

    def revoke_token(self, token_id: UUID, body: s.Reason) -> CommandResult:
        return self._run(
            token_id, lambda ledger: ledger.revoke_token(token_id, body.reason, self.ctx)
        )

    # --------------------------------------------------------------------- teams

    def form_team(self, body: s.TeamCreate) -> CommandResult:
        return self._run(None, lambda ledger: ledger.form_team(body.name, self.ctx, body.parent_id))

    def _team(self, team_id: UUID, expected: int | None, command: Command) -> CommandResult:
        return self._change(
            team_id, lambda ledger: ledger.get_team(team_id).version, expected, command
        )

    def patch_team(self, team_id: UUID, body: s.TeamPatch, expected: int | None) -> CommandResult:
        """The move first (it can fail on a loop), then the rename; each its own write."""
        moving = "parent_id" in body.model_fields_set
        if body.name is None and not moving:
            raise invalid("nothing_to_change", "send name and/or parent_id", "body")
        check_version(self.ledger.get_team(team_id).version, expected)
        result: CommandResult | None = None
        if moving:
            result = self._run(
                team_id, lambda ledger: ledger.move_team(team_id, body.parent_id, self.ctx)
            )
        if body.name is not None:
            name = body.name
            result = self._run(team_id, lambda ledger: ledger.rename_team(team_id, name, self.ctx))
        assert result is not None
        return result

    def add_member(self, team_id: UUID, body: s.MemberAdd, expected: int | None) -> CommandResult:
        return self._team(
            team_id,
            expected,
            lambda ledger: ledger.add_team_member(team_id, body.person_id, body.role, self.ctx),
        )

    def change_member_role(
        self, team_id: UUID, person_id: UUID, body: s.MemberPatch, expected: int | None
    ) -> CommandResult:
        return self._team(
            team_id,
            expected,
            lambda ledger: ledger.change_member_role(team_id, person_id, body.role, self.ctx),
        )

    def remove_member(self, team_id: UUID, person_id: UUID, expected: int | None) -> CommandResult:
        return self._team(
            team_id,
            expected,
            lambda ledger: ledger.remove_team_member(team_id, person_id, self.ctx),
        )

    def disband_team(self, team_id: UUID, body: s.Reason, expected: int | None) -> CommandResult:
        return self._team(
            team_id, expected, lambda ledger: ledger.disband_team(team_id, body.reason, self.ctx)
        )

    # -------------------------------------------------------------------- cycles

    def plan_cycle(self, body: s.CycleCreate) -> CommandResult:
        return self._run(
            None,
            lambda ledger: ledger.plan_cycle(ctx=self.ctx, **body.arguments()),
        )

    def change_phase(
        self, cycle_id: UUID, change: str, expected: int | None, reason: str = ""
    ) -> CommandResult:
        """`start`, `grading`, `close` or `reopen` (with a reason)."""
        ctx = self.ctx
        commands: dict[str, Command] = {
            "start": lambda ledger: ledger.start_cycle(cycle_id, ctx),
            "grading": lambda ledger: ledger.open_grading(cycle_id, ctx),
            "close": lambda ledger: ledger.close_cycle(cycle_id, ctx),
            "reopen": lambda ledger: ledger.reopen_cycle(cycle_id, reason, ctx),
        }
        return self._change(
            cycle_id, lambda ledger: ledger.get_cycle(cycle_id).version, expected, commands[change]
        )
