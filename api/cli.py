"""The ``okr`` command line: one Typer app, one function per command, output through rich.

Every command builds the application through the composition root, so ``OKR_DATABASE_URL``
(or the embedded PostgreSQL when it is unset) decides where it reads and writes.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar
from uuid import UUID

import typer
from rich.markup import escape
from rich.table import Table

from api.audit_cli import audit_app, person_app
from api.cli_support import (
    JsonStatus,
    console,
    errors,
    kafka_on,
    refused,
    registered,
    status_flag,
    store_reachable,
)
from api.cli_support import open_ledger as _ledger
from api.errors import ApiError
from api.ledger_cli import export_command, import_ledger_command
from api.rebuild_cli import rebuild_command
from api.usecases.identity import command_line
from demo import DemoSummary, load_demo
from domain.access import Role, token_id_for
from domain.application import OkrLedger
from domain.errors import OkrError
from infra.bulk import history_writer
from infra.chain import importing_history
from infra.settings import get_settings
from infra.status import StoreStatus, store_status

if TYPE_CHECKING:
    from infra.kafka.relay import RelayStatus
    from infra.kafka.worker import WorkerStatus

app = typer.Typer(
    name="okr",
    help="okrledger: OKRs where every change is an immutable, verifiable event.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(audit_app, name="audit")
app.add_typer(person_app, name="person")
app.command("rebuild")(rebuild_command)
app.command("export")(export_command)
app.command("import-ledger")(import_ledger_command)


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a date (YYYY-MM-DD)") from None


# --------------------------------------------------------------------------- demo


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the story: same seed, same history.")] = 7,
    today: Annotated[
        str | None,
        typer.Option(help="The story's today (YYYY-MM-DD); its quarter is the active one."),
    ] = None,
) -> None:
    """Load a realistic organisation with three quarters of OKR history (once)."""
    day = _parse_day(today)
    with _ledger() as ledger:
        started = time.perf_counter()
        with refused(ValueError):
            summary = load_demo(
                ledger,
                seed=seed,
                today=day,
                history_clock=importing_history,
                history_writer=history_writer(ledger),
            )
        elapsed = time.perf_counter() - started
        if summary.already_loaded:
            console.print(
                "[yellow]The demo is already loaded[/yellow] "
                f"(demo admin {summary.admin_person_id}); nothing was written.",
                soft_wrap=True,
            )
            return
        console.print(_cycles_table(ledger, summary))
        console.print(_demo_table(summary, elapsed))
        console.print(_planted_table(summary))
        # Plain, never wrapped: the id is copied from here.
        console.print(f"demo admin: {summary.admin_person_id}", soft_wrap=True)


def _cycles_table(ledger: OkrLedger, summary: DemoSummary) -> Table:
    table = Table(title="Demo organisation loaded: Acme", title_justify="left")
    table.add_column("cycle", style="bold")
    table.add_column("phase")
    table.add_column("from")
    table.add_column("to")
    table.add_column("id", style="dim", no_wrap=True, min_width=36)
    for cycle_id in summary.cycle_ids:
        cycle = ledger.get_cycle(cycle_id)
        table.add_row(
            cycle.name,
            cycle.phase.value,
            cycle.starts_on.isoformat(),
            cycle.ends_on.isoformat(),
            str(cycle_id),
        )
    return table


def _demo_table(summary: DemoSummary, elapsed: float) -> Table:
    table = Table(show_header=False)
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    for label, value in (
        ("people", summary.people),
        ("teams", summary.teams),
        ("objectives", summary.objectives),
        ("key results", summary.key_results),
        ("check-ins", summary.check_ins),
        ("corrections", summary.corrections),
        ("amendments", summary.amendments),
        ("carry-overs", summary.carry_overs),
        ("strategic themes", summary.themes),
        ("KPIs", summary.kpis),
        ("KPI measurements", summary.measurements),
        ("initiatives", summary.initiatives),
        ("events written", summary.events_written),
    ):
        table.add_row(label, f"{value:,}")
    rate = summary.events_written / elapsed if elapsed else 0.0
    table.add_row("time taken", f"{elapsed:.1f} s")
    table.add_row("write rate", f"{rate:,.0f} events/s")
    return table


def _planted_table(summary: DemoSummary) -> Table:
    table = Table(title="Weak OKRs planted for the quality coach", title_justify="left")
    table.add_column("kind", style="bold")
    table.add_column("what")
    table.add_column("where", style="dim", no_wrap=True, min_width=36)
    for weak in summary.planted:
        where = weak.key_result_id or weak.objective_id or weak.owner_person_id
        table.add_row(weak.kind, weak.note, str(where))
    return table


# ------------------------------------------------------------------------- status


@app.command()
def status() -> None:
    """Count what the event store holds: aggregates by type, events, the hash chain's head."""
    with _ledger() as ledger:
        found = store_status(ledger)
    console.print(_status_table(found))
    position = "—" if found.max_position is None else f"{found.max_position:,}"
    console.print(f"[bold]log position[/bold] {position}")
    if found.chain_head_position is not None and found.chain_head_committed_at is not None:
        committed = found.chain_head_committed_at.isoformat(timespec="seconds")
        console.print(
            f"[bold]hash chain head[/bold] position {found.chain_head_position:,}, "
            f"committed {committed}"
        )


