"""Teams: the alignment hierarchy and its members (admins manage them, everyone reads)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from api import positions, present
from api import schemas as s
from api.deps import (
    IfMatchDep,
    LedgerDep,
    PrincipalDep,
    ServicesDep,
    StorePositionDep,
    answer,
)
from api.routes import Limit, Offset, RegistryDep, page, problems, read_from_store, router
from domain.application import CommandResult

teams = router("teams")


@teams.post(
    "/teams",
    status_code=201,
    response_model=s.CommandResult,
    responses=problems(403, 404, 409),
    summary="Form a team (admin)",
)
def form_team(
    body: s.TeamCreate,
    uses: RegistryDep,
    response: Response,
) -> CommandResult:
    """A team under `parent_id` (or at the top). Its id is in the answer and `Location`."""
    result = uses.form_team(body)
    return answer(response, result, location=f"/api/v1/teams/{result.id}")


@teams.get("/teams", response_model=s.TeamsPage, responses=problems(), summary="List teams")
def list_teams(
    services: ServicesDep,
    _: PrincipalDep,
    __: StorePositionDep,
    parent_id: Annotated[UUID | None, Query(description="Only the teams directly below.")] = None,
    include_disbanded: bool = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> s.TeamsPage:
    """Teams in formation order, with their members."""
    with services.directory.current() as directory:
        positions.saw_directory(services.directory)
        items = [
            present.team_entry(tid, entry, services.directory.version(tid))
            for tid, entry in directory.teams.items()
            if (parent_id is None or entry.parent_id == parent_id)
            and (include_disbanded or not entry.disbanded)
        ]
    return s.TeamsPage(**page(items, limit, offset))


@teams.get(
    "/teams/{team_id}", response_model=s.Team, responses=problems(404), summary="Read a team"
)
def read_team(
    team_id: UUID, ledger: LedgerDep, _: PrincipalDep, __: StorePositionDep, response: Response
) -> s.Team:
    """One team with its members and their roles; the `ETag` is its version."""
    team = ledger.get_team(team_id)
    read_from_store(response, ledger, team)
    return present.team(team)


@teams.patch(
    "/teams/{team_id}",
    response_model=s.CommandResult,
    responses=problems(403, 404, 409, 412),
    summary="Rename and/or move a team (admin)",
)
def patch_team(
    team_id: UUID,
    body: s.TeamPatch,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Send `name` to rename, `parent_id` to move (null: to the top). The move is checked
    first (it can fail on a loop), then the rename."""
    return answer(response, uses.patch_team(team_id, body, expected))


@teams.post(
    "/teams/{team_id}/members",
    response_model=s.CommandResult,
    responses=problems(403, 404, 409, 412),
    summary="Add a member (admin)",
)
def add_member(
    team_id: UUID,
    body: s.MemberAdd,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Adds an active person as `member` or `manager`."""
    return answer(response, uses.add_member(team_id, body, expected))


@teams.patch(
    "/teams/{team_id}/members/{person_id}",
    response_model=s.CommandResult,
    responses=problems(403, 404, 409, 412),
    summary="Change a member's role (admin)",
)
def change_member_role(
    team_id: UUID,
    person_id: UUID,
    body: s.MemberPatch,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """Make a member a manager (who then decides for this team and those below) or back."""
    return answer(response, uses.change_member_role(team_id, person_id, body, expected))


@teams.delete(
    "/teams/{team_id}/members/{person_id}",
    response_model=s.CommandResult,
    responses=problems(403, 404, 409, 412),
    summary="Remove a member (admin)",
)
def remove_member(
    team_id: UUID,
    person_id: UUID,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The person leaves the team; their objectives and history stay."""
    return answer(response, uses.remove_member(team_id, person_id, expected))


@teams.post(
    "/teams/{team_id}/disband",
    response_model=s.CommandResult,
    responses=problems(403, 404, 409, 412),
    summary="Disband a team (admin)",
)
def disband_team(
    team_id: UUID,
    body: s.Reason,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """A disbanded team takes no new members or objectives; its history stays."""
    return answer(response, uses.disband_team(team_id, body, expected))
