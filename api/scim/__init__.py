"""SCIM 2.0 provisioning (RFC 7643/7644) at `/scim/v2`, with the models of scim2-models.

Off until `OKR_SCIM_TOKEN` is set (every route answers 404 then); the identity provider sends
that bearer token. Users are people: `userName` is the person's e-mail, `name.formatted` (or
`displayName`) their name, `active` their active state. Every change is the person's own event
with the actor and reason `scim`; nothing is ever deleted: DELETE deactivates the person
(reason `scim: deleted`) and the SCIM resource is gone (404) while the history stays. Groups are
not offered: see docs/identity.md for why roles come from the sign-in's groups claim.
"""

from __future__ import annotations

import hmac
import re
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    Email,
    ETag,
    Filter,
    Meta,
    Name,
    Patch,
    PatchOp,
    ResourceType,
    ServiceProviderConfig,
    Sort,
    User,
)

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.errors import NotFound, OkrError
from domain.person import Person
from infra.settings import Settings, get_settings

MEDIA = "application/scim+json"
PREFIX = "/scim/v2"
DELETED = "scim: deleted"
ACTOR = "scim"
MAX_RESULTS = 200

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


def _ledger(request: Request) -> OkrLedger:
    ledger: OkrLedger = request.app.state.services.ledger
    return ledger


def _ctx(request: Request) -> CommandContext:
    return CommandContext(actor=ACTOR, request_id=getattr(request.state, "request_id", ""))


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


def _deleted(person: Person) -> bool:
    return person.forgotten or (not person.active and _last_reason(person) == DELETED)


def _last_reason(person: Person) -> str:
    return str(getattr(person, "scim_state_reason", ""))


def _load(request: Request, user_id: str) -> Person:
    try:
        person_id = UUID(user_id)
    except ValueError:
        raise ScimError(404, f"no user {user_id}") from None
    ledger = _ledger(request)
    try:
        person = ledger.get_person(person_id)
    except NotFound:
        raise ScimError(404, f"no user {user_id}") from None
    events = ledger.repository.event_store.get(person_id)
    reason = ""
    for event in events:
        if isinstance(event, Person.Deactivated | Person.Reactivated):
            reason = event.reason
    person.scim_state_reason = reason  # type: ignore[attr-defined]
    if _deleted(person):
        raise ScimError(404, f"no user {user_id}")
    return person