def _status_table(status: StoreStatus) -> Table:
    table = Table(title="Event store", title_justify="left")
    table.add_column("aggregate type", style="bold")
    table.add_column("aggregates", justify="right")
    table.add_column("events", justify="right")
    for count in status.by_type:
        table.add_row(count.type, f"{count.aggregates:,}", f"{count.events:,}")
    table.add_section()
    table.add_row("total", f"{status.aggregates:,}", f"{status.events:,}", style="bold")
    return table


# ------------------------------------------------------------------------ lint


@app.command()
def lint(
    cycle: Annotated[
        str | None,
        typer.Option(help="Cycle id or name (default: the active cycle, else the latest)."),
    ] = None,
    objective: Annotated[str | None, typer.Option(help="Only this objective's findings.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    strict: Annotated[
        bool, typer.Option(help="Exit 1 on any finding, not only on those that block.")
    ] = False,
) -> None:
    """Run the OKR quality coach over a cycle: every finding with its check, level, message and
    suggestion. Exits 1 when a finding blocks submission (with --strict, on any finding)."""
    from infra.views.strategy import StrategyReads

    with _ledger() as ledger:
        reads = StrategyReads.of_ledger(ledger, get_settings())
        cycles = reads.cycles()
        chosen = _choose_cycle(cycles, cycle)
        objective_id = None
        if objective is not None:
            try:
                objective_id = UUID(objective)
            except ValueError:
                raise typer.BadParameter(f"'{objective}' is not an objective id") from None
        findings = reads.lint(chosen[0], objective_id)
    if as_json:
        print(json.dumps({"cycle_id": str(chosen[0]), "findings": findings}, indent=2))
    else:
        console.print(_lint_table(chosen[1], findings))
    blocking = [f for f in findings if f["level"] == "block"]
    if blocking or (strict and findings):
        raise typer.Exit(1)


def _choose_cycle(
    cycles: list[tuple[UUID, str, str, str]], wanted: str | None
) -> tuple[UUID, str, str, str]:
    if not cycles:
        errors.print("[red]No cycle yet:[/red] nothing to lint.")
        raise typer.Exit(2)
    if wanted is None:
        active = [c for c in cycles if c[2] == "active"]
        return (active or cycles)[0]
    for found in cycles:
        if wanted in (str(found[0]), found[1]):
            return found
    errors.print(f"[red]No cycle '{wanted}'[/red] (cycles: {', '.join(c[1] for c in cycles)})")
    raise typer.Exit(2)


def _lint_table(cycle_name: str, findings: list[dict[str, object]]) -> Table:
    table = Table(title=f"OKR quality coach: {cycle_name}", title_justify="left")
    table.add_column("level")
    table.add_column("check", style="bold")
    table.add_column("objective")
    table.add_column("what and how to fix it")
    for finding in findings:
        owner = finding.get("owner_person_name") or finding.get("owner_team_name") or ""
        where = str(finding.get("objective_title") or owner)
        level = str(finding["level"])
        table.add_row(
            f"[red]{level}[/red]" if level == "block" else f"[yellow]{level}[/yellow]",
            str(finding["check"]),
            where,
            f"{finding['message']}\n[dim]{finding['suggestion']}[/dim]",
        )
    counts = Counter(str(finding["check"]) for finding in findings)
    table.caption = (
        f"{len(findings)} finding(s): "
        + ", ".join(f"{check} {n}" for check, n in sorted(counts.items()))
        if findings
        else "No findings: these OKRs read well."
    )
    table.caption_justify = "left"
    return table


# ---------------------------------------------------------------------- serve


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on [OKR_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [OKR_PORT].")] = None,
    graceful: Annotated[
        int, typer.Option(help="Seconds in-flight requests get to finish on shutdown.")
    ] = 10,
) -> None:
    """Serve the HTTP API with the live projections (embedded PostgreSQL unless configured)."""
    from api.serve import serve as run_server

    settings = get_settings()
    with store_reachable():
        run_server(
            settings,
            host=host or settings.host,
            port=port if port is not None else settings.port,
            graceful_seconds=graceful,
        )


# ---------------------------------------------------------------------- tokens

token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="The person's e-mail (registered when new).")],
    role: Annotated[Role, typer.Option(help="The token's role.", case_sensitive=False)],
    name: Annotated[
        str | None, typer.Option(help="The person's name (needed when the e-mail is new).")
    ] = None,
    label: Annotated[str, typer.Option(help="A note on what the token is for.")] = "",
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, help="The token stops working after this many days.")
    ] = None,
    read_only: Annotated[bool, typer.Option(help="The token may only read.")] = False,
) -> None:
    """Issue a token and print only the token (registers the person when the e-mail is new).

    The role is the person's: a role they do not have yet is given to them (an event)."""
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    with _ledger() as ledger:
        people = command_line(ledger)
        with refused(OkrError, ApiError):
            person = people.holder_of(email)
            if person is None:
                if not name:
                    errors.print(f"[red]{email} is not registered: give --name to register[/red]")
                    raise typer.Exit(1)
                person_id = people.register_person(name, email).id
            else:
                person_id = person.id
            secret, _ = people.issue_token(
                person_id, role, label, expires_at=expires_at, read_only=read_only
            )
    print(secret)


