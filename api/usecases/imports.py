"""Import OKRs and their history from a file: the one use case behind `okr import`,
`POST /api/v1/imports` and the web UI's import page (docs/import.md).

1. read the file (CSV or XLSX) and the format's records — a file that cannot be read is refused;
2. plan: every record through the domain's own commands, in memory (`api.imports.plan`);
3. a dry run, or any error on any row, answers the report and writes nothing;
4. otherwise write every event of the plan in one transaction (all or nothing per file),
   flagged imported in the chain (`importing_history`); each event keeps its own time (an
   imported check-in its date and `effective_on`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from api.deps import require_admin
from api.errors import ApiError
from api.imports.plan import Batch, Names, Plan, Planner, Source
from api.imports.reading import FileRefused, Problem, read_file
from api.imports.records import FORMATS, read_records
from api.usecases import Caller
from domain.application import OkrLedger
from infra.bulk import BulkWriter, collector_paused
from infra.chain import ChainedApplicationRecorder, importing_history

MAX_BYTES = 10 * 1024 * 1024
"""The largest file an import reads (`OKR_IMPORT_MAX_BYTES` overrides it)."""


@dataclass(frozen=True)
class ImportRequest:
    file_name: str
    content: bytes
    format: str = "okrledger"
    mapping: bytes | None = None
    dry_run: bool = False
    fallback_owner: str | None = None
    """An e-mail: the owner of rows whose owner is unknown."""


@dataclass
class ImportReport:
    file_name: str
    sha256: str
    format: str
    dry_run: bool
    written: bool
    plan: Plan
    position: int | None = None
    events_written: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "file": self.file_name,
            "sha256": self.sha256,
            "format": self.format,
            "dry_run": self.dry_run,
            "written": self.written,
            "position": self.position,
            "events": plan.events if self.dry_run or not self.written else self.events_written,
            "created": [line.as_dict() for line in plan.created],
            "changed": [line.as_dict() for line in plan.changed],
            "skipped": [line.as_dict() for line in plan.skipped],
            "dropped": [p.as_dict() for p in plan.dropped],
            "errors": [p.as_dict() for p in plan.errors],
        }


class ImportRefused(Exception):
    """The file or some of its rows cannot be imported; nothing was written."""

    def __init__(self, problems: list[Problem], status: int = 422, report: Any = None) -> None:
        super().__init__("; ".join(f"{p.sheet} row {p.row}: {p.message}" for p in problems[:5]))
        self.problems = problems
        self.status = status
        self.report = report


def run_import(
    ledger: OkrLedger,
    directory: Names,
    importer: UUID,
    request: ImportRequest,
    *,
    max_bytes: int = MAX_BYTES,
) -> ImportReport:
    """Plan the import and, unless it is a dry run or a row fails, write it. Raises
    `ImportRefused` (nothing written) when the file or a row cannot be imported."""
    with collector_paused():  # a file's objects all live until the end (infra/bulk.py)
        return _run_import(ledger, directory, importer, request, max_bytes)


def _run_import(
    ledger: OkrLedger, directory: Names, importer: UUID, request: ImportRequest, max_bytes: int
) -> ImportReport:
    if request.format not in FORMATS:
        raise ImportRefused(
            [Problem("format_unknown", f"format must be one of: {', '.join(FORMATS)}")]
        )
    if len(request.content) > max_bytes:
        raise ImportRefused(
            [Problem("file_too_large", f"the file is larger than {max_bytes} bytes")], 413
        )
    if not request.content:
        raise ImportRefused([Problem("file_empty", "the file is empty")])
    sha256 = hashlib.sha256(request.content).hexdigest()
    try:
        sheets = read_file(request.file_name, request.content)
        records = read_records(request.format, sheets, request.mapping)
    except FileRefused as refused:
        raise ImportRefused(refused.problems, refused.status) from None
    fallback: UUID | None = None
    if request.fallback_owner:
        person = ledger.find_person_by_email(request.fallback_owner.strip().lower())
        if person is None or not person.active:
            raise ImportRefused(
                [
                    Problem(
                        "fallback_owner_not_found",
                        f"no active person with e-mail {request.fallback_owner}",
                        column="fallback_owner",
                    )
                ]
            )
        fallback = person.id
    source = Source(request.file_name, sha256, request.format)
    planner = Planner(ledger, directory, source, importer, fallback_owner=fallback)
    recorder = ledger.recorder
    if request.dry_run or not isinstance(recorder, ChainedApplicationRecorder):
        plan = planner.run(records)
        report = ImportReport(
            request.file_name, sha256, request.format, request.dry_run, False, plan
        )
        if plan.errors:
            raise ImportRefused(plan.errors, report=report)
        if request.dry_run or not plan.batches:
            return report
        events = [event for batch in plan.batches for event in batch.events]
        with importing_history(plan.batches[0].at):
            recordings = ledger.save(*events)
        report.events_written = len(recordings)
        report.written = True
        report.position = max(r.notification.id for r in recordings)
        return report
    # One transaction for the whole file: all or nothing. The bulk writer writes each batch
    # as soon as it is planned, while the next is being planned, and the transaction commits
    # only once every row has passed (a failed row rolls it all back). The events keep their
    # own times (a check-in's date); the chain flags them imported and commits them at the
    # first batch's instant, floored at the chain head's (commit times never go back).
    with BulkWriter(recorder, ledger.mapper, imported=True) as writer:
        first: list[datetime] = []

        def write(batch: Batch) -> None:
            if not first:
                first.append(batch.at)
            writer.write(batch.events, first[0])

        planner.on_batch = write
        plan = planner.run(records)
        report = ImportReport(request.file_name, sha256, request.format, False, False, plan)
        if plan.errors:
            raise ImportRefused(plan.errors, report=report)
        if not plan.batches:
            return report
        ids = writer.commit()
    report.events_written = len(ids)
    report.written = True
    report.position = ids[-1]
    report.extra["writer_cpu_seconds"] = writer.thread_cpu
    return report


def import_problem(refused: ImportRefused) -> ApiError:
    """The RFC 9457 answer: the first problem's rule, every problem listed."""
    first = refused.problems[0]
    where = f"{first.sheet} row {first.row}: " if first.row else ""
    return ApiError(
        refused.status,
        first.rule,
        f"{len(refused.problems)} problem(s); first: {where}{first.message}",
        first.column or "file",
        errors=[{"field": p.column or "file", **p.as_dict()} for p in refused.problems],
    )


class ImportUseCases:
    """Imports are for admins: they register people, form teams and plan cycles."""

    def __init__(self, caller: Caller) -> None:
        require_admin(caller.principal)
        self.caller = caller

    def run(self, request: ImportRequest, max_bytes: int = MAX_BYTES) -> ImportReport:
        services = self.caller.services
        names = services.directory.ask(Names.of)
        return run_import(
            services.ledger, names, self.caller.principal.person_id, request, max_bytes=max_bytes
        )
