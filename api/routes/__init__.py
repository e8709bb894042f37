"""The API's routes, one module per resource; `problems()` documents their error answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.errors import PROBLEM_MEDIA_TYPE
from api.idempotency import IdempotentRoute
from api.schemas import Problem

_MEANING = {
    401: "No bearer token, or an unknown, revoked or deactivated one (`token_missing`, "
    "`token_invalid`).",
    403: "The caller's role or team membership does not allow this.",
    404: "An id that does not exist (or a private objective the caller may not see).",
    409: "A domain rule forbids this now (the rule is named), a concurrent write won "
    "(`concurrent_write`, with `current_version`), or an Idempotency-Key is in use.",
    412: "If-Match named a version that is no longer current (`version_mismatch`).",
    422: "A value breaks a rule: the field and the rule are named. Text with a control "
    "character is `control_character`; a body that is not JSON in UTF-8 is `json_invalid`, an "
    "empty one `body_required`, one that is not an object `body_not_object` (field `body`).",
    503: "The event store is busy or unreachable, or no read models run here; retry.",
    504: "The read models did not reach `min_position` in time (`projection_lagging`).",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI error responses: always 401, 422 and 503, plus `codes`."""
    return {
        code: {
            "model": Problem,
            "description": _MEANING[code],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in sorted({401, 422, 503, *codes})
    }


def router(tag: str) -> APIRouter:
    return APIRouter(tags=[tag], route_class=IdempotentRoute)
