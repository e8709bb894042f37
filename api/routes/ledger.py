"""`GET /api/v1/export`: the whole store as a ledger package, one tar download (admins)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from typing import Annotated

from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.routes import _for_caller, problems, router
from api.usecases.ledger import PACKAGE_NAME, LedgerUseCases

ledger_routes = router("ledger")

LedgerDep = Annotated[LedgerUseCases, _for_caller(LedgerUseCases)]
"""The full-ledger export (admins only: a 403 otherwise)."""


@ledger_routes.get(
    "/export",
    response_class=FileResponse,
    responses={
        **problems(403),
        200: {
            "description": "A tar holding the package folder (docs/ledger-format.md).",
            "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
    summary="Export the whole store as a ledger package (admins)",
)
def export(ledger: LedgerDep) -> FileResponse:
    """Every event exactly as stored with its chain link, the sealed person keys, the signed
    checkpoints and a manifest with the SHA-256 of every file: what `okr export` writes, as one
    tar (`okrledger-ledger/…`). Load it into an empty store with `okr import-ledger`."""
    archive = ledger.export_archive()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return FileResponse(
        archive,
        media_type="application/x-tar",
        filename=f"{PACKAGE_NAME}-{stamp}.tar",
        background=BackgroundTask(shutil.rmtree, archive.parent, ignore_errors=True),
    )
