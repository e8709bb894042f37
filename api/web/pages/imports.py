"""The import page (docs/import.md): upload a spreadsheet, see the preview (a dry run: what
would be created, changed, skipped and dropped, with row numbers), then import it.

The uploaded bytes wait in this process between the preview and the import (at most
`PENDING_LIMIT` files, for `PENDING_SECONDS`), under a random key only the previewing person's
form carries; "Import now" imports exactly the previewed file (its SHA-256 is checked)."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import replace
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api import policy
from api.imports.records import FORMATS
from api.usecases.imports import ImportRefused, ImportRequest, ImportUseCases
from api.web.site import CsrfFailed, Forbidden, FormDep, Viewer, ViewerDep, nav, render, web
from infra.settings import get_settings

PENDING_SECONDS = 15 * 60
PENDING_LIMIT = 20
_pending: dict[str, tuple[UUID, float, ImportRequest, str]] = {}
_lock = threading.Lock()

nav("Import", "/import", order=95, allowed=policy.may_administer)


def _require_admin(viewer: Viewer) -> None:
    if not policy.may_administer(viewer.principal):
        raise Forbidden("Importing is for admins.")


def _keep(person_id: UUID, request: ImportRequest, sha256: str) -> str:
    key = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for old in [k for k, v in _pending.items() if v[1] < now]:
            del _pending[old]
        while len(_pending) >= PENDING_LIMIT:
            del _pending[next(iter(_pending))]
        _pending[key] = (person_id, now + PENDING_SECONDS, request, sha256)
    return key


def _take(person_id: UUID, key: str) -> tuple[ImportRequest, str] | None:
    with _lock:
        kept = _pending.get(key)
        if kept is None or kept[0] != person_id or kept[1] < time.monotonic():
            return None
        del _pending[key]
    return kept[2], kept[3]


def _page(
    request: Request, viewer: Viewer, status_code: int = 200, **context: object
) -> HTMLResponse:
    page: dict[str, object] = {"problems": None, "report": None, "pending": None, **context}
    return render(request, "import.html", viewer, formats=FORMATS, status_code=status_code, **page)


@web.get("/import")
def import_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    _require_admin(viewer)
    return _page(request, viewer)


@web.post("/import")
async def preview_import(request: Request, viewer: ViewerDep) -> HTMLResponse:
    """The upload: a dry run, shown as the preview with an "Import now" button."""
    _require_admin(viewer)
    limit = (viewer.services.settings or get_settings()).import_max_bytes
    length = int(request.headers.get("content-length") or 0)
    if length > limit + 64 * 1024:
        return _page(
            request,
            viewer,
            413,
            problems=[{"rule": "file_too_large", "message": f"the file is over {limit} bytes"}],
        )
    async with request.form(max_files=2, max_fields=10) as form:
        if not viewer.session.csrf_ok(str(form.get("csrf_token") or "")):
            raise CsrfFailed
        upload = form.get("file")
        mapping = form.get("mapping")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _page(
                request,
                viewer,
                422,
                problems=[{"rule": "file_required", "message": "choose a CSV or XLSX file"}],
            )
        content = await upload.read(limit + 1)
        mapping_content = (
            await mapping.read(limit + 1)
            if isinstance(mapping, UploadFile) and mapping.filename
            else None
        )
        import_request = ImportRequest(
            upload.filename,
            content,
            str(form.get("format") or "okrledger"),
            mapping_content,
            dry_run=True,
            fallback_owner=str(form.get("fallback_owner") or "").strip() or None,
        )
    # Reading, planning and rendering block: off the event loop.
    return await run_in_threadpool(_run, request, viewer, import_request, limit)


@web.post("/import/confirm")
def confirm_import(request: Request, viewer: ViewerDep, form: FormDep) -> HTMLResponse:
    """Import exactly the previewed file."""
    _require_admin(viewer)
    kept = _take(viewer.principal.person_id, form.get("pending"))
    if kept is None:
        return _page(
            request,
            viewer,
            409,
            problems=[
                {
                    "rule": "preview_expired",
                    "message": "the preview expired or was already imported; upload the file again",
                }
            ],
        )
    import_request, _sha256 = kept
    limit = (viewer.services.settings or get_settings()).import_max_bytes
    return _run(request, viewer, replace(import_request, dry_run=False), limit)


def _run(
    request: Request, viewer: Viewer, import_request: ImportRequest, limit: int
) -> HTMLResponse:
    try:
        report = ImportUseCases(viewer.caller).run(import_request, max_bytes=limit)
    except ImportRefused as refused:
        return _page(
            request,
            viewer,
            refused.status,
            problems=[p.as_dict() for p in refused.problems],
            report=refused.report.as_dict() if refused.report else None,
        )
    pending = None
    if import_request.dry_run and report.plan.batches:
        pending = _keep(viewer.principal.person_id, import_request, report.sha256)
    return _page(request, viewer, report=report.as_dict(), pending=pending)
