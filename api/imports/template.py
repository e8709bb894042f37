"""The okrledger import template: an empty workbook with one sheet per record kind and a sheet
of instructions (`okr import --template FILE.xlsx`)."""

from __future__ import annotations

from pathlib import Path

from api.imports.records import FIELDS, SHEETS

INSTRUCTIONS = [
    ("okrledger import template", ""),
    ("", ""),
    ("sheet", "what a row is"),
    (
        "cycles",
        "a cycle: name, starts_on, ends_on (YYYY-MM-DD), cadence (weekly|biweekly|monthly), "
        "scoring (yes_no|scale). A cycle of the same name that exists is used as it is.",
    ),
    ("teams", "a team: name, parent (a team's name), manager_email. Found by name if it exists."),
    ("people", "a person: email, name. Found by e-mail if registered."),
    (
        "objectives",
        "an objective: external_id (yours, unique), cycle (a name), title, "
        "description, kind (committed|aspirational), owner_email or owner_team, "
        "parent_external_id (an objective's or a key result's external id).",
    ),
    (
        "key_results",
        "a key result: external_id, objective (its objective's external_id), title, "
        "measure (metric|milestone), baseline, target, unit, direction "
        "(increase|decrease|at_least|at_most), weight.",
    ),
    (
        "check_ins",
        "a check-in: key_result (external_id), effective_on (the date the value is "
        "true for), value, confidence (0-10; 5 when empty), note.",
    ),
    ("", ""),
    (
        "rules",
        "Values only: a cell with a formula is refused. Dates as YYYY-MM-DD (31.03.2026 "
        "and unambiguous day/month orders are read too). Importing the same file again writes "
        "nothing; a changed row becomes an amendment or a correction with the reason 'import'. "
        "Try it first: okr import FILE --dry-run. See docs/import.md.",
    ),
]


def write_template(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    instructions = workbook.active
    assert instructions is not None
    instructions.title = "instructions"
    for row in INSTRUCTIONS:
        instructions.append(list(row))
    instructions["A1"].font = Font(bold=True, size=14)
    instructions.column_dimensions["A"].width = 14
    instructions.column_dimensions["B"].width = 120
    for sheet_name, kind in SHEETS.items():
        sheet = workbook.create_sheet(sheet_name)
        sheet.append(list(FIELDS[kind]))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
    workbook.save(path)
