"""Every error answer is an RFC 9457 problem document naming the rule (and the field) it is about.

    {"status": 422, "title": "Unprocessable Content", "rule": "confidence_out_of_range",
     "field": "confidence", "detail": "confidence must be a whole number from 0 to 10",
     "errors": [{"field": "confidence", "rule": "...", "message": "..."}]}

Mapping: request validation → 422, a malformed body included (`json_invalid`: not JSON, or not
UTF-8; `body_required`: empty; `body_not_object`: JSON but not an object), and never 400;
domain `InvalidValue` → 422; `RuleViolated` → 409 (`version_mismatch`, from If-Match, → 412);
`NotFound` and rules named `*_not_found` → 404; a concurrent write (eventsourcing
`IntegrityError`) → 409 `concurrent_write` with the current version; the database unreachable
or its lock timing out → 503 with `Retry-After`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from eventsourcing.persistence import IntegrityError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import InvalidValue, NotFound, OkrError, RuleViolated

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


class ApiError(Exception):
    """An error answer decided at the edge (authentication, authorization, preconditions)."""

    def __init__(
        self,
        status: int,
        rule: str,
        message: str,
        field: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        current_version: int | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.errors = errors
        """Every problem, when there are several (an import's rows)."""
        self.status = status
        self.rule = rule
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.current_version = current_version


def unauthorized(rule: str, message: str) -> ApiError:
    return ApiError(401, rule, message, headers={"WWW-Authenticate": 'Bearer realm="okrledger"'})


def forbidden(rule: str, message: str) -> ApiError:
    return ApiError(403, rule, message)


def not_found(kind: str, identifier: object, field: str | None = None) -> ApiError:
    return ApiError(
        404, f"{kind}_not_found", f"{kind.replace('_', ' ')} {identifier} not found", field
    )


def invalid(rule: str, message: str, field: str) -> ApiError:
    return ApiError(422, rule, message, field)


def problem(
    status: int,
    rule: str,
    detail: str,
    field: str | None = None,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    current_version: int | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "status": status,
        "title": HTTPStatus(status).phrase,
        "rule": rule,
        "detail": detail,
        "field": field,
        "errors": errors
        if errors is not None
        else [{"field": field, "rule": rule, "message": detail}],
    }
    if current_version is not None:
        body["current_version"] = current_version
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def status_of(error: OkrError) -> int:
    """The HTTP status of a domain error."""
    if isinstance(error, NotFound) or error.rule.endswith("_not_found"):
        return 404
    if error.rule == "version_mismatch":
        return 412
    if isinstance(error, InvalidValue):
        return 422
    if isinstance(error, RuleViolated):
        return 409
    return 422


def field_name(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """`("body", "changes", "title")` → `changes.title`; `("query", "as_of")` → `as_of`."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem(
        exc.status,
        exc.rule,
        exc.message,
        exc.field,
        errors=exc.errors,
        headers=exc.headers,
        current_version=exc.current_version,
    )


async def _okr_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OkrError)
    return problem(status_of(exc), exc.rule, exc.message, exc.field)


_BODY_NOT_JSON = "the body is not JSON in UTF-8"
_FASTAPI_PARSE_ERROR = "There was an error parsing the body"
"""FastAPI's 400 when a JSON body cannot even be decoded (not UTF-8): answered as 422."""


def _field_problem(error: Any) -> dict[str, Any]:
    loc = tuple(error.get("loc", ()))
    kind = str(error.get("type", "invalid"))
    if kind == "json_invalid":  # loc is ("body", offset): the offset is not a field
        where = f" (at character {loc[1]})" if len(loc) > 1 else ""
        reason = (error.get("ctx") or {}).get("error", "")
        detail = f"{_BODY_NOT_JSON}{where}" + (f": {reason}" if reason else "")
        return {"field": "body", "rule": "json_invalid", "message": detail}
    if loc == ("body",) and kind == "missing":
        return {"field": "body", "rule": "body_required", "message": "send a JSON object"}
    if loc == ("body",) and kind.endswith("_type"):
        return {
            "field": "body",
            "rule": "body_not_object",
            "message": "the body must be a JSON object",
        }
    return {
        "field": field_name(loc),
        "rule": kind,
        "message": str(error.get("msg", "invalid value")),
    }


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_problem(error) for error in exc.errors()] or [
        {"field": "body", "rule": "invalid", "message": "invalid request"}
    ]
    first = errors[0]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, first["rule"], detail, first["field"], errors=errors)


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    return problem(
        409,
        "concurrent_write",
        "another request changed this aggregate at the same time; read it again and retry",
    )


async def _operational_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    return problem(
        503,
        "database_unavailable",
        "the event store is busy or unreachable; retry shortly",
        headers={"Retry-After": "1"},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _FASTAPI_PARSE_ERROR:
        return problem(422, "json_invalid", _BODY_NOT_JSON, "body")
    if exc.status_code == 400 and str(exc.detail).startswith("Invalid multipart"):
        # An upload (POST /imports) whose multipart body cannot be parsed: bad input.
        return problem(
            422, "multipart_invalid", "the body is not valid multipart/form-data", "body"
        )
    rule = {404: "path_not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return problem(exc.status_code, rule, str(exc.detail), headers=dict(exc.headers or {}) or None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "internal_error", "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    """Register the problem-document handlers on `app`."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(OkrError, _okr_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _operational_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
