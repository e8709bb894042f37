"""Import of a generated history file (issue 18 §4): `okr import`'s use case on a 100,000-row
okrledger CSV (four quarters of daily check-ins, `bench/history_file.py`, generated once and
cached), events/s, beside raw `COPY` of as many rows of a check-in's weight in the same run.

Each round imports the file into a fresh copy of an empty store that holds only the importing
admin (a second import of the same file writes nothing, by design), from reading the file to
the commit: the same path as `okr import FILE` (read, plan every row through the domain,
write in one transaction on the bulk path).
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import platformdirs
from psycopg.conninfo import conninfo_to_dict

from bench.harness import Figure, Row, ScenarioResult, Target, alternate, paired
from bench.history_file import cached_history
from bench.raw import raw_copy, typical_state
from bench.scenarios import Context
from domain.application import OkrLedger
from domain.base import CommandContext
from infra.eventstore import eventsourcing_env
from infra.settings import Settings

ADMIN = "history-admin@bench.example"


def run(ctx: Context) -> ScenarioResult:
    from api.directory import LogDirectory
    from api.imports.plan import Names
    from api.usecases.imports import ImportRequest, run_import

    result = ScenarioResult("import", "import of a generated history file")
    rows = int(ctx.pick(100_000, 10_000))
    folder = Path(os.environ.get("OKR_BENCH_FILES") or platformdirs.user_cache_path("okr-bench"))
    path = cached_history(folder / "files", rows, date.today())
    content = path.read_bytes()
    template = ctx.cluster.scratch("import_template")
    app = OkrLedger(env=eventsourcing_env(template, Settings(pool_size=2)))
    try:
        app.register_person("History Admin", ADMIN, CommandContext.system())
    finally:
        app.close()
    template_name = str(conninfo_to_dict(template)["dbname"])
    product = Figure("events/s")
    raw = Figure("rows/s")
    cpu = Figure("µs", better="lower")
    writer_cpu = Figure("µs", better="lower")
    events = [0]
    states: list[bytes] = []

    def product_round(_: int) -> None:
        url = ctx.cluster.scratch("import", template=template_name)
        ledger = OkrLedger(env=eventsourcing_env(url, Settings(pool_size=4)))
        try:
            admin = ledger.find_person_by_email(ADMIN)
            assert admin is not None
            names = LogDirectory(ledger).ask(Names.of)
            request = ImportRequest(path.name, content)
            began, cpu_began = time.perf_counter(), time.process_time()
            report = run_import(ledger, names, admin.id, request, max_bytes=len(content) + 1)
            elapsed = time.perf_counter() - began
            spent = time.process_time() - cpu_began
            if not states:
                states.append(typical_state(url))
        finally:
            ledger.close()
            ctx.cluster.forget(url)
        assert report.written and report.events_written > rows // 2, report.as_dict()["errors"]
        events[0] = report.events_written
        product.add(report.events_written / elapsed)
        cpu.add(spent / report.events_written * 1e6)
        if "writer_cpu_seconds" in report.extra:
            writer_cpu.add(report.extra["writer_cpu_seconds"] / report.events_written * 1e6)

    def raw_round(_: int) -> None:
        url = ctx.cluster.scratch("import_raw", template=template_name)
        try:
            state = states[0] if states else b"x" * 600
            done, elapsed = raw_copy(url, events[0] or rows, state)
        finally:
            ctx.cluster.forget(url)
        raw.add(done / elapsed)

    started = time.perf_counter()
    alternate(min(ctx.rounds, 3), product_round, raw_round)
    load = os.getloadavg()
    ctx.say(
        f"import: {product.median:,.0f} events/s, raw COPY {raw.median:,.0f} rows/s, "
        f"{cpu.median:.0f} µs of the process's CPU per event "
        f"({time.perf_counter() - started:.0f} s; load average {load[0]:.1f})"
    )
    result.rows += [
        Row(
            "import",
            f"import of a generated {rows:,}-row history file ({events[0]:,} events, okr import)",
            product,
            raw,
            f"COPY of {events[0]:,} rows, one transaction",
            paired(product, raw),
            (Target.at_least(20_000, "events/s"),),
        ),
        Row("import", "import: the process's CPU per event", cpu),
    ]
    if writer_cpu.values:
        result.rows.append(
            Row(
                "import",
                "import: of which the bulk writer's thread (encode, hash, send)",
                writer_cpu,
            )
        )
    result.notes.append(
        f"{path.name}: {len(content) / 1e6:.1f} MB, {rows:,} rows; each round imports it into "
        f"a fresh store (reading, planning every row through the domain, writing on the bulk "
        f"path, committed); load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end."
    )
    return result
