"""Import OKRs and their history from a spreadsheet (docs/import.md): a multipart upload."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.imports.reading import Problem
from api.routes import CallerDep, problems
from api.usecases.imports import ImportRefused, ImportRequest, ImportUseCases, import_problem
from infra.settings import get_settings

imports = APIRouter(tags=["imports"])
"""Not an Idempotency-Key route: the answer is a report, not a command result, and an import is
idempotent by itself (the same file again writes nothing)."""

CHUNK = 1024 * 1024


async def read_limited(upload: UploadFile, limit: int) -> bytes | None:
    """The upload's bytes, read a chunk at a time; None once it passes `limit` (the rest is
    never read into memory)."""
    content = bytearray()
    while chunk := await upload.read(CHUNK):
        content.extend(chunk)
        if len(content) > limit:
            return None
    return bytes(content)


@imports.post(
    "/imports",
    responses=problems(403, 422),
    summary="Import OKRs and check-in history from a CSV or XLSX file (admin)",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "example": {
                        "file": "okrs.xlsx (the okrledger template, filled)",
                        "format": "okrledger",
                        "dry_run": True,
                        "fallback_owner": "lead@acme.example",
                    }
                }
            }
        }
    },
)
async def import_file(
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="The CSV or XLSX file.")],
    format: Annotated[str, Form(description="okrledger, viva-goals or generic")] = "okrledger",
    mapping: Annotated[UploadFile | None, File(description="generic: the TOML mapping")] = None,
    dry_run: Annotated[bool, Form(description="Answer the report; write nothing.")] = False,
    fallback_owner: Annotated[str | None, Form(description="E-mail of the fallback owner")] = None,
) -> dict[str, Any]:
    """Plans the whole file through the domain's rules and answers what was (or, with
    `dry_run`, would be) created, changed, skipped and dropped, with row numbers. Any row that
    breaks a rule answers 422 listing every problem, and nothing is written."""
    uses = ImportUseCases(caller)
    settings = caller.services.settings or get_settings()
    limit = settings.import_max_bytes
    content = await read_limited(file, limit)
    mapping_content = await read_limited(mapping, limit) if mapping is not None else b""
    if content is None or mapping_content is None:
        too_large = Problem("file_too_large", f"the file is larger than {limit} bytes")
        raise import_problem(ImportRefused([too_large], 413))
    request = ImportRequest(
        file.filename or "upload",
        content,
        format,
        mapping_content if mapping is not None else None,
        dry_run,
        fallback_owner,
    )
    try:
        # Reading, planning and writing block: off the event loop.
        report = await run_in_threadpool(uses.run, request, limit)
    except ImportRefused as refused:
        raise import_problem(refused) from None
    return report.as_dict()
