"""The audit trail for auditors and admins: a filterable, paged table, CSV and JSON Lines
exports, and the hash chain's verification. Rows, exports and verification are the API's
own (`api/usecases/audit.py`), and so is the rule who may see them (`policy.may_read_audit`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from uuid import UUID

from fastapi import Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from api import policy
from api.errors import ApiError
from api.usecases.audit import AuditUseCases, ChainCheck, TrailFilters
from api.web import data
from api.web.site import (
    Forbidden,
    FormError,
    PageNotFound,
    Viewer,
    ViewerDep,
    nav,
    render,
    web,
)
from projections.catalogue import CATALOGUE

PAGE = 50


def _event_types() -> list[str]:
    """Every event type the catalogue holds (`Objective.Approved`, …), for the type filter."""
    return sorted(CATALOGUE.type_names())


def _require_auditor(viewer: Viewer) -> None:
    if not policy.may_read_audit(viewer.principal):
        raise Forbidden("The audit trail is for auditors and admins.")


@dataclass(frozen=True)
class Filters:
    """The trail's filters as typed in the page's fields (the table and the exports read them
    alike)."""

    actor: str | None
    entity: str | None
    type_: str | None
    from_: str | None
    to: str | None

    def fields(self) -> dict[str, str]:
        """Each filter by its field's name, as typed ('' when empty)."""
        return {
            "actor": self.actor or "",
            "entity": self.entity or "",
            "type": self.type_ or "",
            "from": self.from_ or "",
            "to": self.to or "",
        }

    def arguments(self) -> TrailFilters:
        """The use case's filters (a problem with a field raised as a `FormError`)."""
        entity_id = None
        if self.entity:
            try:
                entity_id = UUID(self.entity.strip())
            except ValueError:
                raise FormError(
                    "Entity: paste an id (a UUID) of an objective, key result, person, team or "
                    "cycle."
                ) from None
        return TrailFilters(
            actor=self.actor or None,
            entity_id=entity_id,
            type_=self.type_ or None,
            from_=data.parse_local(self.from_),
            to=data.parse_local(self.to),
        )


async def _filters(
    actor: str | None = None,
    entity: str | None = None,
    type_: Annotated[str | None, Query(alias="type")] = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
) -> Filters:
    return Filters(actor, entity, type_, from_, to)


FiltersDep = Annotated[Filters, Depends(_filters)]


def _rows(
    viewer: Viewer,
    filters: TrailFilters,
    fmt: Literal["json", "csv", "jsonl"],
    limit: int,
    offset: int,
) -> Any:
    assert viewer.services.readmodels is not None
    return AuditUseCases(viewer.caller).trail(filters, fmt, limit, offset)


@web.get("/audit")
def audit_page(
    request: Request,
    viewer: ViewerDep,
    typed: FiltersDep,
    page: int = 1,
    verify: str | None = None,
    position: str | None = None,
    chain_hash: Annotated[str | None, Query(alias="hash")] = None,
) -> HTMLResponse:
    _require_auditor(viewer)
    page = max(1, page)
    query = {name: value for name, value in typed.fields().items() if value}
    problem = None
    rows: list[dict[str, Any]] = []
    more = False
    try:
        filters = typed.arguments()
        if viewer.services.readmodels is not None:
            answer = _rows(viewer, filters, "json", PAGE, (page - 1) * PAGE)
            rows, more = answer.items, answer.next_offset is not None
    except FormError as error:
        problem = str(error)
    except ApiError as error:  # the API's 422s (e.g. `from` after `to`)
        problem = error.message
    verification = _verify(viewer) if verify else None

    checked, check_problem = _check_answer(viewer, position, chain_hash)

    def page_url(number: int) -> str:
        return "/audit?" + urlencode({**query, "page": number})

    return render(
        request,
        "audit.html",
        viewer,
        rows=rows,
        page=page,
        prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if more else None,
        filters=typed.fields(),
        query=urlencode(query),
        people=data.people(viewer),
        event_types=_event_types(),
        verification=verification,
        checked=checked,
        check_problem=check_problem,
        check={"position": position or "", "hash": chain_hash or ""},
        problem=problem,
    )


def _verify(viewer: Viewer, position: int | None = None, hash_: str | None = None) -> Any:
    """The API's chain verification, whole or up to a saved answer's position."""
    return AuditUseCases(viewer.caller).verify(ChainCheck(position=position, hash_=hash_))


def _check_answer(
    viewer: Viewer, position: str | None, chain_hash: str | None
) -> tuple[Any, str | None]:
    """A saved answer's position and chain hash checked against the store (docs/audit.md)."""
    if not position and not chain_hash:
        return None, None
    at = int(position) if position and position.isdigit() else None
    if at is None:
        return None, "The position is a whole number (a page's or an answer's OKR-Position)."
    try:
        found = _verify(viewer, position=at, hash_=chain_hash or None)
    except ApiError as error:
        return None, error.message
    return found, None


@web.get("/audit/export.{fmt}")
def audit_export(
    viewer: ViewerDep,
    fmt: str,
    typed: FiltersDep,
) -> Response:
    """The filtered trail as the API exports it (CSV or JSON Lines), as a download."""
    _require_auditor(viewer)
    if fmt not in ("csv", "jsonl"):
        raise PageNotFound("export format")
    kind: Literal["csv", "jsonl"] = "csv" if fmt == "csv" else "jsonl"
    try:
        filters = typed.arguments()
    except FormError as error:
        raise Forbidden(str(error)) from None
    answer: Response = _rows(viewer, filters, kind, 10_000, 0)
    answer.headers["Content-Disposition"] = f'attachment; filename="okrledger-audit.{fmt}"'
    return answer


nav("Audit", "/audit", order=80, allowed=policy.may_read_audit)
