"""SCIM 2.0 provisioning (RFC 7643/7644) at `/scim/v2`, with the models of scim2-models.

Off until `OKR_SCIM_TOKEN` is set (every route answers 404 then); the identity provider sends
that bearer token. Users are people: `userName` is the person's e-mail (or the `userName` the provider
gave), `name.formatted` (or `displayName`) their name, `active` their active state. Every change is the person's own event
with the actor and reason `scim`; nothing is ever deleted: DELETE deactivates the person
(reason `scim: deleted`) and the SCIM resource is gone (404) while the history stays. Groups are
not offered: see docs/identity.md for why roles come from the sign-in's groups claim.
"""

from __future__ import annotations

import hmac
import re
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ComplexAttribute,
    Context,
    ETag,
    Filter,
    ListResponse,
    Meta,
    Patch,
    PatchOp,
    Required,
    Resource,
    ResourceType,
    ResponseParameters,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)

from api.errors import ApiError
from api.policy import Provisioner
from api.usecases.identity import IdentityUseCases
from domain.errors import NotFound, OkrError
from domain.person import Person
from infra.settings import Settings, get_settings

MEDIA = "application/scim+json"
PREFIX = "/scim/v2"
DELETED = "scim: deleted"
ACTOR = "scim"
MAX_RESULTS = 200
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
USER_NAME = "scim:userName"
"""The issuer of the `IdentityLinked` events that keep a person's SCIM `userName`."""
EXTERNAL_ID = "scim:externalId"
"""The issuer of the `IdentityLinked` events that keep a person's SCIM `externalId`."""

scim = APIRouter(include_in_schema=False)


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, media_type=MEDIA, headers=headers)


def _error(error: ScimError) -> JSONResponse:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": str(error.status),
        "detail": error.detail,
    }
    if error.scim_type:
        body["scimType"] = error.scim_type
    return _json(body, error.status)


def _settings(request: Request) -> Settings:
    settings: Settings | None = request.app.state.services.settings
    return settings or get_settings()


def _authorize(request: Request) -> None:
    configured = _settings(request).scim_token
    if configured is None:
        raise ScimError(404, "SCIM provisioning is not configured on this server")
    given = request.headers.get("authorization", "")
    scheme, _, secret = given.partition(" ")
    expected = configured.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(secret.strip(), expected):
        raise ScimError(401, "send the SCIM bearer token: Authorization: Bearer …")


def _identity(request: Request) -> IdentityUseCases:
    """The use cases SCIM provisions through, as the provisioner `scim`."""
    services = request.app.state.services
    return IdentityUseCases(
        services.ledger,
        services.directory,
        Provisioner(ACTOR),
        getattr(request.state, "request_id", None),
    )


def _base(request: Request) -> str:
    public = _settings(request).public_url
    return (public or str(request.base_url)).rstrip("/") + PREFIX


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise ScimError(400, "the body is not JSON", "invalidSyntax") from None
    if not isinstance(data, dict):
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    return data


# ------------------------------------------------------------------ people as users


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


def _parameters(source: dict[str, Any]) -> ResponseParameters[Any]:
    """`attributes` / `excludedAttributes` (RFC 7644 §3.9) of a query or a SearchRequest."""
    picked = {k: v for k, v in source.items() if k in ("attributes", "excludedAttributes")}
    try:
        return ResponseParameters[User].model_validate(picked)
    except ValidationError as error:
        raise ScimError(400, f"{error.errors()[0]['msg']}", "invalidValue") from None


def _dump(item: User | ListResponse[User], parameters: ResponseParameters[Any] | None) -> Any:
    return item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters)


def _user(request: Request, person: Person) -> dict[str, Any]:
    dumped: dict[str, Any] = _dump(
        _resource(request, person), _parameters(dict(request.query_params))
    )
    return dumped


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
    try:
        user = User.model_validate(data, scim_ctx=Context.DEFAULT)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ScimError(400, f"invalid User: {where}: {first['msg']}", "invalidValue") from None
    wanted = Wanted(user, name)
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