def _when(moment: datetime | None, default: str) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else default


@token_app.command("list")
def token_list(
    email: Annotated[str, typer.Option(help="The person's e-mail.")],
) -> None:
    """A person's tokens: id, label, scope, created, expires, last used (to the minute), state."""
    with _ledger() as ledger:
        people = command_line(ledger)
        with refused(OkrError):
            person = registered(people, email)
        tokens = people.tokens(person.id)
    table = Table(title=f"Tokens of {email}", title_justify="left")
    for column in ("id", "label", "scope", "created", "expires", "last used", "state"):
        table.add_column(column, overflow="fold")
    for t in tokens:
        state = "revoked" if t.revoked else "expired" if t.expired else "active"
        table.add_row(
            str(t.id),
            t.label,
            "read-only" if t.read_only else "read-write",
            _when(t.created_at, ""),
            _when(t.expires_at, "never"),
            _when(t.last_used_at, "never"),
            state,
        )
    console.print(table, width=max(console.width, 140))


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="The token itself, or its id.")],
    reason: Annotated[
        str, typer.Option(help="Why it is revoked.")
    ] = "revoked from the command line",
) -> None:
    """Revoke a token: it stops working at once."""
    try:
        token_id = UUID(token)
    except ValueError:
        token_id = token_id_for(token.strip())
    with _ledger() as ledger, refused(OkrError, ApiError):
        command_line(ledger).revoke_token(token_id, reason)
    console.print(f"revoked token {token_id}")


# --------------------------------------------------------------------------- kafka


@app.command()
def relay(
    show_status: Annotated[
        bool, status_flag("Print the relay's lag behind the log and exit.")
    ] = False,
    as_json: JsonStatus = False,
) -> None:
    """Publish every event to Kafka [OKR_KAFKA_BOOTSTRAP]; one relay publishes, others stand by."""
    from infra.kafka.relay import relay_status
    from infra.kafka.service import configure_logging, run_relay

    settings = get_settings()
    if show_status:
        _print_status(
            lambda ledger: relay_status(ledger, settings.kafka_topic), _relay_table, as_json
        )
        return
    kafka_on(settings.kafka_bootstrap)
    configure_logging()
    with store_reachable():
        run_relay(settings)


class _Status(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=_Status)


def _print_status(
    read: Callable[[OkrLedger], S], table: Callable[[S], Table], as_json: bool
) -> None:
    """`--status` of the relay or a worker: one JSON line, or a table."""
    with _ledger() as ledger:
        current = read(ledger)
    if as_json:
        print(json.dumps(current.as_dict()))
    else:
        console.print(table(current))


