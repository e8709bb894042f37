"""People (the only place names and e-mails live), the caller, and access tokens."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api import policy, positions, present
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

people = router("people")
tokens = APIRouter(tags=["tokens"])
"""Not idempotent-replayable: a replay would need the secret, and secrets are never stored."""


@people.post(
    "/people",
    status_code=201,
    response_model=s.CommandResultOut,
    responses=problems(403, 409),
    summary="Register a person (admin)",
)
def register_person(
    body: s.PersonCreate,
    uses: RegistryDep,
    response: Response,
) -> CommandResult:
    """Registers a person by name and e-mail. The e-mail must be new (409 `email_taken`)."""
    result = uses.register_person(body)
    return answer(response, result, location=f"/api/v1/people/{result.id}")


@people.get(
    "/people",
    response_model=s.PeoplePage,
    responses=problems(),
    summary="List people",
)
def list_people(
    services: ServicesDep,
    _: PrincipalDep,
    __: StorePositionDep,
    active: Annotated[bool | None, Query(description="Only active (or inactive) people.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> s.PeoplePage:
    """Everyone in the registry, in registration order."""
    with services.directory.current() as directory:
        positions.saw_directory(services.directory)
        items = [
            present.person_entry(pid, entry, services.directory.version(pid))
            for pid, entry in directory.people.items()
            if active is None or entry.active == active
        ]
    return s.PeoplePage(**page(items, limit, offset))


@people.get(
    "/people/{person_id}",
    response_model=s.PersonOut,
    responses=problems(404),
    summary="Read a person",
)
def read_person(
    person_id: UUID, ledger: LedgerDep, _: PrincipalDep, __: StorePositionDep, response: Response
) -> s.PersonOut:
    """One person; the `ETag` is its version."""
    person = ledger.get_person(person_id)
    read_from_store(response, ledger, person)
    return present.person(person)


@people.patch(
    "/people/{person_id}",
    response_model=s.CommandResultOut,
    responses=problems(403, 404, 409, 412),
    summary="Rename a person (admin)",
)
def rename_person(
    person_id: UUID,
    body: s.PersonPatch,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The new name applies everywhere at once: other records refer to people by id."""
    return answer(response, uses.rename_person(person_id, body, expected))


@people.post(
    "/people/{person_id}/email",
    response_model=s.CommandResultOut,
    responses=problems(403, 404, 409, 412),
    summary="Change a person's e-mail (admin)",
)
def change_email(
    person_id: UUID,
    body: s.PersonEmailChange,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """The same person (id, history, tokens) with a new e-mail, by which single sign-on and
    SCIM find them from now on. An e-mail someone else has now is 409 `email_taken`."""
    return answer(response, uses.change_email(person_id, body, expected))


@people.post(
    "/people/{person_id}/deactivate",
    response_model=s.CommandResultOut,
    responses=problems(403, 404, 409, 412),
    summary="Deactivate a person (admin)",
)
def deactivate_person(
    person_id: UUID,
    body: s.Reason,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """A deactivated person's tokens stop working at once; their history stays."""
    return answer(response, uses.deactivate_person(person_id, body, expected))


@people.post(
    "/people/{person_id}/reactivate",
    response_model=s.CommandResultOut,
    responses=problems(403, 404, 409, 412),
    summary="Reactivate a person (admin)",
)
def reactivate_person(
    person_id: UUID,
    body: s.Reason,
    uses: RegistryDep,
    expected: IfMatchDep,
    response: Response,
) -> CommandResult:
    """A reactivated person's existing tokens work again (unless revoked)."""
    return answer(response, uses.reactivate_person(person_id, body, expected))


@people.get("/me", response_model=s.Me, responses=problems(), summary="Who am I")
def me(principal: PrincipalDep, services: ServicesDep) -> s.Me:
    """The caller's person, the token's role, their teams and the teams they manage."""
    person = services.ledger.get_person(principal.person_id)
    with services.directory.current() as directory:
        positions.saw_directory(services.directory)  # it includes the person's own events
        teams = present.memberships(directory, principal.person_id)
        managed = sorted(policy.managed_teams(directory, principal.person_id), key=str)
    return s.Me(
        person_id=person.id,
        name=person.name,
        email=person.email,
        role=principal.role,
        token_id=principal.token_id,
        teams=teams,
        managed_team_ids=managed,
    )


# ------------------------------------------------------------------- tokens


@tokens.post(
    "/tokens",
    status_code=201,
    response_model=s.TokenIssued,
    responses=problems(403, 404, 409),
    summary="Issue a token (admin)",
)
def issue_token(
    body: s.TokenCreate,
    uses: RegistryDep,
    response: Response,
) -> s.TokenIssued:
    """Issues a bearer token to an active person with a role. The secret is in this answer
    only: it is stored nowhere, so this POST ignores `Idempotency-Key` (a retry issues another
    token; revoke the spare one)."""
    secret, result = uses.issue_token(body)
    answer(response, result)
    return s.TokenIssued(
        id=result.id,
        version=result.version,
        position=result.position,
        token=secret,
        token_id=result.id,
        person_id=body.person_id,
        role=body.role,
    )


@tokens.post(
    "/tokens/{token_id}/revoke",
    response_model=s.CommandResultOut,
    responses=problems(403, 404, 409),
    summary="Revoke a token (admin)",
)
def revoke_token(
    token_id: UUID,
    body: s.Reason,
    uses: RegistryDep,
    response: Response,
) -> CommandResult:
    """The token stops working at once."""
    return answer(response, uses.revoke_token(token_id, body))
