"""``okr audit …`` and ``okr person forget``: the auditor's and the data-protection commands.

Mounted on the ``okr`` app by ``api/cli.py``; the work is done in ``infra.audit``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from api.cli_support import AuditedReason, console, errors, refused, registered
from api.cli_support import open_ledger as _ledger
from api.errors import ApiError
from api.usecases.identity import command_line
from domain.errors import OkrError
from infra.audit.checkpoints import ChainTamperedError, Checkpoint, checkpointer_for
from infra.audit.export import ExportError, export_bundle, load_checkpoints
from infra.audit.keys import (
    SigningKeyError,
    key_id,
    public_key_pem,
    require_signing_key,
    write_new_signing_key,
)
from infra.audit.personal import PersonalDataError
from infra.audit.standalone import format_time
from infra.audit.verify import (
    AuditReport,
    PositionBeyondLog,
    PublishedHead,
    audit_verify,
    parse_chain_hash,
    verify_answer,
)
from infra.settings import get_settings

audit_app = typer.Typer(
    help="The tamper-evident audit trail: verify, sign, export.", no_args_is_help=True
)
person_app = typer.Typer(help="People and their personal data.", no_args_is_help=True)


def _instant(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"'{value}' is not an RFC 3339 instant", param_hint=option
        ) from None
    if instant.tzinfo is None:
        raise typer.BadParameter("give a time zone (e.g. Z or +02:00)", param_hint=option)
    return instant


# ---------------------------------------------------------------------------- verify


@audit_app.command("verify")
def verify(
    from_position: Annotated[
        int | None, typer.Option("--from", help="First position to verify.")
    ] = None,
    to_position: Annotated[
        int | None, typer.Option("--to", help="Last position to verify.")
    ] = None,
    head: Annotated[
        list[str] | None,
        typer.Option(help="A head published elsewhere, POSITION:HASH (repeatable)."),
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="Published checkpoints (okr audit checkpoint --json lines)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    position: Annotated[
        int | None,
        typer.Option(
            "--position",
            min=0,
            help="A saved answer's OKR-Position: verify the chain up to it (with --hash).",
        ),
    ] = None,
    chain_hash: Annotated[
        str | None,
        typer.Option(
            "--hash",
            help="The saved answer's OKR-Chain-Hash: exit 1 unless the chain's hash at "
            "--position is this one.",
        ),
    ] = None,
) -> None:
    """Recompute the hash chain and check it against the signed checkpoints; exit 1 on failure.

    With --position and --hash: whether the log up to that position is still the one that
    gave an answer stating them (its OKR-Position and OKR-Chain-Hash headers)."""
    given = _answer_options(position, chain_hash, from_position, to_position, head, checkpoints)
    try:
        published: list[Checkpoint | PublishedHead] = [PublishedHead.parse(h) for h in head or ()]
        if checkpoints is not None:
            published += load_checkpoints(checkpoints)
    except (ValueError, KeyError, OSError) as error:
        raise typer.BadParameter(str(error)) from None
    with _ledger() as ledger:
        try:
            if position is not None:
                report = verify_answer(ledger, position, given, settings=get_settings())
            else:
                report = audit_verify(
                    ledger,
                    from_position=from_position,
                    to_position=to_position,
                    published=published,
                    settings=get_settings(),
                )
        except SigningKeyError as error:
            errors.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
        except PositionBeyondLog as error:
            raise typer.BadParameter(str(error), param_hint="--position") from None
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _answer_options(
    position: int | None,
    chain_hash: str | None,
    from_position: int | None,
    to_position: int | None,
    head: list[str] | None,
    checkpoints: Path | None,
) -> bytes | None:
    """The --hash given (parsed), after checking the options go together."""
    if position is None:
        if chain_hash is not None:
            raise typer.BadParameter(
                "--hash is checked at a --position: give both", param_hint="--hash"
            )
        return None
    if from_position is not None or to_position is not None or head or checkpoints is not None:
        raise typer.BadParameter(
            "--position checks a saved answer: not with --from, --to, --head or --checkpoints",
            param_hint="--position",
        )
    if chain_hash is None:
        return None
    try:
        return parse_chain_hash(chain_hash)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--hash") from None


def _print_report(report: AuditReport) -> None:
    chain = report.chain
    checked = report.answer
    if checked is not None:
        stored = checked.stored.hex()
        if checked.matches is None:
            console.print(f"chain hash at position {checked.position}: {stored}")
        elif checked.matches:
            console.print(
                f"[green]MATCH[/green]: the chain's hash at position {checked.position} "
                f"is the answer's ({stored})"
            )
        else:
            assert checked.given is not None
            console.print(
                f"[red]MISMATCH[/red]: the chain's hash at position {checked.position} is "
                f"{stored}, the answer stated {checked.given.hex()}"
            )
    if report.ok:
        head = chain.head_hash.hex() if chain.head_hash else "—"
        console.print(f"[green]OK[/green]: {chain.count:,} events verified")
        console.print(f"head: position {chain.head_position}, hash {head}")
    else:
        console.print("[red]FAILED[/red]")
        for problem in report.problems:
            console.print(f"  {problem.problem} at position {problem.position}: {problem.detail}")
        console.print(f"{chain.count:,} events verified before the chain's first problem")
    latest = report.latest_checkpoint
    console.print(f"signed checkpoints checked: {report.checkpoints_checked}")
    if latest is not None:
        console.print(
            f"latest signed checkpoint: position {latest.position}, "
            f"{format_time(latest.signed_at)} ({latest.reason}), key {latest.key_id}"
        )
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}")


# ------------------------------------------------------------------- keys and checkpoints


@audit_app.command("init-key")
def init_key(
    force: Annotated[bool, typer.Option(help="Replace an existing key.")] = False,
) -> None:
    """Create the Ed25519 key that signs chain checkpoints (OKR_AUDIT_SIGNING_KEY_FILE)."""
    settings = get_settings()
    if settings.audit_signing_key is not None:
        errors.print("[red]OKR_AUDIT_SIGNING_KEY is set: the key comes from configuration[/red]")
        raise typer.Exit(1)
    path = settings.signing_key_file
    with refused(SigningKeyError):
        key = write_new_signing_key(path, force=force)
    public = key.public_key()
    console.print(f"wrote the private key to {path} (keep it out of the database's backups)")
    console.print(f"key id: {key_id(public)}")
    print(public_key_pem(public).decode().strip())


@audit_app.command("checkpoint")
def checkpoint(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line only.")] = False,
) -> None:
    """Sign the checkpoints due, then the chain's head, and print it for publication."""
    settings = get_settings()
    with _ledger() as ledger, refused(SigningKeyError, ChainTamperedError):
        require_signing_key(settings)
        checkpointer = checkpointer_for(ledger.recorder, settings)
        due = checkpointer.catch_up()
        signed = checkpointer.sign_head("published")
    if signed is None:
        errors.print("[yellow]The log is empty: nothing to sign.[/yellow]")
        raise typer.Exit(1)
    line = json.dumps(signed.as_json(), separators=(",", ":"))
    if as_json:
        print(line)
        return
    if due:
        console.print(f"signed {len(due)} checkpoint(s) that were due")
    console.print("okrledger chain checkpoint — publish it where the database cannot reach")
    for label, value in (
        ("log", signed.log),
        ("position", signed.position),
        ("hash", signed.hash.hex()),
        ("signed at", format_time(signed.signed_at)),
        ("key id", signed.key_id),
    ):
        console.print(f"  {label:<10} {value}")
    print(line)