def _user(request: Request, person: Person) -> dict[str, Any]:
    location = f"{_base(request)}/Users/{person.id}"
    user: User[Any] = User(
        id=str(person.id),
        user_name=person.email,
        display_name=person.name,
        name=Name(formatted=person.name),
        emails=[Email(value=person.email, primary=True)],
        active=person.active,
        meta=Meta(
            resource_type="User",
            created=person.created_on,
            last_modified=person.modified_on,
            location=location,
            version=f'W/"{person.version}"',
        ),
    )
    dumped: dict[str, Any] = user.model_dump(mode="json", scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return dumped


def _parse_user(data: dict[str, Any], context: Context) -> tuple[str, str, bool]:
    """(e-mail, name, active) from a User body; the e-mail is userName or the primary e-mail."""
    try:
        user: User[Any] = User.model_validate(data, scim_ctx=context)
    except ValidationError as error:
        raise ScimError(400, f"invalid User: {error.errors()[0]['msg']}", "invalidValue") from None
    candidates: list[str] = [user.user_name or ""]
    for entry in user.emails or []:
        if entry.value:
            candidates.insert(0 if entry.primary else len(candidates), str(entry.value))
    email = next((c for c in candidates if "@" in c), "")
    if not email:
        raise ScimError(400, "userName (or a primary e-mail) must be an e-mail", "invalidValue")
    name = (user.name.formatted if user.name else None) or user.display_name
    if not name and user.name and (user.name.given_name or user.name.family_name):
        name = " ".join(p for p in (user.name.given_name, user.name.family_name) if p)
    return email, name or email.split("@")[0], user.active is not False


def _apply(request: Request, person: Person, name: str | None, active: bool | None) -> None:
    ledger, ctx = _ledger(request), _ctx(request)
    if name is not None and name != person.name:
        ledger.rename_person(person.id, name, ctx)
    if active is False and person.active:
        ledger.deactivate_person(person.id, ACTOR, ctx)
    elif active is True and not person.active:
        ledger.reactivate_person(person.id, ACTOR, ctx)


def _run(call: Any) -> Any:
    """Domain refusals as SCIM errors."""
    try:
        return call()
    except ScimError:
        raise
    except OkrError as error:
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


async def list_users(request: Request) -> Response:
    start = _int(request.query_params.get("startIndex"), 1, 1)
    count = min(_int(request.query_params.get("count"), MAX_RESULTS, 0), MAX_RESULTS)
    expression = request.query_params.get("filter")
    ledger = _ledger(request)
    if expression:
        field, op, value = [*expression.strip().split(" ", 2), "", ""][:3]
        if field.lower() != "username" or op.lower() != "eq" or len(value) < 2:
            raise ScimError(400, 'only filter=userName eq "…" is supported', "invalidFilter")
        address = value.strip().strip('"')
        try:
            found = ledger.find_person_by_email(address)
        except OkrError:
            found = None
        people = [found] if found is not None else []
    else:
        services = request.app.state.services
        with services.directory.current() as directory:
            ids = list(directory.people)
        people = [ledger.get_person(person_id) for person_id in ids]
    users = []
    for person in people:
        try:
            users.append(_user(request, _load(request, str(person.id))))
        except ScimError:
            continue  # deleted through SCIM, or forgotten
    page = users[start - 1 : start - 1 + count]
    return _json(_list(page, total=len(users), start=start))


async def create_user(request: Request) -> Response:
    email, name, active = _parse_user(await _body(request), Context.RESOURCE_CREATION_REQUEST)
    ledger, ctx = _ledger(request), _ctx(request)
    existing = _run(lambda: ledger.find_person_by_email(email))
    if existing is not None:
        try:
            _load(request, str(existing.id))
        except ScimError:  # deleted through SCIM before: provisioned again
            _apply(request, existing, name, True)
            person = _load(request, str(existing.id))
            return _json(_user(request, person), 201, {"Location": _location(request, person)})
        raise ScimError(409, f"{email} is already provisioned", "uniqueness")
    person_id = _run(lambda: ledger.register_person(name, email, ctx)).id
    if not active:
        ledger.deactivate_person(person_id, ACTOR, ctx)
    person = _load(request, str(person_id))
    return _json(_user(request, person), 201, {"Location": _location(request, person)})


def _location(request: Request, person: Person) -> str:
    return f"{_base(request)}/Users/{person.id}"


async def get_user(request: Request) -> Response:
    return _json(_user(request, _load(request, request.path_params["user_id"])))


async def replace_user(request: Request) -> Response:
    person = _load(request, request.path_params["user_id"])
    email, name, active = _parse_user(await _body(request), Context.RESOURCE_REPLACEMENT_REQUEST)
    if email.strip().lower() != person.email:
        raise ScimError(400, "userName (the e-mail) cannot be changed", "mutability")
    _run(lambda: _apply(request, person, name, active))
    return _json(_user(request, _load(request, str(person.id))))


async def patch_user(request: Request) -> Response:
    person = _load(request, request.path_params["user_id"])
    body = await _body(request)
    try:
        patch = PatchOp[User[Any]].model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
    except ValidationError as error:
        raise ScimError(
            400, f"invalid PatchOp: {error.errors()[0]['msg']}", "invalidSyntax"
        ) from None
    name: str | None = None
    active: bool | None = None
    for operation in patch.operations or []:
        op = str(operation.op.value if hasattr(operation.op, "value") else operation.op).lower()
        if op not in ("replace", "add"):
            raise ScimError(400, f"'{op}' is not supported here", "invalidPath")
        path = str(operation.path or "")
        values: dict[str, Any] = {path: operation.value} if path else dict(operation.value or {})
        for key, value in values.items():
            attribute = key.lower().rsplit(":", 1)[-1]
            if attribute == "active":
                active = value if isinstance(value, bool) else str(value).lower() == "true"
            elif attribute in ("displayname", "name.formatted"):
                name = str(value)
            elif attribute == "name" and isinstance(value, dict) and value.get("formatted"):
                name = str(value["formatted"])
            elif attribute == "username" and str(value).strip().lower() == person.email:
                continue
            else:
                raise ScimError(400, f"'{key}' cannot be changed here", "mutability")
    _run(lambda: _apply(request, person, name, active))
    return _json(_user(request, _load(request, str(person.id))))


async def delete_user(request: Request) -> Response:
    person = _load(request, request.path_params["user_id"])
    ledger, ctx = _ledger(request), _ctx(request)
    if person.active:
        ledger.deactivate_person(person.id, DELETED, ctx)
    else:  # deactivated earlier: the deletion is recorded as a deactivation of its own
        ledger.reactivate_person(person.id, ACTOR, ctx)
        ledger.deactivate_person(person.id, DELETED, ctx)
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
    ("/Users/{user_id}", get_user, ["GET"]),
    ("/Users/{user_id}", replace_user, ["PUT"]),
    ("/Users/{user_id}", patch_user, ["PATCH"]),
    ("/Users/{user_id}", delete_user, ["DELETE"]),
    ("/{rest:path}", unknown, ["GET", "POST", "PUT", "PATCH", "DELETE"]),
):
    scim.add_route(PREFIX + path, _wrap(handler), methods=methods, include_in_schema=False)