def _relay_table(current: RelayStatus) -> Table:
    table = Table(title=f"relay → {current.topic}", show_header=False)
    table.add_row("position (acknowledged)", str(current.position))
    table.add_row("log head", str(current.head))
    table.add_row("lag (events)", str(current.lag))
    table.add_row("active relay", current.holder or "[yellow]none[/yellow]")
    table.add_row(
        "position moved at", current.updated_at.isoformat() if current.updated_at else "never"
    )
    if current.oldest_unpublished_at is not None:
        age = datetime.now(UTC) - current.oldest_unpublished_at
        table.add_row("oldest unpublished", f"{age.total_seconds():.1f} s ago")
    return table


@app.command()
def worker(
    from_kafka: Annotated[
        bool, typer.Option("--from-kafka", help="Consume the Kafka topic in the worker group.")
    ] = False,
    from_log: Annotated[
        bool,
        typer.Option(
            "--from-log",
            help="Keep the live views from the log in PostgreSQL, in this process "
            "(for okr serve with OKR_VIEWS_RUNNER=off).",
        ),
    ] = False,
    show_status: Annotated[
        bool, status_flag("Print the group's offsets and lag and exit.")
    ] = False,
    as_json: JsonStatus = False,
) -> None:
    """A projection worker: --from-kafka applies the topic to the views, --from-log follows the log."""
    from infra.kafka.config import KafkaConfig
    from infra.kafka.service import configure_logging, run_worker
    from infra.kafka.worker import worker_status

    settings = get_settings()
    if from_kafka == from_log:
        errors.print(
            "[red]okr worker needs one of --from-kafka or --from-log[/red] "
            "(okr serve runs the live views unless OKR_VIEWS_RUNNER=off)"
        )
        raise typer.Exit(2)
    if from_log:
        from infra.views.process import run_views_process

        if show_status:
            errors.print(
                "[red]--status is for --from-kafka[/red] (/api/v1/ready shows the views' lag)"
            )
            raise typer.Exit(2)
        configure_logging()
        with store_reachable():
            run_views_process(settings)
        return
    kafka_on(settings.kafka_bootstrap)
    if show_status:
        config = KafkaConfig.from_settings(settings)
        _print_status(lambda ledger: worker_status(ledger, config), _worker_table, as_json)
        return
    configure_logging()
    with store_reachable():
        run_worker(settings)


def _worker_table(current: WorkerStatus) -> Table:
    table = Table(
        title=f"group {current.group} ← {current.topic}: "
        f"{current.unapplied} event(s) not applied to the views yet",
        caption="last batch committed: "
        + (current.last_batch_at.isoformat() if current.last_batch_at else "never"),
    )
    columns = ("partition", "applied up to offset", "broker end offset", "lag")
    for column in (*columns, "views shard at position"):
        table.add_column(column, justify="right")
    for lag in current.partitions:
        table.add_row(
            str(lag.partition),
            str(lag.next_offset),
            "?" if lag.end_offset is None else str(lag.end_offset),
            "?" if lag.lag is None else str(lag.lag),
            str(current.shards.get(lag.partition, "—")),
        )
    return table


# --------------------------------------------------------------------------- notifications


@app.command()
def notifier(
    send_only: Annotated[
        bool,
        typer.Option("--send-only", help="Only send: leave following the log to others."),
    ] = False,
) -> None:
    """Run the notifier on its own (docs/notifications.md): one follows the log, all send."""
    from infra.kafka.service import configure_logging
    from infra.notify.service import run_notifier

    configure_logging()
    with store_reachable():
        run_notifier(get_settings(), follow=not send_only)


@app.command()
def webhooks() -> None:
    """Deliver outbound webhooks on their own (okr serve does too); several may run."""
    from infra.kafka.service import configure_logging
    from infra.webhooks.service import run_webhooks

    configure_logging()
    with store_reachable():
        run_webhooks(get_settings())


