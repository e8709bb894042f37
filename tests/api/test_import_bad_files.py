"""Bad files get a clear RFC 9457 problem naming the row and the rule, and write nothing."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from openpyxl import Workbook

from api.imports.records import FIELDS, SHEETS
from domain.application import OkrLedger
from tests.api.conftest import API
from tests.api.test_import import admin_headers

TODAY = date.today()
START = TODAY - timedelta(days=40)
END = TODAY + timedelta(days=50)


def workbook(**rows: list[list[Any]]) -> Workbook:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for sheet_name, kind in SHEETS.items():
        sheet = book.create_sheet(sheet_name)
        sheet.append(list(FIELDS[kind]))
        for row in rows.get(sheet_name, []):
            sheet.append(row)
    return book


def xlsx(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def base(**extra: list[list[Any]]) -> dict[str, list[list[Any]]]:
    rows: dict[str, list[list[Any]]] = {
        "cycles": [["Now", START, END]],
        "people": [["ada@acme.example", "Ada"]],
        "objectives": [["O-1", "Now", "Ship it", "", "committed", "ada@acme.example"]],
        "key_results": [["KR-1", "O-1", "Users", "metric", 0, 100]],
        "check_ins": [["KR-1", START + timedelta(days=3), 10, 6, "first"]],
    }
    rows.update(extra)
    return rows


@pytest.fixture
def upload(client: Any, ledger: OkrLedger) -> Any:
    _, headers = admin_headers(ledger)

    def post(name: str, content: bytes, **form: Any) -> Any:
        before = ledger.recorder.max_notification_id()
        response = client.post(
            f"{API}/imports", files={"file": (name, content)}, data=form, headers=headers
        )
        if response.status_code != 200:
            assert ledger.recorder.max_notification_id() == before, "nothing half-written"
            assert response.headers["content-type"].startswith("application/problem+json")
        return response

    return post


def rules(response: Any) -> set[tuple[str, int | None]]:
    return {(e["rule"], e["row"]) for e in response.json()["errors"]}


def test_a_good_file_imports(upload: Any) -> None:
    response = upload("ok.xlsx", xlsx(workbook(**base())))
    assert response.status_code == 200, response.text
    assert response.json()["written"] is True


def test_wrong_type_and_broken_xlsx(upload: Any) -> None:
    pdf = upload("report.pdf", b"%PDF-1.7 ...")
    assert pdf.status_code == 422 and pdf.json()["rule"] == "file_type"
    broken = upload("okrs.xlsx", b"PK\x03\x04" + b"\x00garbage" * 100)
    assert broken.status_code == 422 and broken.json()["rule"] == "xlsx_broken"
    binary = upload("okrs.csv", bytes(range(256)) * 10)
    assert binary.status_code == 422 and binary.json()["rule"] == "file_type"


def test_a_file_over_the_limit_is_refused_unread(upload: Any) -> None:
    garbage = b"x" * (10 * 1024 * 1024 + 1)
    response = upload("big.csv", garbage)
    assert response.status_code == 413
    assert response.json()["rule"] == "file_too_large"


def test_a_workbook_that_unpacks_to_too_much_is_refused_unread(upload: Any) -> None:
    import zipfile

    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member,
    ):
        for _ in range(300):  # 300 MiB of zeros: about 300 KiB packed
            member.write(b"\x00" * (1024 * 1024))
    response = upload("bomb.xlsx", out.getvalue())
    assert response.status_code == 413
    assert response.json()["rule"] == "xlsx_too_large"


def test_formulas_are_refused_cell_by_cell(upload: Any) -> None:
    book = workbook(**base(check_ins=[["KR-1", START + timedelta(days=3), "=2*5", 6, ""]]))
    response = upload("okrs.xlsx", xlsx(book))
    assert response.status_code == 422
    assert rules(response) == {("formula_not_allowed", 2)}
    assert response.json()["errors"][0]["column"] == "C"


def test_csv_with_bom_semicolons_and_several_date_formats(upload: Any) -> None:
    day = START + timedelta(days=3)
    lines = [
        "record;external_id;name;starts_on;ends_on;email;cycle;title;owner_email;objective;"
        "measure;baseline;target;key_result;effective_on;value;confidence",
        f"cycle;;Now;{START.strftime('%d.%m.%Y')};{END.isoformat()};;;;;;;;;;;;",
        "person;;Ada;;;ada@acme.example;;;;;;;;;;;",
        "objective;O-1;;;;;Now;Ship it;ada@acme.example;;;;;;;;",
        "key_result;KR-1;;;;;;Users;;O-1;metric;0;100,5;;;;",
        f"check_in;;;;;;;;;;;;;KR-1;{day.strftime('%Y/%m/%d')};10,5;6",
    ]
    content = "\ufeff".encode() + "\r\n".join(lines).encode()
    response = upload("okrs.csv", content, dry_run="true")
    assert response.status_code == 200, response.text
    kinds = sorted(line["kind"] for line in response.json()["created"])
    assert kinds == ["check_in", "cycle", "key_result", "objective", "person"]


def test_an_ambiguous_date_names_its_row(upload: Any) -> None:
    book = workbook(**base(check_ins=[["KR-1", "04/05/2026", 10, 6, ""]]))
    response = upload("okrs.xlsx", xlsx(book))
    assert response.status_code == 422
    assert rules(response) == {("date_ambiguous", 2)}


def test_duplicate_external_ids_and_parent_cycles(upload: Any) -> None:
    book = workbook(
        **base(
            objectives=[
                ["O-1", "Now", "Ship it", "", "committed", "ada@acme.example", None, "O-2"],
                ["O-2", "Now", "Run it", "", "committed", "ada@acme.example", None, "O-1"],
                ["O-2", "Now", "Again", "", "committed", "ada@acme.example"],
            ],
            key_results=[["KR-1", "O-1", "Users", "metric", 0, 100], ["KR-2", "O-2", "X"]],
        )
    )
    response = upload("okrs.xlsx", xlsx(book))
    assert response.status_code == 422
    assert {("duplicate_external_id", 4), ("parent_cycle", 2), ("parent_cycle", 3)} <= rules(
        response
    )


def test_an_unknown_owner_is_an_error_unless_a_fallback_owner_is_given(upload: Any) -> None:
    rows = base(objectives=[["O-1", "Now", "Ship it", "", "committed", "who@acme.example"]])
    refused = upload("okrs.xlsx", xlsx(workbook(**rows)))
    assert refused.status_code == 422
    assert rules(refused) == {("owner_not_found", 2)}
    assert refused.json()["errors"][0]["column"] == "owner_email"
    taken = upload("okrs.xlsx", xlsx(workbook(**rows)), fallback_owner="ida@acme.example")
    assert taken.status_code == 200, taken.text


def test_a_domain_rule_on_one_row_writes_nothing_of_the_file(upload: Any) -> None:
    future = TODAY + timedelta(days=5)
    late = START - timedelta(days=3)
    book = workbook(
        **base(
            check_ins=[
                ["KR-1", START + timedelta(days=3), 10, 6, ""],
                ["KR-1", future, 20, 6, ""],
                ["KR-1", START + timedelta(days=10), 20, 11, ""],
                ["KR-1", late, 20, 6, ""],
            ]
        )
    )
    response = upload("okrs.xlsx", xlsx(book))
    assert response.status_code == 422
    assert rules(response) == {
        ("effective_date_in_future", 3),
        ("confidence_out_of_range", 4),
        ("effective_date_outside_cycle", 5),
    }


def test_unknown_columns_are_reported_as_dropped(upload: Any) -> None:
    book = workbook(**base())
    book["objectives"].cell(row=1, column=12, value="Colour")
    book["objectives"].cell(row=2, column=12, value="blue")
    response = upload("okrs.xlsx", xlsx(book), dry_run="true")
    assert response.status_code == 200, response.text
    dropped = response.json()["dropped"]
    assert [(d["rule"], d["column"]) for d in dropped] == [("column_unknown", "Colour")]


@pytest.mark.parametrize("role", ["member", "manager", "auditor"])
def test_only_admins_import(client: Any, ledger: OkrLedger, role: str) -> None:
    from domain.access import Role
    from domain.base import CommandContext

    ctx = CommandContext.system()
    person = ledger.register_person("Max", "max@acme.example", ctx).id
    secret, _ = ledger.issue_token(person, Role(role), ctx)
    response = client.post(
        f"{API}/imports",
        files={"file": ("okrs.xlsx", xlsx(workbook(**base())))},
        data={"dry_run": "true"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 403
    assert response.json()["rule"] == "admin_only"
    anonymous = client.post(f"{API}/imports", files={"file": ("okrs.xlsx", b"x")})
    assert anonymous.status_code == 401
