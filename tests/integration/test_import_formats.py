"""The Viva Goals export and the generic CSV with a TOML mapping, imported on a real PostgreSQL:
what each maps, what it reports as dropped, and that a second import writes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

import psycopg
import pytest

from api.directory import LogDirectory
from api.imports.plan import Names, external_uuid
from api.usecases.imports import ImportRefused, ImportReport, ImportRequest, run_import
from domain.application import OkrLedger
from domain.base import CommandContext
from infra.chain import ChainReader, verify_chain

START = date.today() - timedelta(days=60)
END = START + timedelta(days=90)


@pytest.fixture
def importer(ledger: OkrLedger) -> UUID:
    ctx = CommandContext.system()
    ledger.register_person("Ada", "ada@acme.example", ctx)
    return ledger.register_person("Ida", "ida@acme.example", ctx).id


def run(ledger: OkrLedger, importer: UUID, request: ImportRequest) -> ImportReport:
    return run_import(ledger, LogDirectory(ledger).ask(Names.of), importer, request)


VIVA = "\n".join(
    [
        "Id,Type,Title,Description,Parent Id,Owner Email,Time Period,Start Date,End Date,"
        "Start Value,Target,Current Value,Metric Unit,Last Check-in Date,Status,Tags",
        f"a1,Objective,Win the market,Big,,ada@acme.example,FY Q,{START},{END},,,,,,On track,x",
        f"a2,Key Result,Reach 100 customers,,a1,ada@acme.example,FY Q,{START},{END},10,100,42,"
        f"customers,{START + timedelta(days=20)},At risk,",
        f"a3,Project,Build the funnel,,a2,ada@acme.example,FY Q,{START},{END},,,,,,,",
    ]
)


def test_a_viva_goals_export_maps_objectives_key_results_and_the_latest_value(
    ledger: OkrLedger, importer: UUID, database_url: str
) -> None:
    request = ImportRequest("viva.csv", VIVA.encode(), "viva-goals")
    before = ledger.recorder.max_notification_id()
    report = run(ledger, importer, request)
    assert report.written
    created = {(line.kind, line.key) for line in report.plan.created}
    assert created == {
        ("cycle", "FY Q"),
        ("objective", "a1"),
        ("key_result", "a2"),
        ("check_in", f"a2@{START + timedelta(days=20)}"),
    }
    dropped = {(p.rule, p.column) for p in report.plan.dropped}
    assert ("column_unknown", "Status") in dropped and ("column_unknown", "Tags") in dropped
    assert ("row_type_unsupported", "Type") in dropped  # the project row
    objective = ledger.get_objective(external_uuid("objective", "a1"))
    (kr,) = objective.active_key_results
    assert (kr.baseline, kr.target, kr.unit) == (10.0, 100.0, "customers")
    assert kr.current is not None and kr.current.value == 42.0
    assert run(ledger, importer, request).plan.created == []

    # Every event of the import is flagged imported in the chain, and the chain verifies.
    chain = ChainReader.for_recorder(ledger.recorder)
    with psycopg.connect(database_url) as conn:
        flags = conn.execute(
            f"SELECT imported FROM {ledger.recorder.chain_table_name} WHERE position > %s",
            (before,),
        ).fetchall()
    assert len(flags) == report.events_written and all(flag for (flag,) in flags)
    assert verify_chain(chain).ok


MAPPING = b"""
[columns]
objective_external_id = "Goal code"
objective_title = "Goal"
external_id = "KR code"
title = "Key result"
owner_email = "Owner"
cycle = "Quarter"
cycle_starts_on = "From"
cycle_ends_on = "To"
target = "Target"
effective_on = "Date"
value = "Value"

