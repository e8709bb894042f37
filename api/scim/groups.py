"""SCIM Groups are teams (RFC 7643 §4.2; docs/identity.md says why teams and not roles).

A Group is a live team: `displayName` its name, `members` its members (Users: people). Creating
a Group forms a top-level team; members join as `member` (an admin names managers and moves the
team in the hierarchy); a member a Group no longer lists leaves the team, managers included;
DELETE disbands the team (its history stays). Every change is the team's own event with the
actor and reason `scim`, through the identity use cases.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response
from pydantic import Field
from scim2_models import (
    URN,
    CaseExact,
    ComplexAttribute,
    Meta,
    Mutability,
    Reference,
    Required,
    Resource,
    Returned,
)

from api.scim.protocol import (
    ACTOR,
    DELETED,
    ScimError,
    _base,
    _body,
    _identity,
    _run,
    answer,
    answer_list,
    equals_filter,
    patch_steps,
    query_of,
    validated,
)
from api.scim.users import User
from api.usecases.identity import IdentityUseCases
from domain.errors import NotFound
from domain.team import Team

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


class Member(ComplexAttribute):
    """A member of the Group: a User (`value` its id)."""

    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = None
    ref: Annotated[Reference[User] | None, Mutability.immutable] = Field(
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    type: Annotated[str | None, Mutability.immutable] = Field(None, examples=["User"])
    display: Annotated[str | None, Mutability.read_only, Returned.request] = None
    """The person's name, when asked for (`attributes=members.display`)."""


class Group(Resource[Any]):
    """A team: its name (`displayName`, required) and its members."""

    __schema__ = URN(GROUP_SCHEMA)

    external_id: Annotated[str | None, Mutability.read_only] = None
    """Not kept for Groups (a team is named by its id here): read-only, never set."""
    display_name: Annotated[str | None, Required.true] = None
    members: list[Member] | None = None


def _location(request: Request, team_id: UUID) -> str:
    return f"{_base(request)}/Groups/{team_id}"


def _load(request: Request, group_id: str) -> Team:
    """The live team behind a Group id; 404 when there is none or it was disbanded."""
    try:
        team = _identity(request).team(UUID(group_id))
    except (ValueError, NotFound):
        raise ScimError(404, f"no group {group_id}") from None
    if team.disbanded:
        raise ScimError(404, f"no group {group_id}")
    return team


def _resource(request: Request, team: Team) -> Group:
    identity = _identity(request)
    members = []
    for person_id in team.members:
        members.append(
            Member(
                value=str(person_id),
                ref=Reference[User](f"{_base(request)}/Users/{person_id}"),
                type="User",
                display=identity.person(person_id).name,
            )
        )
    return Group(
        id=str(team.id),
        display_name=team.name,
        members=members,
        meta=Meta(
            resource_type="Group",
            created=team.created_on,
            last_modified=team.modified_on,
            location=_location(request, team.id),
            version=f'W/"{team.version}"',
        ),
    )


def _group(request: Request, team: Team, created: bool = False) -> Response:
    return answer(request, _resource(request, team), created)


def _member_ids(identity: IdentityUseCases, entries: Any) -> list[UUID]:
    """The people a `members` value names, each a User here (else 400 `invalidValue`)."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        entries = [entries]
    ids: list[UUID] = []
    for entry in entries:
        value = entry.get("value") if isinstance(entry, dict) else None
        try:
            person_id = UUID(str(value))
            identity.person(person_id)
        except (ValueError, NotFound):
            raise ScimError(400, f"members: no User {value}", "invalidValue") from None
        if person_id not in ids:
            ids.append(person_id)
    return ids


def _parse(request: Request, data: dict[str, Any]) -> tuple[str, list[UUID]]:
    """The name and members a Group body asks for."""
    group = validated(Group, {**data, "schemas": [GROUP_SCHEMA]})
    name = (group.display_name or "").strip()
    if not name:
        raise ScimError(400, "displayName is required", "invalidValue")
    members = [{"value": m.value} for m in group.members or []]
    return name, _member_ids(_identity(request), members)


def _apply(request: Request, team: Team, name: str | None, members: list[UUID] | None) -> None:
    """Record what changed, each change an event of the team's with the actor `scim`."""
    identity = _identity(request)
    if name is not None and name != team.name:
        identity.rename_team(team.id, name, ACTOR)
    if members is None:
        return
    for person_id in members:
        if person_id not in team.members:
            identity.add_member(team.id, person_id, ACTOR)
    for person_id in list(team.members):
        if person_id not in members:
            identity.remove_member(team.id, person_id, ACTOR)


def _by_name(request: Request, expression: str | None) -> list[Team]:
    identity = _identity(request)
    teams = [identity.team(team_id) for team_id in identity.teams()]
    if not expression:
        return teams
    wanted = equals_filter(expression, "displayName")
    return [team for team in teams if team.name == wanted]


async def list_groups(request: Request) -> Response:
    """GET /Groups, or POST /Groups/.search (RFC 7644 §3.4.3): the query in a SearchRequest."""
    query = await query_of(request, Group)
    teams = _by_name(request, query.filter)
    return answer_list([_resource(request, team) for team in teams], query, Group)


async def create_group(request: Request) -> Response:
    name, members = _parse(request, await _body(request))
    identity = _identity(request)
    team_id = _run(lambda: identity.form_team(name, ACTOR)).id
    team = _load(request, str(team_id))
    _run(lambda: _apply(request, team, None, members))
    return _group(request, _load(request, str(team_id)), created=True)


async def get_group(request: Request) -> Response:
    return _group(request, _load(request, request.path_params["group_id"]))


async def replace_group(request: Request) -> Response:
    team = _load(request, request.path_params["group_id"])
    name, members = _parse(request, await _body(request))
    _run(lambda: _apply(request, team, name, members))
    return _group(request, _load(request, str(team.id)))


_MEMBER = re.compile(r'^members\[\s*value\s+eq\s+"([^"]+)"\s*\]$', re.IGNORECASE)


async def patch_group(request: Request) -> Response:
    """PATCH (RFC 7644 §3.5.2): `displayName` replaced; `members` added, replaced, removed
    (all, or one by `members[value eq "…"]`); recorded as the events of the difference."""
    team = _load(request, request.path_params["group_id"])
    steps = await patch_steps(request, Group)
    identity = _identity(request)
    name: str | None = None
    members = list(team.members)
    for op, path, key, value in steps:
        one = _MEMBER.match(path)
        attribute = key.rsplit(":", 1)[-1].lower()
        if one and op == "remove":
            members = [m for m in members if str(m) != one.group(1)]
        elif attribute == "displayname" and op != "remove":
            name = str(value or "").strip() or None
            if name is None:
                raise ScimError(400, "displayName is required", "invalidValue")
        elif attribute == "members" and op == "remove":
            members = []
        elif attribute == "members":
            named = _member_ids(identity, value)
            members = named if op == "replace" else [*members, *named]
        elif attribute == "displayname":
            raise ScimError(400, "displayName is required and cannot be removed", "mutability")
        else:
            raise ScimError(400, f"'{key}' is not an attribute kept here", "invalidPath")
    _run(lambda: _apply(request, team, name, list(dict.fromkeys(members))))
    return _group(request, _load(request, str(team.id)))


async def delete_group(request: Request) -> Response:
    team = _load(request, request.path_params["group_id"])
    identity = _identity(request)
    _run(lambda: identity.disband_team(team.id, DELETED))
    return Response(status_code=204)
