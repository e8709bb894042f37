"""Access review: who held which role and which team memberships, with the events that granted
them, read from the directory fold as it stood at one log position.

`access_review(state)` is pure: the caller folds the directory up to the instant asked about
(api/directory.py) and this shapes the answer. A person without a role of their own (their
tokens were issued before roles moved to people) shows ``role: None``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from projections.directory import DirectoryState, Grant

Json = dict[str, Any]


def _grant(grant: Grant | None) -> Json | None:
    if grant is None:
        return None
    return {
        "position": grant.position,
        "recorded_at": grant.at.isoformat(),
        "actor": grant.actor,
        "reason": grant.reason,
    }


def access_review(state: DirectoryState, *, include_inactive: bool = True) -> list[Json]:
    """One entry per person (registration order): active state, role, team memberships."""
    memberships: dict[UUID, list[Json]] = {}
    for team_id, team in state.teams.items():
        if team.disbanded:
            continue
        for person_id, role in team.members.items():
            memberships.setdefault(person_id, []).append(
                {
                    "team_id": str(team_id),
                    "team": team.name,
                    "role": role,
                    "granted_by": _grant(team.granted.get(person_id)),
                }
            )
    people = []
    for person_id, person in state.people.items():
        if not person.active and not include_inactive:
            continue
        people.append(
            {
                "person_id": str(person_id),
                "name": person.name,
                "email": person.email,
                "active": person.active,
                "active_since": _grant(person.active_since),
                "role": person.role,
                "role_granted_by": _grant(person.role_granted),
                "teams": memberships.get(person_id, []),
            }
        )
    return people