secrets_app = typer.Typer(help="Integration secrets sealed at rest.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Seal every webhook secret and chat URL under OKR_SECRETS_KEY (opening them with it or
    OKR_SECRETS_OLD_KEYS); rows from before sealing are sealed too. Safe to run again."""
    from infra.kafka.pg import postgres_recorder
    from infra.secretbox import SecretBox
    from infra.webhooks.store import WebhookStore

    with _ledger() as ledger:
        with refused(ValueError):
            box = SecretBox.from_settings(get_settings())
        store = WebhookStore(postgres_recorder(ledger).datastore, box)
        with refused(OkrError):
            resealed = store.rotate()
    console.print(f"sealed {resealed} secret(s) again under key {box.key_id if box else ''}")


if __name__ == "__main__":
    app()


# ------------------------------------------------------------------------- import


@app.command("import")
def import_command(
    file: Annotated[
        Path | None, typer.Argument(help="The CSV or XLSX file to import.", show_default=False)
    ] = None,
    format_: Annotated[
        str, typer.Option("--format", help="okrledger (our template), viva-goals or generic.")
    ] = "okrledger",
    mapping: Annotated[
        Path | None, typer.Option(help="The TOML column mapping of a generic CSV.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would happen; write nothing.")
    ] = False,
    fallback_owner: Annotated[
        str | None, typer.Option(help="E-mail of the owner for rows whose owner is unknown.")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(help="E-mail of the importing person (default: the only admin, if one)."),
    ] = None,
    template: Annotated[
        Path | None, typer.Option(help="Write an empty template workbook (.xlsx) here.")
    ] = None,
) -> None:
    """Import OKRs and their check-in history from a spreadsheet (docs/import.md)."""
    from api.directory import LogDirectory
    from api.imports.plan import Names
    from api.imports.template import write_template
    from api.usecases.imports import ImportRefused, ImportRequest, run_import

    if template is not None:
        write_template(template)
        console.print(f"Template written to {template}", soft_wrap=True)
        return
    if file is None:
        raise typer.BadParameter("give the FILE to import, or --template FILE.xlsx")
    limit = get_settings().import_max_bytes
    try:
        if file.stat().st_size > limit:  # refused unread
            errors.print(f"Nothing was imported: {file} is larger than {limit} bytes.")
            raise typer.Exit(1)
        content = file.read_bytes()
        mapping_content = mapping.read_bytes() if mapping is not None else None
    except OSError as error:
        raise typer.BadParameter(str(error)) from None
    request = ImportRequest(file.name, content, format_, mapping_content, dry_run, fallback_owner)
    with _ledger() as ledger:
        directory = LogDirectory(ledger)
        if by is None:
            admins = directory.ask(
                lambda s: [i for i, p in s.people.items() if p.active and p.role == "admin"]
            )
            if len(admins) != 1:
                errors.print(
                    f"[red]There are {len(admins)} admins: name the importing person with "
                    "--by EMAIL.[/red]"
                )
                raise typer.Exit(1)
            importer_id = admins[0]
        else:
            importer = ledger.find_person_by_email(by.strip().lower())
            if importer is None or not importer.active:
                errors.print(f"[red]No active person with e-mail {by}.[/red]")
                raise typer.Exit(1)
            importer_id = importer.id
        names = directory.ask(Names.of)
        try:
            report = run_import(
                ledger,
                names,
                importer_id,
                request,
                max_bytes=limit,
            )
        except ImportRefused as refusal:
            if refusal.report is not None:
                _print_import(refusal.report.as_dict())
            errors.print(f"[red]Nothing was imported: {len(refusal.problems)} problem(s).[/red]")
            for problem in refusal.problems:
                where = f"{problem.sheet} row {problem.row}" if problem.row else problem.sheet
                errors.print(
                    f"  {where or 'file'}: {problem.message} ({problem.rule})",
                    soft_wrap=True,
                    markup=False,
                )
            raise typer.Exit(1) from None
    _print_import(report.as_dict())
    if dry_run:
        console.print("Dry run: nothing was written.")
    else:
        console.print(
            f"Imported: {report.events_written} events written (position {report.position}).",
            soft_wrap=True,
        )


def _print_import(report: dict[str, object]) -> None:
    for bucket in ("created", "changed", "skipped", "dropped", "errors"):
        lines = report[bucket]
        assert isinstance(lines, list)
        if not lines:
            continue
        table = Table(title=f"{bucket} ({len(lines)})", title_justify="left")
        for column in ("sheet", "row", "what", "detail"):
            table.add_column(column)
        for line in lines:
            what = line.get("kind") or line.get("rule") or ""
            key = line.get("key") or line.get("column") or ""
            cells = (
                str(line.get("sheet") or ""),
                str(line.get("row") or ""),
                f"{what} {key}".strip(),
                str(line.get("detail") or line.get("message") or ""),
            )
            table.add_row(*(escape(cell) for cell in cells))  # file content is not markup
        console.print(table)
