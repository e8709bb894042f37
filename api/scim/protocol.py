"""What every SCIM endpoint shares: the bearer check, SCIM errors and JSON, the request's
identity use cases (the provisioner `scim`), and the constants of the protocol."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from scim2_models import (
    Context,
    ListResponse,
    PatchOp,
    Resource,
    ResponseParameters,
    SearchRequest,
)

from api.errors import ApiError
from api.policy import Provisioner
from api.usecases.identity import IdentityUseCases
from domain.errors import OkrError
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

R = TypeVar("R", bound=Resource[Any])


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


def _int(value: str | None, default: int, low: int) -> int:
    try:
        return max(low, int(value)) if value is not None else default
    except ValueError:
        raise ScimError(400, f"'{value}' is not a number", "invalidValue") from None


@dataclass(frozen=True)
class Query:
    """What a list or a search asks for: a filter, a page, and the attributes to answer."""

    filter: str | None
    start: int
    count: int
    source: dict[str, Any]
    """The query parameters or the SearchRequest body (for `attributes`/`excludedAttributes`)."""


def listing(request: Request) -> Query:
    """The query of `GET /Users` or `GET /Groups`."""
    query = request.query_params
    start = _int(query.get("startIndex"), 1, 1)
    count = min(_int(query.get("count"), MAX_RESULTS, 0), MAX_RESULTS)
    return Query(query.get("filter"), start, count, dict(query))


async def searching(request: Request, model: Any) -> Query:
    """The query of a `POST …/.search` (RFC 7644 §3.4.3): a SearchRequest body."""
    body = await _body(request)
    try:
        search = SearchRequest[model].model_validate(body)
    except ValidationError as error:
        raise ScimError(
            400, f"invalid SearchRequest: {error.errors()[0]['msg']}", "invalidValue"
        ) from None
    start = max(1, search.start_index or 1)
    count = min(max(0, search.count if search.count is not None else MAX_RESULTS), MAX_RESULTS)
    return Query(str(search.filter) if search.filter else None, start, count, body)


async def query_of(request: Request, model: Any) -> Query:
    """The query of `GET /Users` (its parameters) or of `POST /Users/.search` (its body)."""
    if request.method == "POST":
        return await searching(request, model)
    return listing(request)


def parameters(source: dict[str, Any], model: Any) -> ResponseParameters[Any]:
    """`attributes` / `excludedAttributes` (RFC 7644 §3.9) of a query or a SearchRequest."""
    picked = {k: v for k, v in source.items() if k in ("attributes", "excludedAttributes")}
    try:
        return ResponseParameters[model].model_validate(picked)
    except ValidationError as error:
        raise ScimError(400, f"{error.errors()[0]['msg']}", "invalidValue") from None


def dump(item: Resource[Any] | ListResponse[Any], asked: ResponseParameters[Any] | None) -> Any:
    return item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=asked)


def answer_list(found: list[Any], query: Query, model: Any) -> Response:
    """One page of `found` as a ListResponse, with the attributes the query asks for."""
    page = found[query.start - 1 : query.start - 1 + query.count]
    listed = ListResponse[model](
        total_results=len(found), start_index=query.start, items_per_page=len(page), resources=page
    )
    return _json(dump(listed, parameters(query.source, model)))


def answer(request: Request, resource: Resource[Any], created: bool = False) -> JSONResponse:
    """One resource, with the attributes the query asks for; a created one as 201 with its
    `Location`."""
    body = dump(resource, parameters(dict(request.query_params), type(resource)))
    location = resource.meta.location if created and resource.meta else None
    return _json(body, 201 if created else 200, {"Location": location} if location else None)


def validated(model: type[R], data: dict[str, Any]) -> R:
    """A resource's body read as `model`; 400 `invalidValue` naming the attribute and the rule."""
    try:
        return model.model_validate(data, scim_ctx=Context.DEFAULT)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = f"invalid {model.__name__}: {where}: {first['msg']}"
        raise ScimError(400, message, "invalidValue") from None


def equals_filter(expression: str, attribute: str) -> str:
    """The value of the one filter a resource supports here, `attribute eq "…"`."""
    field, op, value = [*expression.strip().split(" ", 2), "", ""][:3]
    if field.lower() != attribute.lower() or op.lower() != "eq" or len(value) < 2:
        raise ScimError(400, f'only filter={attribute} eq "…" is supported', "invalidFilter")
    return value.strip().strip('"')


class PatchStep(NamedTuple):
    """One attribute a PATCH operation touches: `key` is its path, or an attribute its value
    names when the operation has no path."""

    op: str
    path: str
    key: str
    value: Any


async def patch_steps(request: Request, model: Any) -> list[PatchStep]:
    """The body of a PATCH (RFC 7644 §3.5.2) as steps, one for each attribute it touches."""
    body = await _body(request)
    try:
        patch = PatchOp[model].model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
    except ValidationError as error:
        raise ScimError(
            400, f"invalid PatchOp: {error.errors()[0]['msg']}", "invalidSyntax"
        ) from None
    steps: list[PatchStep] = []
    for operation in patch.operations or []:
        op = str(getattr(operation.op, "value", operation.op)).lower()
        path = str(operation.path or "")
        values: dict[str, Any] = {path: operation.value} if path else dict(operation.value or {})
        steps.extend(PatchStep(op, path, key, value) for key, value in values.items())
    return steps
