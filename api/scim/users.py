"""SCIM Users are people (RFC 7643 §4.1, trimmed to what the person registry keeps): create,
read, list and filter by `userName`, replace, PATCH and delete (= deactivate), each change an
event of the person's through the identity use cases (docs/identity.md)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response
from scim2_models import (
    URN,
    ComplexAttribute,
    Context,
    Meta,
    Required,
    Resource,
    Uniqueness,
)

from api.scim.protocol import (
    ACTOR,
    DELETED,
    EXTERNAL_ID,
    USER_NAME,
    USER_SCHEMA,
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
from domain.errors import NotFound, OkrError
from domain.person import Person


class Email(ComplexAttribute):
    """An e-mail of the User: the person's e-mail (`value`). One is kept: of several sent, the
    one marked `primary` (read on the way in, as `type` is, and not kept)."""

    value: Annotated[str | None, Required.true] = None


class User(Resource[Any]):
    """The User this server keeps, as its `/Schemas` describe it (RFC 7643 §4.1 trimmed to what
    is stored): `userName` (any string, unique), `displayName` (the person's name), `emails`
    (the person's e-mail: unique; a change keeps the person), `active`, and `externalId`
    (the provider's own identifier). `name` is read on the way in and never stored apart."""

    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    display_name: Annotated[str | None, Required.true] = None
    emails: Annotated[list[Email] | None, Required.true] = None
    active: Annotated[bool | None, Required.true] = None


def _deleted(person: Person) -> bool:
    return person.forgotten or (not person.active and _last_reason(person) == DELETED)


def _last_reason(person: Person) -> str:
    return str(getattr(person, "scim_state_reason", ""))


def _load(request: Request, user_id: str) -> Person:
    """The person behind a User id, with the SCIM identities of their events
    (`scim_user_name`, `scim_external_id`); 404 when deleted through SCIM or forgotten."""
    try:
        person_id = UUID(user_id)
    except ValueError:
        raise ScimError(404, f"no user {user_id}") from None
    identity = _identity(request)
    try:
        person = identity.person(person_id)
    except NotFound:
        raise ScimError(404, f"no user {user_id}") from None
    reason, linked = "", {USER_NAME: "", EXTERNAL_ID: ""}
    for event in identity.history(person_id):
        if isinstance(event, Person.Deactivated | Person.Reactivated):
            reason = event.reason
        elif isinstance(event, Person.IdentityLinked) and event.issuer in linked:
            linked[event.issuer] = event.subject
        elif isinstance(event, Person.IdentityUnlinked) and event.issuer in linked:
            linked[event.issuer] = ""
    person.scim_state_reason = reason  # type: ignore[attr-defined]
    person.scim_user_name = linked[USER_NAME] or person.email  # type: ignore[attr-defined]
    person.scim_external_id = linked[EXTERNAL_ID] or None  # type: ignore[attr-defined]
    if _deleted(person):
        raise ScimError(404, f"no user {user_id}")
    return person


def _resource(request: Request, person: Person) -> User:
    return User(
        id=str(person.id),
        external_id=getattr(person, "scim_external_id", None),
        user_name=getattr(person, "scim_user_name", None) or person.email,
        display_name=person.name,
        emails=[Email(value=person.email)] if person.email else None,
        active=person.active,
        meta=Meta(
            resource_type="User",
            created=person.created_on,
            last_modified=person.modified_on,
            location=_location(request, person),
            version=f'W/"{person.version}"',
        ),
    )


def _user(request: Request, person: Person, created: bool = False) -> Response:
    return answer(request, _resource(request, person), created)


class Wanted:
    """What a User body asks for: the userName, e-mail, name, active state and externalId."""

    def __init__(self, user: User, name: str | None) -> None:
        self.user_name = (user.user_name or "").strip()
        self.external_id = user.external_id
        addresses = [str(e.value) for e in user.emails or [] if e.value]  # the primary first
        if "@" in self.user_name:
            addresses.append(self.user_name)
        self.email = addresses[0] if addresses else ""
        self.name = user.display_name or name or self.user_name
        self.active = user.active is not False


_KEPT = {
    key.lower(): key
    for key in ("id", "meta", "externalId", "userName", "displayName", "emails", "active")
}


def _primary_first(entries: list[Any]) -> list[Any]:
    """The e-mails as `{"value": …}`, the one marked primary first."""
    kept = [e for e in entries if isinstance(e, dict)]
    kept.sort(key=lambda e: not any(k.lower() == "primary" and v is True for k, v in e.items()))
    values = [next((v for k, v in e.items() if k.lower() == "value"), None) for e in kept]
    return [{"value": value} for value in values]


def _kept(data: dict[str, Any]) -> dict[str, Any]:
    """The attributes of a User body this server keeps (names read case-insensitively, RFC
    7643 §2.1); what identity providers send beyond them (title, locale, phoneNumbers, the
    enterprise extension …) is ignored, as it is not stored."""
    kept: dict[str, Any] = {"schemas": [USER_SCHEMA]}
    for key, value in data.items():
        if key.lower() in _KEPT:
            kept[_KEPT[key.lower()]] = value
    if isinstance(kept.get("emails"), list):
        kept["emails"] = _primary_first(kept["emails"])
    return kept


def _parse_user(data: dict[str, Any]) -> Wanted:
    """A User body, read leniently: `name` (not stored apart) gives the name when no
    `displayName` does; `userName` is required and any string; other attributes are ignored."""
    name_part = next((v for k, v in data.items() if k.lower() == "name"), None)
    data = _kept(data)
    name: str | None = None
    if isinstance(name_part, dict):
        parts = (name_part.get("givenName"), name_part.get("familyName"))
        name = name_part.get("formatted") or " ".join(str(p) for p in parts if p) or None
    wanted = Wanted(validated(User, data), name)
    if not wanted.user_name:
        raise ScimError(400, "userName is required", "invalidValue")
    return wanted


def _apply(request: Request, person: Person, wanted: Wanted, partial: bool = False) -> None:
    """Record what changed, each change an event of the person's with the actor `scim`."""
    identity = _identity(request)
    if wanted.email and wanted.email.strip().lower() != person.email:
        identity.change_email(person.id, wanted.email, ACTOR)  # id and history stay
    if wanted.user_name != getattr(person, "scim_user_name", ""):
        _unique_user_name(request, wanted.user_name, person.id)
        identity.link(person.id, USER_NAME, wanted.user_name)
    if wanted.external_id != getattr(person, "scim_external_id", None):
        if wanted.external_id:
            identity.link(person.id, EXTERNAL_ID, wanted.external_id)
        elif not partial:
            identity.unlink(person.id, EXTERNAL_ID)
    if wanted.name and wanted.name != person.name:
        identity.rename(person.id, wanted.name)
    if not wanted.active and person.active:
        identity.deactivate(person.id, ACTOR)
    elif wanted.active and not person.active:
        identity.reactivate(person.id, ACTOR)


def _people(request: Request) -> list[Person]:
    """Every User: the people of the directory not deleted through SCIM nor forgotten."""
    services = request.app.state.services
    with services.directory.current() as directory:
        ids = list(directory.people)
    people = []
    for person_id in ids:
        try:
            people.append(_load(request, str(person_id)))
        except ScimError:
            continue
    return people


def _by_user_name(request: Request, user_name: str) -> list[Person]:
    """The User with `userName` (at most one), from the directory's indexes: the person the
    `scim:userName` identity was last linked to, else the one with that e-mail; then checked
    against that one person's events (their userName may have moved on since)."""
    wanted = user_name.strip()
    identity = _identity(request)
    candidates = [identity.linked(USER_NAME, wanted)]
    if "@" in wanted:
        try:
            holder = identity.holder_of(wanted)
        except OkrError:
            holder = None
        candidates.append(holder.id if holder else None)
    found: list[Person] = []
    for person_id in dict.fromkeys(c for c in candidates if c is not None):
        try:
            person = _load(request, str(person_id))
        except ScimError:
            continue
        if getattr(person, "scim_user_name", "") == wanted:
            found.append(person)
    return found


def _unique_user_name(request: Request, user_name: str, person_id: UUID | None) -> None:
    if any(p.id != person_id for p in _by_user_name(request, user_name)):
        raise ScimError(409, f"userName {user_name} is already provisioned", "uniqueness")


def _filtered(request: Request, expression: str | None) -> list[Person]:
    if not expression:
        return _people(request)
    return _by_user_name(request, equals_filter(expression, "userName"))


async def list_users(request: Request) -> Response:
    """GET /Users, or POST /Users/.search (RFC 7644 §3.4.3): the query in a SearchRequest."""
    query = await query_of(request, User)
    people = _filtered(request, query.filter)
    return answer_list([_resource(request, person) for person in people], query, User)


async def create_user(request: Request) -> Response:
    wanted = _parse_user(await _body(request))
    if not wanted.email:
        raise ScimError(
            400,
            "emails: a person here needs an e-mail (emails, or an e-mail as userName)",
            "invalidValue",
        )
    identity = _identity(request)
    existing = _run(lambda: identity.holder_of(wanted.email))
    if existing is not None:
        try:
            _load(request, str(existing.id))
        except ScimError:  # deleted through SCIM before: provisioned again
            previous = _load_any(request, existing.id)
            _run(lambda: _apply(request, previous, wanted))
            person = _load(request, str(existing.id))
            return _user(request, person, created=True)
        raise ScimError(409, f"{wanted.email} is already provisioned", "uniqueness")
    _unique_user_name(request, wanted.user_name, None)
    person_id = _run(lambda: identity.register_person(wanted.name, wanted.email)).id
    registered = _load(request, str(person_id))
    _run(lambda: _apply(request, registered, wanted))
    person = _load(request, str(person_id))
    return _user(request, person, created=True)


def _load_any(request: Request, person_id: UUID) -> Person:
    """A person deleted through SCIM, to provision again (as `_load`, without the 404)."""
    identity = _identity(request)
    person = identity.person(person_id)
    person.scim_user_name = person.email  # type: ignore[attr-defined]
    for event in identity.history(person_id):
        if isinstance(event, Person.IdentityLinked) and event.issuer == USER_NAME:
            person.scim_user_name = event.subject  # type: ignore[attr-defined]
    person.scim_external_id = None  # type: ignore[attr-defined]
    return person


def _location(request: Request, person: Person) -> str:
    return f"{_base(request)}/Users/{person.id}"


async def get_user(request: Request) -> Response:
    return _user(request, _load(request, request.path_params["user_id"]))


async def replace_user(request: Request) -> Response:
    person = _load(request, request.path_params["user_id"])
    wanted = _parse_user(await _body(request))
    _run(lambda: _apply(request, person, wanted))
    return _user(request, _load(request, str(person.id)))


_PATCHABLE = {
    "username": "userName",
    "displayname": "displayName",
    "active": "active",
    "externalid": "externalId",
    "emails": "emails",
}


async def patch_user(request: Request) -> Response:
    """PATCH (RFC 7644 §3.5.2): add / replace / remove on the attributes kept here, applied to
    the current User and recorded as the events of the difference."""
    person = _load(request, request.path_params["user_id"])
    steps = await patch_steps(request, User)
    current: dict[str, Any] = _resource(request, person).model_dump(
        scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
    )
    current.pop("meta", None)
    current.pop("id", None)
    for op, _path, key, value in steps:
        attribute = _PATCHABLE.get(key.rsplit(":", 1)[-1].lower())
        if attribute is None:
            raise ScimError(400, f"'{key}' is not an attribute kept here", "invalidPath")
        if op == "remove":
            if attribute not in ("externalId",):
                raise ScimError(
                    400, f"'{attribute}' is required here and cannot be removed", "mutability"
                )
            current.pop(attribute, None)
        else:
            current[attribute] = value
    wanted = _parse_user(current)
    _run(lambda: _apply(request, person, wanted))
    return _user(request, _load(request, str(person.id)))


async def delete_user(request: Request) -> Response:
    person = _load(request, request.path_params["user_id"])
    identity = _identity(request)
    if person.active:
        _run(lambda: identity.deactivate(person.id, DELETED))
    else:  # deactivated earlier: the deletion is recorded as a deactivation of its own
        _run(lambda: identity.reactivate(person.id, ACTOR))
        _run(lambda: identity.deactivate(person.id, DELETED))
    return Response(status_code=204)
