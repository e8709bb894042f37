"""SCIM 2.0 provisioning (RFC 7643/7644) at `/scim/v2`, with the models of scim2-models.

Off until `OKR_SCIM_TOKEN` is set (every route answers 404 then); the identity provider sends
that bearer token. Users are people: `userName` is the person's e-mail (or the `userName` the provider
gave), `name.formatted` (or `displayName`) their name, `active` their active state. Every change is the person's own event
with the actor and reason `scim`; nothing is ever deleted: DELETE deactivates the person
(reason `scim: deleted`) and the SCIM resource is gone (404) while the history stays. Groups are
not offered: see docs/identity.md for why roles come from the sign-in's groups claim.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    ETag,
    Filter,
    Meta,
    Patch,
    ResourceType,
    ServiceProviderConfig,
    Sort,
)

from api.scim.protocol import MAX_RESULTS, PREFIX, ScimError, _base, _json, _wrap, scim
from api.scim.users import (
    User,
    create_user,
    delete_user,
    get_user,
    list_users,
    patch_user,
    replace_user,
    search_users,
)

__all__ = ["scim"]


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
