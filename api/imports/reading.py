"""Reading an uploaded file into sheets of rows: CSV (any UTF-8, with or without a BOM, `,` `;`
or tab separated) or XLSX (openpyxl, read-only). Nothing here knows what the columns mean.

Every problem is a `Problem` naming the sheet, the row and the rule; the caller reports them all.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

CellValue = str | float | int | bool | date | datetime | None


@dataclass(frozen=True)
class Problem:
    """Why (part of) a file cannot be imported, precise enough to fix it."""

    rule: str
    message: str
    sheet: str = ""
    row: int | None = None
    column: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FileRefused(Exception):
    """The file cannot be read at all (wrong type, broken, too big)."""

    def __init__(self, problems: list[Problem], status: int = 422) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
        self.status = status


@dataclass
class Row:
    number: int
    """The row number a spreadsheet shows (the header is row 1)."""
    cells: list[CellValue]
    """The cells in the sheet's column order (text trimmed, an empty cell None; a column
    without a header None); no longer than the headers, maybe shorter."""
    headers: list[str] = field(repr=False, compare=False)
    """The sheet's headers (shared by its rows)."""

    @cached_property
    def values(self) -> dict[str, CellValue]:
        """Header → cell, for the non-empty headers (a repeated header: its last column)."""
        return {
            header: cell for header, cell in zip(self.headers, self.cells, strict=False) if header
        }


@dataclass
class Sheet:
    name: str
    headers: list[str]
    rows: list[Row] = field(default_factory=list)


XLSX_MAGIC = b"PK\x03\x04"
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
"""An XLSX is a ZIP archive: one that unpacks to more than this is refused unread (a small
upload must not expand to gigabytes in memory)."""


def read_file(name: str, content: bytes) -> list[Sheet]:
    """The sheets of an uploaded file: XLSX by its ZIP signature or name, CSV otherwise."""
    lower = name.lower()
    if content.startswith(XLSX_MAGIC) or lower.endswith((".xlsx", ".xlsm")):
        return read_xlsx(content)
    if lower.endswith((".xls", ".ods", ".numbers", ".pdf", ".json", ".zip")):
        raise FileRefused(
            [Problem("file_type", f"'{name}' is not a CSV or XLSX file (save it as .xlsx or .csv)")]
        )
    return [read_csv(content)]


def read_csv(content: bytes) -> Sheet:
    if b"\x00" in content[:65536]:
        raise FileRefused([Problem("file_type", "the file is binary, not CSV text")])
    try:
        text = content.decode("utf-8-sig")  # drops a byte-order mark (Excel writes one)
    except UnicodeDecodeError as error:
        raise FileRefused(
            [
                Problem(
                    "encoding",
                    f"the CSV is not UTF-8 (byte {error.start}); save it as 'CSV UTF-8'",
                )
            ]
        ) from None
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        lines = list(reader)
    except csv.Error as error:
        raise FileRefused([Problem("csv_invalid", f"the CSV cannot be parsed: {error}")]) from None
    return _sheet("csv", lines)


def read_xlsx(content: bytes) -> list[Sheet]:
    """Every sheet of a workbook. Formulas are refused, not evaluated: a cached result may be
    stale or missing (a file written by a program that never calculated it), and an import
    records facts; the problem names each cell so its values can be pasted instead."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as error:
        raise FileRefused(
            [Problem("xlsx_broken", f"the XLSX workbook cannot be opened: {error}")]
        ) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise FileRefused(
            [
                Problem(
                    "xlsx_too_large",
                    f"the workbook unpacks to {unpacked} bytes (at most {MAX_UNPACKED_BYTES})",
                )
            ],
            413,
        )
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
        raise FileRefused(
            [Problem("xlsx_broken", f"the XLSX workbook cannot be opened: {error}")]
        ) from None
    sheets: list[Sheet] = []
    formulas: list[Problem] = []
    try:
        for worksheet in workbook.worksheets:
            lines: list[list[CellValue]] = []
            for number, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
                line: list[CellValue] = []
                for index, value in enumerate(cells):
                    if isinstance(value, str) and value.startswith("="):
                        formulas.append(
                            Problem(
                                "formula_not_allowed",
                                f"cell {_column_letter(index)}{number} holds a formula ({value}); "
                                "paste its value instead",
                                worksheet.title,
                                number,
                                _column_letter(index),
                            )
                        )
                        value = None
                    line.append(_cell(value))
                lines.append(line)
            sheets.append(_sheet(worksheet.title, lines))
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
        raise FileRefused(
            [Problem("xlsx_broken", f"the XLSX workbook cannot be read: {error}")]
        ) from None
    finally:
        workbook.close()
    if formulas:
        raise FileRefused(formulas)
    return sheets


def _cell(value: object) -> CellValue:
    if value is None or isinstance(value, str | float | int | bool | date | datetime):
        return value
    return str(value)  # a decimal, a time, rich text: read as its text


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _sheet(name: str, lines: Iterable[list[Any]]) -> Sheet:
    iterator = iter(lines)
    header_line = next(iterator, [])
    headers = [str(h).strip() if h is not None else "" for h in header_line]
    width = len(headers)
    blank = [index for index, header in enumerate(headers) if not header]
    sheet = Sheet(name, headers)
    rows = sheet.rows
    for number, line in enumerate(iterator, start=2):
        # One list per row, in column order (the records read the columns they need).
        cells = [(v.strip() or None) if isinstance(v, str) else v for v in line[:width]]
        for index in blank:
            if index < len(cells):
                cells[index] = None
        if cells.count(None) < len(cells):
            rows.append(Row(number, cells, headers))
    return sheet