# ---------------------------------------------------------------------------- export


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="An empty or new directory for the bundle.")],
    cycle: Annotated[
        UUID | None, typer.Option(help="Export one cycle: its start to its close.")
    ] = None,
    from_time: Annotated[
        str | None, typer.Option("--from", help="Events committed at or after (RFC 3339).")
    ] = None,
    to_time: Annotated[
        str | None, typer.Option("--to", help="Events committed at or before (RFC 3339).")
    ] = None,
) -> None:
    """Write an audit bundle an outside auditor verifies with its own verify.py."""
    start, end = _instant(from_time, "--from"), _instant(to_time, "--to")
    with _ledger() as ledger, refused(ExportError, ChainTamperedError, SigningKeyError, OkrError):
        summary = export_bundle(
            ledger, out, cycle_id=cycle, from_time=start, to_time=end, settings=get_settings()
        )
    span = f"positions {summary.first_position}..{summary.head_position}" if summary.count else "—"
    console.print(f"exported {summary.count:,} events ({span}) to {summary.out}")
    console.print(f"range: {summary.description}")
    console.print(f"head hash: {summary.head_hash}")
    console.print(f"signed checkpoints: {summary.checkpoints}; key id: {summary.key_id}")
    if summary.key_id is None:
        console.print("[yellow]unsigned: no audit key configured (okr audit init-key)[/yellow]")
    if not summary.report.ok:
        for finding in summary.report.problems:
            errors.print(
                f"[red]the bundle does not verify:[/red] {finding.problem}: {finding.detail}"
            )
        raise typer.Exit(1)
    # Plain print: a command to copy must not be wrapped.
    print(
        f"verify with: python3 {summary.out / 'verify.py'} {summary.out} --key-id {summary.key_id}"
    )


# ---------------------------------------------------------------------------- people


@person_app.command("forget")
def forget(
    email: Annotated[str, typer.Argument(help="The person's e-mail address.")],
    reason: AuditedReason,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a person's name and e-mail for good: they become "forgotten person #N"."""
    if not yes:
        typer.confirm(f"Erase the personal data of {email}? This cannot be undone", abort=True)
    with _ledger() as ledger, refused(OkrError, PersonalDataError, ApiError):
        done = command_line(ledger).forget(email, reason)
    console.print(
        f"forgot person {done.person_id}: now 'forgotten person #{done.number}' "
        f"(recorded at position {done.position})"
    )


@person_app.command("change-email")
def change_email(
    email: Annotated[str, typer.Argument(help="The person's e-mail address now.")],
    new_email: Annotated[str, typer.Argument(help="Their new e-mail address.")],
    reason: AuditedReason,
) -> None:
    """Give a person a new e-mail: the same person (id, tokens, history), a new address."""
    with _ledger() as ledger:
        people = command_line(ledger)
        with refused(OkrError, ApiError):
            person = registered(people, email)
            done = people.change_email(person.id, new_email, reason)
    console.print(f"person {person.id} now has the e-mail {new_email} (position {done.position})")
