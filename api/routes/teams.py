"""Teams: the alignment hierarchy and its members (admins manage them, everyone reads)."""

from __future__ import annotations

from api import present
from api import schemas as s
from api.routes import RegistryDep, problems, router
from api.routes.commands import (
    Command,
    Listing,
    Param,
    Read,
    creating,
    id_filter,
    register_resource,
)
from api.usecases.registry import RegistryUseCases as R

teams = router("teams")


_ONE = "/teams/{team_id}"

register_resource(
    teams,
    RegistryDep,
    create=creating(
        "/teams",
        "form_team",
        "Form a team (admin)",
        "A team under `parent_id` (or at the top). Its id is in the answer and `Location`.",
        R.form_team,
        s.TeamCreate,
    ),
    create_problems=problems(403, 404, 409),
    listing=Listing(
        "/teams",
        "list_teams",
        "List teams",
        "Teams in formation order, with their members.",
        lambda d: d.teams,
        present.team_entry,
        s.TeamsPage,
        (
            id_filter("parent_id", "Only the teams directly below."),
            Param("include_disbanded", bool, False),
        ),
        lambda entry, parent_id, include_disbanded: (
            (parent_id is None or entry.parent_id == parent_id)
            and (include_disbanded or not entry.disbanded)
        ),
    ),
    read=Read.one(
        _ONE,
        "team",
        "One team with its members and their roles; the `ETag` is its version.",
        present.team,
        s.TeamOut,
    ),
    changes=[
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
    ],
    change_problems=problems(403, 404, 409, 412),
)
