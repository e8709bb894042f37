"""SCIM 2.0 provisioning (RFC 7643/7644) at `/scim/v2`, with the models of scim2-models.

Off until `OKR_SCIM_TOKEN` is set (every route answers 404 then); the identity provider sends
that bearer token. Users are people: `userName` is the person's e-mail (or the `userName` the provider
gave), `name.formatted` (or `displayName`) their name, `active` their active state. Every change is the person's own event
with the actor and reason `scim`; nothing is ever deleted: DELETE deactivates the person
(reason `scim: deleted`) and the SCIM resource is gone (404) while the history stays. Groups
are teams (`api/scim/groups.py`; docs/identity.md says why teams and not roles).
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
    Resource,
    ResourceType,
    ServiceProviderConfig,
    Sort,
)

from api.scim.groups import (
    Group,
    create_group,
    delete_group,
    get_group,
    list_groups,
    patch_group,
    replace_group,
)
from api.scim.groups import _by_name as groups_named
from api.scim.groups import _resource as group_resource
from api.scim.protocol import (
    MAX_RESULTS,
    PREFIX,
    ScimError,
    _base,
    _json,
    _wrap,
    answer_list,
    scim,
    searching,
)
from api.scim.users import (
    User,
    create_user,
    delete_user,
    get_user,
    list_users,
    patch_user,
    replace_user,
)
from api.scim.users import _filtered as users_matching
from api.scim.users import _resource as user_resource

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


RESOURCES: dict[str, type[Resource[Any]]] = {"User": User, "Group": Group}
"""The resource types offered, by name."""


def _resource_type(request: Request, name: str) -> dict[str, Any]:
    resource_type = ResourceType.from_resource(RESOURCES[name])
    resource_type.meta = Meta(
        resource_type="ResourceType", location=f"{_base(request)}/ResourceTypes/{name}"
    )
    dumped: dict[str, Any] = resource_type.model_dump(
        mode="json", scim_ctx=Context.RESOURCE_QUERY_RESPONSE
    )
    return dumped


def _schema(request: Request, resource: type[Resource[Any]]) -> dict[str, Any]:
    schema = resource.to_schema()
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
    return _json(_list([_resource_type(request, name) for name in RESOURCES]))


async def resource_type(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in RESOURCES:
        raise ScimError(404, "only the User and Group resource types are offered")
    return _json(_resource_type(request, name))


async def schemas(request: Request) -> Response:
    return _json(_list([_schema(request, resource) for resource in RESOURCES.values()]))


async def schema(request: Request) -> Response:
    for resource in RESOURCES.values():
        if request.path_params["schema_id"] == resource.to_schema().id:
            return _json(_schema(request, resource))
    raise ScimError(404, "no such schema")


async def search_all(request: Request) -> Response:
    """POST /.search (RFC 7644 §3.4.3): Users and Groups; a `userName` filter finds Users, a
    `displayName` one Groups."""
    query = await searching(request, User | Group)
    field = (query.filter or "").strip().split(" ", 1)[0].lower()
    if field not in ("", "username", "displayname"):
        raise ScimError(400, 'filter on userName or displayName with "eq"', "invalidFilter")
    found: list[Resource[Any]] = []
    if field in ("", "username"):
        found += [user_resource(request, p) for p in users_matching(request, query.filter)]
    if field in ("", "displayname"):
        found += [group_resource(request, t) for t in groups_named(request, query.filter)]
    return answer_list(found, query, User | Group)


_KNOWN = re.compile(r"^/(ServiceProviderConfig|(ResourceTypes|Schemas|Users|Groups)(/[^/]+)?)$")


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
    ("/Users/.search", list_users, ["POST"]),
    ("/.search", search_all, ["POST"]),
    ("/Users/{user_id}", get_user, ["GET"]),
    ("/Users/{user_id}", replace_user, ["PUT"]),
    ("/Users/{user_id}", patch_user, ["PATCH"]),
    ("/Users/{user_id}", delete_user, ["DELETE"]),
    ("/Groups", list_groups, ["GET"]),
    ("/Groups", create_group, ["POST"]),
    ("/Groups/.search", list_groups, ["POST"]),
    ("/Groups/{group_id}", get_group, ["GET"]),
    ("/Groups/{group_id}", replace_group, ["PUT"]),
    ("/Groups/{group_id}", patch_group, ["PATCH"]),
    ("/Groups/{group_id}", delete_group, ["DELETE"]),
    ("/{rest:path}", unknown, ["GET", "POST", "PUT", "PATCH", "DELETE"]),
):
    scim.add_route(PREFIX + path, _wrap(handler), methods=methods, include_in_schema=False)
