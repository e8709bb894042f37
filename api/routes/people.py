"""People (the only place names and e-mails live), the caller, and access tokens."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import policy, positions, present
from api import schemas as s
from api.deps import PrincipalDep, ServicesDep, answer
from api.routes import RegistryDep, problems, router
from api.routes.commands import (
    Command,
    Listing,
    Read,
    creating,
    query,
    register,
    register_resource,
)
from api.usecases.registry import RegistryUseCases as R

people = router("people")
tokens = APIRouter(tags=["tokens"])
"""Not idempotent-replayable: a replay would need the secret, and secrets are never stored."""


_ONE = "/people/{person_id}"

register_resource(
    people,
    RegistryDep,
    create=creating(
        "/people",
        "register_person",
        "Register a person (admin)",
        "Registers a person by name and e-mail. The e-mail must be new (409 `email_taken`).",
        R.register_person,
        s.PersonCreate,
    ),
    create_problems=problems(403, 409),
    listing=Listing(
        "/people",
        "list_people",
        "List people",
        "Everyone in the registry, in registration order.",
        lambda d: d.people,
        present.person_entry,
        s.PeoplePage,
        (query("active", bool | None, "Only active (or inactive) people.", None),),
        lambda entry, active: active is None or entry.active == active,
    ),
    read=Read.one(
        _ONE, "person", "One person; the `ETag` is its version.", present.person, s.PersonOut
    ),
    changes=[
        Command(
            "PATCH",
            _ONE,
            "rename_person",
            "Rename a person (admin)",
            "The new name applies everywhere at once: other records refer to people by id.",
            R.rename_person,
            s.PersonPatch,
        ),
        Command(
            "POST",
            _ONE + "/email",
            "change_email",
            "Change a person's e-mail (admin)",
            "The same person (id, history, tokens) with a new e-mail, by which single sign-on and\n"
            "SCIM find them from now on. An e-mail someone else has now is 409 `email_taken`.",
            R.change_email,
            s.PersonEmailChange,
        ),
        Command(
            "POST",
            _ONE + "/deactivate",
            "deactivate_person",
            "Deactivate a person (admin)",
            "A deactivated person's tokens stop working at once; their history stays.",
            R.deactivate_person,
            s.Reason,
        ),
        Command(
            "POST",
            _ONE + "/reactivate",
            "reactivate_person",
            "Reactivate a person (admin)",
            "A reactivated person's existing tokens work again (unless revoked).",
            R.reactivate_person,
            s.Reason,
        ),
    ],
    change_problems=problems(403, 404, 409, 412),
)


@people.get("/me", response_model=s.Me, responses=problems(), summary="Who am I")
def me(principal: PrincipalDep, services: ServicesDep) -> s.Me:
    """The caller's person, the token's role, their teams and the teams they manage."""
    person = services.ledger.get_person(principal.person_id)
    with services.directory.current() as directory:
        positions.saw_directory(services.directory)  # it includes the person's own events
        teams = present.memberships(directory, principal.person_id)
        managed = sorted(policy.managed_teams(directory, principal.person_id), key=str)
    return present.shaped(
        s.Me,
        principal,
        name=person.name,
        email=person.email,
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
    return present.shaped(
        s.TokenIssued,
        result,
        token=secret,
        token_id=result.id,
        person_id=body.person_id,
        role=body.role,
    )


register(
    tokens,
    RegistryDep,
    problems(403, 404, 409),
    Command(
        "POST",
        "/tokens/{token_id}/revoke",
        "revoke_token",
        "Revoke a token (admin)",
        "The token stops working at once.",
        R.revoke_token,
        s.Reason,
        if_match=False,
    ),
)
