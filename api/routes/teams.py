"""Teams: the alignment hierarchy and its members (admins manage them, everyone reads)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query

from api import present
from api import schemas as s
from api.deps import (
    PrincipalDep,
    ServicesDep,
    StorePositionDep,
)
from api.routes import (
    Limit,
    Offset,
    RegistryDep,
    directory_list,
    page,
    problems,
    router,
)
from api.routes.commands import Command, Read, register, register_read
from api.usecases.registry import RegistryUseCases as R

teams = router("teams")


register(
    teams,
    RegistryDep,
    problems(403, 404, 409),
    Command(
        "POST",
        "/teams",
        "form_team",
        "Form a team (admin)",
        "A team under `parent_id` (or at the top). Its id is in the answer and `Location`.",
        R.form_team,
        s.TeamCreate,
        status_code=201,
        if_match=False,
        location="/api/v1/teams/{id}",
    ),
)


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
    items = directory_list(
        services,
        lambda d: d.teams,
        present.team_entry,
        lambda entry: (
            (parent_id is None or entry.parent_id == parent_id)
            and (include_disbanded or not entry.disbanded)
        ),
    )
    return s.TeamsPage(**page(items, limit, offset))


register_read(
    teams,
    Read(
        "/teams/{team_id}",
        "read_team",
        "Read a team",
        "One team with its members and their roles; the `ETag` is its version.",
        lambda ledger, team_id: ledger.get_team(team_id),
        present.team,
        s.TeamOut,
    ),
)


_ONE = "/teams/{team_id}"

register(
    teams,
    RegistryDep,
    problems(403, 404, 409, 412),
    Command(
        "PATCH",
        _ONE,
        "patch_team",
        "Rename and/or move a team (admin)",
        """Send `name` to rename, `parent_id` to move (null: to the top). The move is checked
        first (it can fail on a loop), then the rename.""",
        R.patch_team,
        s.TeamPatch,
    ),
    Command(
        "POST",
        _ONE + "/members",
        "add_member",
        "Add a member (admin)",
        "Adds an active person as `member` or `manager`.",
        R.add_member,
        s.MemberAdd,
    ),
    Command(
        "PATCH",
        _ONE + "/members/{person_id}",
        "change_member_role",
        "Change a member's role (admin)",
        "Make a member a manager (who then decides for this team and those below) or back.",
        R.change_member_role,
        s.MemberPatch,
    ),
    Command(
        "DELETE",
        _ONE + "/members/{person_id}",
        "remove_member",
        "Remove a member (admin)",
        "The person leaves the team; their objectives and history stay.",
        R.remove_member,
    ),
    Command(
        "POST",
        _ONE + "/disband",
        "disband_team",
        "Disband a team (admin)",
        "A disbanded team takes no new members or objectives; its history stays.",
        R.disband_team,
        s.Reason,
    ),
)
