"""The authorization policy on hand-built directories: no database, no HTTP."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

import pytest

from api import policy
from api.policy import ObjectiveFacts, Principal
from domain.access import Role
from projections.directory import DirectoryState, PersonEntry, TeamEntry

ACME, PLATFORM, INFRA, SALES = (uuid4() for _ in range(4))
CEO, MIA, MAX, IGOR, SAM, SUE, OUTSIDER = (uuid4() for _ in range(7))


def _directory() -> DirectoryState:
    """Acme ⊃ {Platform ⊃ Infra, Sales}."""
    state = DirectoryState()
    for person in (CEO, MIA, MAX, IGOR, SAM, SUE, OUTSIDER):
        state.people[person] = PersonEntry(name=str(person)[:4], email=f"{person}@x.example")
    state.teams[ACME] = TeamEntry("Acme", None, {CEO: "manager"})
    state.teams[PLATFORM] = TeamEntry("Platform", ACME, {MIA: "manager", MAX: "member"})
    state.teams[INFRA] = TeamEntry("Infra", PLATFORM, {IGOR: "member"})
    state.teams[SALES] = TeamEntry("Sales", ACME, {SAM: "manager", SUE: "member"})
    return state


D = _directory()


def who(person: UUID, role: Role) -> Principal:
    return Principal(person_id=person, role=role, token_id=uuid4())


def team_objective(team: UUID, **kw: object) -> ObjectiveFacts:
    return ObjectiveFacts(owner_team_id=team, **kw)  # type: ignore[arg-type]


def personal_objective(person: UUID, **kw: object) -> ObjectiveFacts:
    return ObjectiveFacts(owner_person_id=person, **kw)  # type: ignore[arg-type]


def test_managed_teams_include_every_team_below() -> None:
    assert policy.managed_teams(D, CEO) == {ACME, PLATFORM, INFRA, SALES}
    assert policy.managed_teams(D, MIA) == {PLATFORM, INFRA}
    assert policy.managed_teams(D, MAX) == set()


def test_a_disbanded_team_confers_nothing() -> None:
    state = _directory()
    state.teams[PLATFORM].disbanded = True
    assert policy.managed_teams(state, MIA) == set()
    assert not policy.is_owner(state, MAX, team_objective(PLATFORM))


def _asking(question: object, *cases: tuple[UUID, Role, ObjectiveFacts, bool]) -> list[object]:
    """`cases` of one policy question: who (person and token role), about what, and its answer."""
    name = getattr(question, "__name__", "")
    return [pytest.param(question, *case, id=f"{name}-{n}") for n, case in enumerate(cases)]


@pytest.mark.parametrize(
    ("question", "person", "role", "facts", "answer"),
    [
        *_asking(
            policy.may_contribute,
            # members: their own objectives and their teams'
            (MAX, Role.MEMBER, team_objective(PLATFORM), True),
            (MAX, Role.MEMBER, personal_objective(MAX), True),
            (MAX, Role.MEMBER, team_objective(SALES), False),
            (MAX, Role.MEMBER, team_objective(INFRA), False),
            (MAX, Role.MEMBER, personal_objective(IGOR), False),
            # managers: also the teams below them and the people in them
            (MIA, Role.MANAGER, team_objective(INFRA), True),
            (MIA, Role.MANAGER, personal_objective(IGOR), True),
            (MIA, Role.MANAGER, team_objective(SALES), False),
            (CEO, Role.MANAGER, personal_objective(SUE), True),
            # a manager in the directory holding a member token acts as a member
            (MIA, Role.MEMBER, team_objective(INFRA), False),
            (MIA, Role.MEMBER, team_objective(PLATFORM), True),
            # auditors write nothing, even their own
            (MAX, Role.AUDITOR, personal_objective(MAX), False),
            # admins contribute like members
            (MAX, Role.ADMIN, personal_objective(MAX), True),
            (OUTSIDER, Role.ADMIN, team_objective(SALES), False),
        ),
        *_asking(
            policy.may_decide,
            (MIA, Role.MANAGER, team_objective(PLATFORM), True),
            (MIA, Role.MANAGER, team_objective(INFRA), True),
            (MIA, Role.MANAGER, personal_objective(MAX), True),
            (MIA, Role.MANAGER, team_objective(SALES), False),
            (CEO, Role.MANAGER, team_objective(SALES), True),
            (MAX, Role.MEMBER, team_objective(PLATFORM), False),
            (MIA, Role.MEMBER, team_objective(PLATFORM), False),
            (MIA, Role.ADMIN, team_objective(PLATFORM), False),
            (MIA, Role.AUDITOR, team_objective(PLATFORM), False),
            # the named approver decides even outside its teams (the top team's objectives)
            (SAM, Role.MANAGER, team_objective(ACME, approver_id=SAM), True),
            (SAM, Role.MEMBER, team_objective(ACME, approver_id=SAM), False),
        ),
        *_asking(
            policy.may_view,
            (SUE, Role.MEMBER, team_objective(PLATFORM), True),
            (SUE, Role.MEMBER, team_objective(PLATFORM, private=True), False),
            (MAX, Role.MEMBER, team_objective(PLATFORM, private=True), True),
            (MIA, Role.MANAGER, personal_objective(MAX, private=True), True),
            (CEO, Role.MANAGER, personal_objective(IGOR, private=True), True),
            (SAM, Role.MANAGER, personal_objective(MAX, private=True), False),
            (SAM, Role.MANAGER, personal_objective(MAX, private=True, approver_id=SAM), True),
            (
                IGOR,
                Role.MEMBER,
                personal_objective(MAX, private=True, submitted_by=str(IGOR)),
                True,
            ),
            (OUTSIDER, Role.AUDITOR, personal_objective(MAX, private=True), True),
            (OUTSIDER, Role.ADMIN, personal_objective(MAX, private=True), True),
            (OUTSIDER, Role.MEMBER, personal_objective(MAX, private=True), False),
        ),
    ],
)
def test_who_may_contribute_decide_and_view(
    question: Callable[[DirectoryState, Principal, ObjectiveFacts], bool],
    person: UUID,
    role: Role,
    facts: ObjectiveFacts,
    answer: bool,
) -> None:
    assert question(D, who(person, role), facts) is answer


def test_roles_for_administration_and_audit() -> None:
    assert policy.may_administer(who(OUTSIDER, Role.ADMIN))
    for role in (Role.MANAGER, Role.MEMBER, Role.AUDITOR):
        assert not policy.may_administer(who(OUTSIDER, role))
    assert policy.may_read_audit(who(OUTSIDER, Role.AUDITOR))
    assert policy.may_read_audit(who(OUTSIDER, Role.ADMIN))
    assert not policy.may_read_audit(who(OUTSIDER, Role.MANAGER))
    assert not policy.may_read_audit(who(OUTSIDER, Role.MEMBER))


def test_a_manager_grading_someone_elses_objective_is_an_adjustment() -> None:
    assert policy.grade_is_adjustment(D, who(MIA, Role.MANAGER), personal_objective(MAX))
    assert not policy.grade_is_adjustment(D, who(MAX, Role.MEMBER), personal_objective(MAX))
    assert not policy.grade_is_adjustment(D, who(MIA, Role.MANAGER), team_objective(PLATFORM))


def test_drafting_for_an_owner() -> None:
    max_ = who(MAX, Role.MEMBER)
    assert policy.may_reassign_to(D, max_, PLATFORM, None)
    assert policy.may_reassign_to(D, max_, None, MAX)
    assert not policy.may_reassign_to(D, max_, None, SUE)
    assert not policy.may_reassign_to(D, max_, None, None)
    assert policy.may_reassign_to(D, who(MIA, Role.MANAGER), INFRA, None)


@pytest.mark.parametrize(
    ("actor", "allowed", "refused"),
    [
        ("scim", {"register", "change_email", "deactivate", "link", "unlink"}, {"change_role"}),
        ("sso:https://idp.example", {"register", "change_role", "issue_token"}, {"deactivate"}),
        ("system", {"issue_token", "revoke_token", "forget", "change_email"}, set()),
        ("someone", set(), {"register", "issue_token"}),
    ],
)
def test_each_provisioner_does_what_it_is_for(
    actor: str, allowed: set[str], refused: set[str]
) -> None:
    provisioner = policy.Provisioner(actor)
    assert all(policy.may_provision(provisioner, action) for action in allowed)
    assert not any(policy.may_provision(provisioner, action) for action in refused | {"nope"})


def test_a_read_only_token_manages_no_tokens() -> None:
    me = uuid4()
    assert policy.may_manage_own_tokens(Principal(me, Role.MEMBER, uuid4()))
    assert not policy.may_manage_own_tokens(Principal(me, Role.ADMIN, uuid4(), read_only=True))