def _run(call: Any) -> Any:
    """Domain refusals as SCIM errors: a taken e-mail is 409 `uniqueness`."""
    try:
        return call()
    except ScimError:
        raise
    except ApiError as error:
        raise ScimError(error.status, error.message) from None
    except OkrError as error:
        if error.rule == "email_taken":
            raise ScimError(409, str(error), "uniqueness") from None
        raise ScimError(400, str(error), "invalidValue") from None


# ---------------------------------------------------------------------- routes


def _wrap(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            _authorize(request)
            result: Response = await handler(request)
            return result
        except ScimError as error:
            return _error(error)

    endpoint.__name__ = handler.__name__
    return endpoint


async def service_provider_config(request: Request) -> Response:
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                description="The bearer token configured as OKR_SCIM_TOKEN",
                primary=True,
            )
        ],
        meta=Meta(
            resource_type="ServiceProviderConfig",
            location=f"{_base(request)}/ServiceProviderConfig",
        ),
    )
    return _json(config.model_dump(mode="json", scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


def _resource_type(request: Request) -> dict[str, Any]:
    resource_type = ResourceType.from_resource(User)
    resource_type.meta = Meta(
        resource_type="ResourceType", location=f"{_base(request)}/ResourceTypes/User"
    )
    dumped: dict[str, Any] = resource_type.model_dump(
        mode="json", scim_ctx=Context.RESOURCE_QUERY_RESPONSE
    )
    return dumped


def _schema(request: Request) -> dict[str, Any]:
    schema = User.to_schema()
    schema.meta = Meta(resource_type="Schema", location=f"{_base(request)}/Schemas/{schema.id}")
    dumped: dict[str, Any] = schema.model_dump(
        mode="json", scim_ctx=Context.RESOURCE_QUERY_RESPONSE
    )
    return dumped


def _list(items: list[dict[str, Any]], total: int | None = None, start: int = 1) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": len(items) if total is None else total,
        "startIndex": start,
        "itemsPerPage": len(items),
        "Resources": items,
    }


async def resource_types(request: Request) -> Response:
    return _json(_list([_resource_type(request)]))


async def resource_type(request: Request) -> Response:
    if request.path_params["name"] != "User":
        raise ScimError(404, "only the User resource type is offered")
    return _json(_resource_type(request))


async def schemas(request: Request) -> Response:
    return _json(_list([_schema(request)]))


async def schema(request: Request) -> Response:
    if request.path_params["schema_id"] != User.to_schema().id:
        raise ScimError(404, "no such schema")
    return _json(_schema(request))


def _int(value: str | None, default: int, low: int) -> int:
    try:
        return max(low, int(value)) if value is not None else default
    except ValueError:
        raise ScimError(400, f"'{value}' is not a number", "invalidValue") from None


def _filtered(request: Request, expression: str | None) -> list[Person]:
    if not expression:
        return _people(request)
    field, op, value = [*expression.strip().split(" ", 2), "", ""][:3]
    if field.lower() != "username" or op.lower() != "eq" or len(value) < 2:
        raise ScimError(400, 'only filter=userName eq "…" is supported', "invalidFilter")
    return _by_user_name(request, value.strip().strip('"'))


def _listed(
    request: Request, people: list[Person], start: int, count: int, parameters: Any
) -> Response:
    users = [_resource(request, person) for person in people]
    page = users[start - 1 : start - 1 + count]
    listed = ListResponse[User](
        total_results=len(users), start_index=start, items_per_page=len(page), resources=page
    )
    return _json(_dump(listed, parameters))


async def list_users(request: Request) -> Response:
    query = request.query_params
    start = _int(query.get("startIndex"), 1, 1)
    count = min(_int(query.get("count"), MAX_RESULTS, 0), MAX_RESULTS)
    people = _filtered(request, query.get("filter"))
    return _listed(request, people, start, count, _parameters(dict(query)))


async def search_users(request: Request) -> Response:
    """POST /Users/.search and /.search (RFC 7644 §3.4.3): the query in a SearchRequest body;
    Users are the only resources here, so the root search is the Users search."""
    body = await _body(request)
    try:
        search = SearchRequest[User].model_validate(body)
    except ValidationError as error:
        raise ScimError(
            400, f"invalid SearchRequest: {error.errors()[0]['msg']}", "invalidValue"
        ) from None
    start = max(1, search.start_index or 1)
    count = min(max(0, search.count if search.count is not None else MAX_RESULTS), MAX_RESULTS)
    people = _filtered(request, str(search.filter) if search.filter else None)
    return _listed(request, people, start, count, _parameters(body))


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
            return _json(_user(request, person), 201, {"Location": _location(request, person)})
        raise ScimError(409, f"{wanted.email} is already provisioned", "uniqueness")
    _unique_user_name(request, wanted.user_name, None)
    person_id = _run(lambda: identity.register_person(wanted.name, wanted.email)).id
    registered = _load(request, str(person_id))
    _run(lambda: _apply(request, registered, wanted))
    person = _load(request, str(person_id))
    return _json(_user(request, person), 201, {"Location": _location(request, person)})


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
    return _json(_user(request, _load(request, request.path_params["user_id"])))


async def replace_user(request: Request) -> Response:
    person = _load(request, request.path_params["user_id"])
    wanted = _parse_user(await _body(request))
    _run(lambda: _apply(request, person, wanted))
    return _json(_user(request, _load(request, str(person.id))))


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
    body = await _body(request)
    try:
        patch = PatchOp[User].model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
    except ValidationError as error:
        raise ScimError(
            400, f"invalid PatchOp: {error.errors()[0]['msg']}", "invalidSyntax"
        ) from None
    current: dict[str, Any] = _resource(request, person).model_dump(
        scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
    )
    current.pop("meta", None)
    current.pop("id", None)
    for operation in patch.operations or []:
        op = str(getattr(operation.op, "value", operation.op)).lower()
        path = str(operation.path or "")
        values: dict[str, Any] = {path: operation.value} if path else dict(operation.value or {})
        for key, value in values.items():
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
    return _json(_user(request, _load(request, str(person.id))))


async def delete_user(request: Request) -> Response:
    person = _load(request, request.path_params["user_id"])
    identity = _identity(request)
    if person.active:
        _run(lambda: identity.deactivate(person.id, DELETED))
    else:  # deactivated earlier: the deletion is recorded as a deactivation of its own
        _run(lambda: identity.reactivate(person.id, ACTOR))
        _run(lambda: identity.deactivate(person.id, DELETED))
    return Response(status_code=204)


_KNOWN = re.compile(r"^/(ServiceProviderConfig|(ResourceTypes|Schemas|Users)(/[^/]+)?)$")


async def unknown(request: Request) -> Response:
    if _KNOWN.match(request.url.path.removeprefix(PREFIX)):
        raise ScimError(405, f"{request.method} is not allowed on {request.url.path}")
    raise ScimError(404, f"no such endpoint: {request.url.path}")


for path, handler, methods in (
    ("/ServiceProviderConfig", service_provider_config, ["GET"]),
    ("/ResourceTypes", resource_types, ["GET"]),
    ("/ResourceTypes/{name}", resource_type, ["GET"]),
    ("/Schemas", schemas, ["GET"]),
    ("/Schemas/{schema_id}", schema, ["GET"]),
    ("/Users", list_users, ["GET"]),
    ("/Users", create_user, ["POST"]),
    ("/Users/.search", search_users, ["POST"]),
    ("/.search", search_users, ["POST"]),
    ("/Users/{user_id}", get_user, ["GET"]),
    ("/Users/{user_id}", replace_user, ["PUT"]),
    ("/Users/{user_id}", patch_user, ["PATCH"]),
    ("/Users/{user_id}", delete_user, ["DELETE"]),
    ("/{rest:path}", unknown, ["GET", "POST", "PUT", "PATCH", "DELETE"]),
):
    scim.add_route(PREFIX + path, _wrap(handler), methods=methods, include_in_schema=False)
