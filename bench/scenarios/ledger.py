"""The full-ledger package: `okr export` and `okr import-ledger` against raw `COPY` of the rows.

On the demo organisation and on a generated history (100,000 events; 5,000 quick):

- export: `export_ledger` (JSON Lines, every link checked for nothing, files hashed) beside a
  raw `COPY (SELECT events ⋈ chain) TO STDOUT (FORMAT binary)` of the same rows into a file;
- import: `import_ledger` without the views' rebuild (the package checked, every link
  recomputed, `COPY` in, the stored chain verified) beside a raw `COPY FROM STDIN (FORMAT
  binary)` of the same rows (events, then links) into the empty tables of a fresh database;
- the rebuild that a real import runs after the load is timed on its own (events/s).

Export and raw export alternate round by round, as do import and raw import; each import goes
into a database of its own, made for the round and dropped after it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg.sql import SQL, Identifier

from bench.harness import Figure, Row, ScenarioResult, alternate, paired
from bench.scenarios import Context

if TYPE_CHECKING:
    from infra.settings import Settings

EVENTS_TABLE = "okrledger_events"
CHAIN_TABLE = f"{EVENTS_TABLE}_chain"
EVENT_COLUMNS = "notification_id, originator_id, originator_version, topic, state"
LINK_COLUMNS = "position, prev_position, committed_at, hash, imported"


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("ledger", "full-ledger export and import")
    demo = ctx.datasets.demo()
    sources = [
        ("the demo", ctx.cluster.database_url(demo.database)),
        (
            f"{int(ctx.pick(100_000, 5_000)):,} generated",
            ctx.datasets.generated(int(ctx.pick(100_000, 5_000))),
        ),
    ]
    work = Path(tempfile.mkdtemp(prefix="okr-bench-ledger-"))
    try:
        for label, url in sources:
            _measure(ctx, result, label, url, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.notes.append(
        f"{ctx.rounds} rounds; export and import alternate with their raw COPY round by round; "
        "import = package check + load with every link recomputed + verify_chain (the views' "
        "rebuild, which `okr import-ledger` runs next, is its own row)."
    )
    return result


def _settings(url: str) -> Settings:
    from infra.settings import Settings

    return Settings(database_url=url, lock_timeout_seconds=60, pool_size=4, person_id_secret=None)


def _measure(ctx: Context, result: ScenarioResult, label: str, url: str, work: Path) -> None:
    from infra.bootstrap import build_ledger
    from infra.ledger_package import export_ledger, import_ledger
    from infra.views.rebuild import Rebuild

    exported, raw_out = Figure("events/s"), Figure("events/s")
    imported, raw_in = Figure("events/s"), Figure("events/s")
    rebuilt = Figure("events/s")
    package = work / "package"
    raw_file = work / "raw.copy"
    events = 0

    def export_round(r: int) -> None:
        nonlocal events
        shutil.rmtree(package, ignore_errors=True)
        ledger = build_ledger(_settings(url))
        try:
            report = export_ledger(ledger, _settings(url), package)
        finally:
            ledger.close()
        events = report.events
        exported.add(report.events / report.seconds)

    def raw_export_round(r: int) -> None:
        began = time.perf_counter()
        rows = _raw_copy_out(url, raw_file)
        raw_out.add(rows / (time.perf_counter() - began))

    alternate(ctx.rounds, export_round, raw_export_round)
    peak = Figure("MB", better="lower")
    peak.add(_export_peak_mb(url, work / "traced"))

    def import_round(r: int) -> None:
        target = ctx.cluster.scratch("ledger_import")
        try:
            began = time.perf_counter()
            report = import_ledger(package, _settings(target), rebuild=False)
            imported.add(report.events / (time.perf_counter() - began))
            if r == 0:
                ledger = build_ledger(_settings(target))
                try:
                    clock = time.perf_counter()
                    Rebuild(ledger, _settings(target)).run(None)
                    rebuilt.add(report.events / (time.perf_counter() - clock))
                finally:
                    ledger.close()
        finally:
            ctx.cluster.forget(target)

    def raw_import_round(r: int) -> None:
        target = ctx.cluster.scratch("ledger_raw")
        try:
            _empty_tables(url, target)
            began = time.perf_counter()
            rows = _raw_copy_in(target, raw_file)
            raw_in.add(rows / (time.perf_counter() - began))
        finally:
            ctx.cluster.forget(target)

    alternate(ctx.rounds, import_round, raw_import_round)
    raw_label = "raw COPY of the same rows (binary)"
    result.rows.append(
        Row(
            "ledger",
            f"export, {label} ({events:,} events)",
            exported,
            raw_out,
            raw_label,
            paired(exported, raw_out),
        )
    )
    result.rows.append(
        Row(
            "ledger",
            f"import-ledger, {label}",
            imported,
            raw_in,
            raw_label,
            paired(imported, raw_in),
        )
    )
    result.rows.append(Row("ledger", f"views' rebuild after the import, {label}", rebuilt))
    result.rows.append(
        Row("ledger", f"export's peak Python memory, {label}", peak, note="tracemalloc, 1 run")
    )
    ctx.say(
        f"{label}: export {exported.median:,.0f} ev/s (raw {raw_out.median:,.0f}), "
        f"import {imported.median:,.0f} ev/s (raw {raw_in.median:,.0f}), "
        f"rebuild {rebuilt.median:,.0f} ev/s"
    )


def _export_peak_mb(url: str, package: Path) -> float:
    """Python's peak allocation during one export: flat whatever the log's length."""
    from infra.bootstrap import build_ledger
    from infra.ledger_package import export_ledger

    shutil.rmtree(package, ignore_errors=True)
    ledger = build_ledger(_settings(url))
    try:
        tracemalloc.start()
        try:
            export_ledger(ledger, _settings(url), package)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        ledger.close()
        shutil.rmtree(package, ignore_errors=True)
    return peak / 2**20


def _raw_copy_out(url: str, path: Path) -> int:
    """The events table and the chain table, each one binary COPY into a file of its own."""
    rows = 0
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        for table, columns, key in (
            (EVENTS_TABLE, EVENT_COLUMNS, "notification_id"),
            (CHAIN_TABLE, LINK_COLUMNS, "position"),
        ):
            query = SQL("COPY (SELECT {} FROM {} ORDER BY {}) TO STDOUT (FORMAT binary)").format(
                SQL(columns), Identifier(table), Identifier(key)
            )
            with path.with_suffix(f".{table}").open("wb") as out, curs.copy(query) as copy:
                for data in copy:
                    out.write(data)
            rows = curs.rowcount
    return rows


def _empty_tables(source: str, target: str) -> None:
    """The events and chain tables as the source has them, empty."""
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(
            SQL(
                "CREATE TABLE {} (originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
                "topic text, state bytea, notification_id bigserial, "
                "PRIMARY KEY (originator_id, originator_version))"
            ).format(Identifier(EVENTS_TABLE))
        )
        conn.execute(
            SQL("CREATE UNIQUE INDEX ON {} (notification_id)").format(Identifier(EVENTS_TABLE))
        )
        conn.execute(
            SQL(
                "CREATE TABLE {} (position bigint PRIMARY KEY, prev_position bigint NOT NULL, "
                "committed_at timestamptz NOT NULL, hash bytea NOT NULL, "
                "imported boolean NOT NULL DEFAULT false)"
            ).format(Identifier(CHAIN_TABLE))
        )


def _raw_copy_in(url: str, path: Path) -> int:
    """The two files back into the empty tables, one binary COPY each, one transaction."""
    rows = 0
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        for table, columns in ((EVENTS_TABLE, EVENT_COLUMNS), (CHAIN_TABLE, LINK_COLUMNS)):
            statement = SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
                Identifier(table), SQL(columns)
            )
            with path.with_suffix(f".{table}").open("rb") as source, curs.copy(statement) as copy:
                while data := source.read(1 << 20):
                    copy.write(data)
            rows = curs.rowcount
        conn.commit()
    return rows