[defaults]
baseline = "0"
"""


def generic_csv(values: list[float]) -> bytes:
    lines = ["Goal code;Goal;KR code;Key result;Owner;Quarter;From;To;Target;Date;Value;Comment"]
    for week, value in enumerate(values):
        day = START + timedelta(days=7 * week)
        lines.append(
            f"G1;Grow;K1;Signups;ada@acme.example;Q;{START:%d.%m.%Y};{END:%d.%m.%Y};1000;"
            f"{day.isoformat()};{value};hi"
        )
    return "\n".join(lines).encode()


def test_a_generic_csv_with_a_mapping_imports_a_history(ledger: OkrLedger, importer: UUID) -> None:
    request = ImportRequest("kpis.csv", generic_csv([100, 250, 400]), "generic", MAPPING)
    report = run(ledger, importer, request)
    assert report.written
    check_ins = [line for line in report.plan.created if line.kind == "check_in"]
    assert [line.row for line in check_ins] == [2, 3, 4]
    assert {(p.rule, p.column) for p in report.plan.dropped} == {("column_unknown", "Comment")}
    objective = ledger.get_objective(external_uuid("objective", "G1"))
    (kr,) = objective.active_key_results
    assert [c.value for c in kr.check_ins] == [100.0, 250.0, 400.0]

    # A later export of the same sheet: one more week, one corrected value.
    later = ImportRequest("kpis.csv", generic_csv([100, 260, 400, 550]), "generic", MAPPING)
    second = run(ledger, importer, later)
    assert [(line.kind, line.row) for line in second.plan.created] == [("check_in", 5)]
    assert [(line.kind, line.row) for line in second.plan.changed] == [("check_in", 3)]


def test_a_mapping_naming_an_unknown_field_or_column_is_refused(
    ledger: OkrLedger, importer: UUID
) -> None:
    bad = ImportRequest("kpis.csv", generic_csv([1]), "generic", b'[columns]\ncolour = "Goal"\n')
    with pytest.raises(ImportRefused) as refused:
        run(ledger, importer, bad)
    assert refused.value.problems[0].rule == "mapping_field_unknown"
    missing = ImportRequest("kpis.csv", generic_csv([1]), "generic", b'[columns]\ntitle = "Nope"\n')
    with pytest.raises(ImportRefused) as refused:
        run(ledger, importer, missing)
    assert refused.value.problems[0].rule == "column_missing"
    with pytest.raises(ImportRefused) as refused:
        run(ledger, importer, ImportRequest("kpis.csv", generic_csv([1]), "generic"))
    assert refused.value.problems[0].rule == "mapping_required"


def okrledger_csv(title: str, target: float, extra_kr: bool = False) -> bytes:
    lines = [
        "record,name,starts_on,ends_on,external_id,cycle,title,owner_email,objective,baseline,target",
        f"cycle,Q,{START},{END},,,,,,,",
        f"objective,,,,O-1,Q,{title},ada@acme.example,,,",
        f"key_result,,,,KR-1,,Users,,O-1,0,{target}",
    ]
    if extra_kr:
        lines.append("key_result,,,,KR-2,,Revenue,,O-1,0,50")
    return "\n".join(lines).encode()


def test_a_changed_row_becomes_an_amendment_with_the_reason_import(
    ledger: OkrLedger, importer: UUID
) -> None:
    first = run(ledger, importer, ImportRequest("o.csv", okrledger_csv("Grow", 100)))
    assert first.written
    changed = run(
        ledger, importer, ImportRequest("o.csv", okrledger_csv("Grow faster", 120, extra_kr=True))
    )
    assert changed.written
    assert {(line.kind, line.key) for line in changed.plan.changed} == {
        ("objective", "O-1"),
        ("key_result", "KR-1"),
        ("key_result", "KR-2"),
    }
    objective = ledger.get_objective(external_uuid("objective", "O-1"))
    amendment = objective.pending_amendment
    assert amendment is not None and amendment.reason == "import"
    assert amendment.changes["title"] == "Grow faster"
    (kr,) = objective.active_key_results
    assert kr.target == 100.0  # proposed, not overwritten
    assert [k["title"] for k in amendment.changes["add_key_results"]] == ["Revenue"]

    # While the amendment waits for its approver, the same file writes nothing more.
    waiting = run(
        ledger, importer, ImportRequest("o.csv", okrledger_csv("Grow faster", 120, extra_kr=True))
    )
    assert not waiting.written and waiting.plan.changed == []
    assert any("awaits a decision" in line.detail for line in waiting.plan.skipped)


def test_an_unmappable_value_in_an_export_is_dropped_and_the_fallback_owner_owns_it(
    ledger: OkrLedger, importer: UUID
) -> None:
    export = "\n".join(
        [
            "Id,Type,Title,Parent Id,Owner,Time Period,Start Date,End Date,Metric Type,Target,"
            "Start Value",
            f"b1,Objective,Be loved,,Ada Lovelace,P,{START},{END},,,",
            f"b2,Key Result,NPS,b1,Ada Lovelace,P,{START},{END},Net promoter,60,20",
        ]
    ).encode()
    with pytest.raises(ImportRefused) as refused:
        run(ledger, importer, ImportRequest("viva.csv", export, "viva-goals"))
    assert [(p.rule, p.row) for p in refused.value.problems] == [("owner_required", 2)]
    request = ImportRequest(
        "viva.csv", export, "viva-goals", fallback_owner="ada@acme.example", dry_run=True
    )
    report = run(ledger, importer, request)
    dropped = {(p.rule, p.row, p.column) for p in report.plan.dropped}
    assert {
        ("email_invalid", 2, "owner_email"),
        ("value_not_allowed", 3, "measure"),
    } <= dropped
    assert {(line.kind, line.key) for line in report.plan.created} >= {
        ("objective", "b1"),
        ("key_result", "b2"),
    }


def test_next_quarters_plan_is_imported_into_a_cycle_in_planning(
    ledger: OkrLedger, importer: UUID
) -> None:
    starts = date.today() + timedelta(days=20)
    content = "\n".join(
        [
            "record,name,starts_on,ends_on,external_id,cycle,title,owner_email,objective,"
            "baseline,target",
            f"cycle,Next,{starts},{starts + timedelta(days=90)},,,,,,,",
            "objective,,,,N-1,Next,Plan ahead,ada@acme.example,,,",
            "key_result,,,,N-KR-1,,Users,,N-1,0,10",
        ]
    ).encode()
    report = run(ledger, importer, ImportRequest("next.csv", content))
    assert report.written
    objective = ledger.get_objective(external_uuid("objective", "N-1"))
    assert ledger.get_cycle(objective.cycle_id).phase.value == "planning"
    assert objective.status.value == "approved"


def test_an_explorer_export_with_the_columns_viva_goals_writes(
    ledger: OkrLedger, importer: UUID
) -> None:
    """The header of a real Explorer export (CSV): the parent's id inside `Aligned To (weight,
    Objective ID)`, the kind in `Goal Type`, owners by name, the value in `Checkins`."""
    first, last = START + timedelta(days=10), START + timedelta(days=24)
    checkins = (
        f"Checkin Date: {first}; User: Ada Lovelace; Note: slow start; Metric Name: Customers; "
        f"Status: Behind; Current Value: 30; Activity Date: {first} 09:12:00 UTC; "
        f"Checkin Date: {last}; User: Ada Lovelace; Note: the fair helped; Metric Name: "
        f"Customers; Status: On Track; Current Value: 42; Activity Date: {last} 16:40:00 UTC;"
    )
    header = (
        'Id,Title,Tag,Team,Creator,Owner,Period,Start Date,End Date,Description,"Aligned To '
        '(weight, Objective ID)",Metric Name,Unit,Target,Object Type,Goal Type,Start,Created At,'
        "Last Check-in,Progress %,Actual Progress,Status,Last Check-in Note,Score,Checkins"
    )
    export = "\n".join(
        [
            header,
            f"2295704,Win the market,,Sales,Ada Lovelace,Ada Lovelace,Q 2026,{START},{END},Big,,"
            f"Progress,%,100,Objective,Aspirational Goal,0,{START} 08:00:00 UTC,{last},36,36,"
            "On Track,,,",
            f"2325365,Reach 100 customers,,Sales,Ada Lovelace,Ada Lovelace,Q 2026,{START},{END},,"
            f'"Win the market(weight: 100%, Id: 2295704)",Customers,customers,100,Key result,'
            f"Committed Goal,10,{START} 08:05:00 UTC,{last},36,36,On Track,the fair helped,,"
            f'"{checkins}"',
            f"2330001,Run the fair,,Sales,Ada Lovelace,Ada Lovelace,Q 2026,{START},{END},,"
            f'"Reach 100 customers(weight: 0%, Id: 2325365)",,,,Deliverable,,,,,,,,,,',
        ]
    ).encode()
    request = ImportRequest("explorer.csv", export, "viva-goals", fallback_owner="ada@acme.example")
    report = run(ledger, importer, request)
    assert report.written
    assert {(line.kind, line.key) for line in report.plan.created} == {
        ("cycle", "Q 2026"),
        ("objective", "2295704"),
        ("key_result", "2325365"),
        ("check_in", f"2325365@{last}"),
    }
    dropped = {(p.rule, p.column) for p in report.plan.dropped}
    for column in ("Status", "Progress %", "Actual Progress", "Score", "Creator", "Tag"):
        assert ("column_unknown", column) in dropped, column
    assert ("row_type_unsupported", "Object Type") in dropped  # the deliverable
    assert ("email_invalid", "owner_email") in dropped  # owners are names: the fallback owns
    objective = ledger.get_objective(external_uuid("objective", "2295704"))
    assert objective.kind.value == "aspirational"
    (kr,) = objective.active_key_results
    assert (kr.baseline, kr.target, kr.unit) == (10.0, 100.0, "customers")
    assert kr.current is not None
    assert (kr.current.value, kr.current.effective_on, kr.current.note) == (
        42.0,
        last,
        "the fair helped",
    )
