"""What a file says, format by format, as records: cycles, teams, people, objectives, key
results and check-ins, each knowing the sheet and row it came from.

Three formats read into the same records (docs/import.md):

- `okrledger`: our template, one sheet per record kind (XLSX), or one CSV whose `record` column
  names the kind of each row;
- `viva-goals`: the CSV of a Viva Goals Explorer view exported through Microsoft Graph's
  `goalsExportJob` (one row per objective or key result, the latest value on the row);
- `generic`: any CSV, one row per objective or key result (and optionally one check-in), whose
  columns a TOML mapping file names.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from api.imports.reading import CellValue, FileRefused, Problem, Row, Sheet

FORMATS = ("okrledger", "viva-goals", "generic")


@dataclass(frozen=True)
class Where:
    sheet: str
    row: int

    def __str__(self) -> str:
        return f"{self.sheet} row {self.row}"


@dataclass
class Record:
    kind: str
    """cycle, team, person, objective, key_result or check_in."""
    where: Where
    values: dict[str, Any]
    flat: bool = False
    """From a flat file, where an objective (or key result) repeats on the rows below it."""

    @cached_property
    def key(self) -> str:
        """What identifies the record within its kind (an external id, a name, an e-mail)."""
        if self.kind == "check_in":
            return f"{self.values['key_result']}@{self.values['effective_on']}"
        return str(self.values[KEYS[self.kind]])


@dataclass
class Records:
    items: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    dropped: list[Problem] = field(default_factory=list)
    """Columns and values the format has no place for (reported, not imported)."""

    def of(self, kind: str) -> list[Record]:
        return [r for r in self.items if r.kind == kind]


# ------------------------------------------------------------------------ values

Parser = Callable[[CellValue], Any]


class BadValue(ValueError):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def text(value: CellValue) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def number(value: CellValue) -> float:
    if isinstance(value, bool):
        raise BadValue("number_invalid", f"'{value}' is not a number")
    if isinstance(value, int | float):
        result = float(value)
    else:
        raw = str(value).strip().replace("\u00a0", "").replace(" ", "").rstrip("%")
        if "," in raw and "." in raw:
            raw = raw.replace(",", "")  # 1,234.5
        elif raw.count(",") == 1:
            raw = raw.replace(",", ".")  # 1,5 (a decimal comma)
        try:
            result = float(raw)
        except ValueError:
            raise BadValue("number_invalid", f"'{value}' is not a number") from None
    if not math.isfinite(result):
        raise BadValue("number_invalid", f"'{value}' is not a finite number")
    return result


def whole(value: CellValue) -> int:
    result = number(value)
    if not result.is_integer():
        raise BadValue("whole_number_required", f"'{value}' is not a whole number")
    return int(result)


_DAY_FIRST = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
_ISO_SLASH = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")


def day(value: CellValue) -> date:
    """A date: a spreadsheet date cell, ISO 8601 (`2026-03-31`, with or without a time),
    `2026/03/31`, `31.03.2026`, or `31/03/2026` and `03/31/2026` when only one reading is a
    valid date (`04/05/2026` is ambiguous and refused)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = text(value)
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    try:
        if match := _ISO_SLASH.match(raw):
            y, m, d = (int(g) for g in match.groups())
            return date(y, m, d)
        if match := _DAY_FIRST.match(raw):
            a, b, y = (int(g) for g in match.groups())
            if "." in raw:
                return date(y, b, a)
            readings = set()
            for d_, m_ in ((a, b), (b, a)):
                try:
                    readings.add(date(y, m_, d_))
                except ValueError:
                    continue
            if len(readings) == 1:
                return readings.pop()
            if len(readings) > 1:
                raise BadValue(
                    "date_ambiguous",
                    f"'{raw}' reads as day/month and as month/day; write it as YYYY-MM-DD",
                )
    except BadValue:
        raise
    except ValueError:
        pass
    raise BadValue("date_invalid", f"'{raw}' is not a date (write it as YYYY-MM-DD)")


def choice(*options: str, aliases: Mapping[str, str] | None = None) -> Parser:
    table = {o: o for o in options} | dict(aliases or {})

    def parse(value: CellValue) -> str:
        raw = text(value).lower().replace("-", "_").replace(" ", "_")
        if raw not in table:
            raise BadValue("value_not_allowed", f"'{value}' is not one of: {', '.join(options)}")
        return table[raw]

    return parse


def email(value: CellValue) -> str:
    raw = text(value).lower()
    if "@" not in raw or " " in raw:
        raise BadValue("email_invalid", f"'{value}' is not an e-mail address")
    return raw


# ------------------------------------------------------------------ the fields

Spec = dict[str, tuple[Parser, bool]]
"""field → (parser, required)."""

DIRECTION = choice(
    "increase",
    "decrease",
    "at_least",
    "at_most",
    aliases={
        "increase_to": "increase",
        "decrease_to": "decrease",
        "stay_above": "at_least",
        "stay_below": "at_most",
        "above": "at_least",
        "below": "at_most",
    },
)
MEASURE = choice(
    "metric",
    "milestone",
    aliases={
        "achieved_or_not": "milestone",
        "binary": "milestone",
        "number": "metric",
        "percentage": "metric",
        "percent": "metric",
        "currency": "metric",
    },
)

FIELDS: dict[str, Spec] = {
    "cycle": {
        "name": (text, True),
        "starts_on": (day, True),
        "ends_on": (day, True),
        "cadence": (choice("weekly", "biweekly", "monthly"), False),
        "scoring": (choice("yes_no", "scale"), False),
    },
    "team": {
        "name": (text, True),
        "parent": (text, False),
        "manager_email": (email, False),
    },
    "person": {"email": (email, True), "name": (text, True)},
    "objective": {
        "external_id": (text, True),
        "cycle": (text, True),
        "title": (text, True),
        "description": (text, False),
        "kind": (choice("committed", "aspirational", aliases={"stretch": "aspirational"}), False),
        "owner_email": (email, False),
        "owner_team": (text, False),
        "parent_external_id": (text, False),
    },
    "key_result": {
        "external_id": (text, True),
        "objective": (text, True),
        "title": (text, True),
        "measure": (MEASURE, False),
        "baseline": (number, False),
        "target": (number, False),
        "unit": (text, False),
        "direction": (DIRECTION, False),
        "weight": (number, False),
    },
    "check_in": {
        "key_result": (text, True),
        "effective_on": (day, True),
        "value": (number, True),
        "confidence": (whole, False),
        "note": (text, False),
    },
}
KEYS = {
    "cycle": "name",
    "team": "name",
    "person": "email",
    "objective": "external_id",
    "key_result": "external_id",
}
SHEETS = {
    "cycles": "cycle",
    "teams": "team",
    "people": "person",
    "objectives": "objective",
    "key_results": "key_result",
    "check_ins": "check_in",
}
"""The template's sheet names and the record kind of each."""


def _normal(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


LENIENT = frozenset({"owner_email", "kind", "measure", "direction", "unit", "description"})
"""Optional fields whose unmappable values a flat file (Viva Goals, generic) drops, reported,
instead of refusing the row: an owner column holding a name, a metric type okrledger has no
word for. The default applies (the fallback owner, committed, metric, increase)."""


def parse_record(
    kind: str,
    where: Where,
    raw: Mapping[str, CellValue],
    records: Records,
    lenient: frozenset[str] = frozenset(),
) -> Record | None:
    """A record of `kind` from `raw` (field → cell), or None with its problems recorded."""
    values: dict[str, Any] = {}
    ok = True
    for name, (parser, required) in FIELDS[kind].items():
        cell = raw.get(name)
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            if required:
                records.problems.append(
                    Problem("value_required", f"{name} is required", where.sheet, where.row, name)
                )
                ok = False
            continue
        try:
            values[name] = parser(cell)
        except BadValue as error:
            problem = Problem(error.rule, f"{name}: {error.message}", where.sheet, where.row, name)
            if name in lenient:
                records.dropped.append(problem)
                continue
            records.problems.append(problem)
            ok = False
    return Record(kind, where, values) if ok else None


# ------------------------------------------------------------- okrledger template


def read_template(sheets: list[Sheet]) -> Records:
    records = Records()
    if len(sheets) == 1 and sheets[0].name == "csv":
        _template_csv(sheets[0], records)
        return records
    known = False
    for sheet in sheets:
        kind = SHEETS.get(_normal(sheet.name))
        if kind is None:
            if _normal(sheet.name) != "instructions":
                records.dropped.append(
                    Problem(
                        "sheet_unknown",
                        f"sheet '{sheet.name}' is not part of the template",
                        sheet.name,
                    )
                )
            continue
        known = True
        columns = _columns(sheet, set(FIELDS[kind]), records)
        for row in sheet.rows:
            record = parse_record(
                kind, Where(sheet.name, row.number), _fields(row, columns), records
            )
            if record is not None:
                records.items.append(record)
    if not known:
        records.problems.append(
            Problem(
                "template_sheets_missing",
                "no sheet of the okrledger template (" + ", ".join(SHEETS) + ") was found",
            )
        )
    return records


def _template_csv(sheet: Sheet, records: Records) -> None:
    every = set().union(*(set(spec) for spec in FIELDS.values())) | {"record"}
    columns = _columns(sheet, every, records)
    if "record" not in columns.values():
        records.problems.append(
            Problem(
                "record_column_missing",
                "an okrledger CSV needs a 'record' column (cycle, team, person, objective, "
                "key_result or check_in)",
                sheet.name,
                1,
                "record",
            )
        )
        return
    # Field → column (a field named by two headers: the last one, as a row's values read it),
    # then each kind's fields by position: a row reads only the cells of its own kind.
    last = {header: index for index, header in enumerate(sheet.headers)}
    position: dict[str, int] = {}
    for header, name in columns.items():
        position[name] = last[header]
    record_at = position["record"]
    by_kind = {
        kind: [(name, position[name]) for name in spec if name in position]
        for kind, spec in FIELDS.items()
    }
    items = records.items
    for row in sheet.rows:
        cells = row.cells
        width = len(cells)
        record = cells[record_at] if record_at < width else None
        kind = text(record or "").lower().replace("-", "_").replace(" ", "_")
        kind = SHEETS.get(kind, kind)
        fields = by_kind.get(kind)
        if fields is None:
            records.problems.append(
                Problem(
                    "record_unknown",
                    f"record '{record}' is not one of: " + ", ".join(FIELDS),
                    sheet.name,
                    row.number,
                    "record",
                )
            )
            continue
        raw = {name: cells[i] for name, i in fields if i < width}
        parsed = parse_record(kind, Where(sheet.name, row.number), raw, records)
        if parsed is not None:
            items.append(parsed)


def _columns(sheet: Sheet, known: set[str], records: Records) -> dict[str, str]:
    """Header → field for the known headers; the others are reported as dropped."""
    columns: dict[str, str] = {}
    for header in sheet.headers:
        if not header:
            continue
        name = _normal(header)
        if name in known:
            columns[header] = name
        else:
            records.dropped.append(
                Problem(
                    "column_unknown", f"column '{header}' is not imported", sheet.name, 1, header
                )
            )
    return columns


def _fields(row: Row, columns: Mapping[str, str]) -> dict[str, CellValue]:
    return {name: row.values.get(header) for header, name in columns.items()}


# ------------------------------------------------------- flat files: Viva Goals, generic

FLAT_FIELDS = (
    "type",
    "external_id",
    "title",
    "objective_external_id",
    "objective_title",
    "description",
    "parent_external_id",
    "owner_email",
    "owner_team",
    "cycle",
    "cycle_starts_on",
    "cycle_ends_on",
    "kind",
    "measure",
    "baseline",
    "target",
    "unit",
    "direction",
    "weight",
    "value",
    "effective_on",
    "confidence",
    "note",
)

VIVA_COLUMNS: dict[str, tuple[str, ...]] = {
    "type": ("object_type", "type"),
    "external_id": ("id", "object_id"),
    "title": ("title", "name"),
    "description": ("description",),
    "parent_external_id": (
        "aligned_to_weight_objective_id",
        "parent_id",
        "parent_object_id",
        "aligned_to_id",
    ),
    "owner_email": ("owner_email", "owner_emails", "owner"),
    "owner_team": ("team", "teams", "owner_team"),
    "cycle": ("period", "time_period"),
    "cycle_starts_on": ("start_date",),
    "cycle_ends_on": ("end_date", "due_date"),
    "kind": ("goal_type", "okr_type"),
    "measure": ("metric_type", "progress_type"),
    "baseline": ("start", "start_value", "starting_value"),
    "target": ("target", "target_value"),
    "unit": ("unit", "metric_unit"),
    "direction": ("metric_direction", "direction"),
    "weight": ("weight",),
    "value": ("current_value", "current", "checkins"),
    "effective_on": ("last_check_in", "last_check_in_date", "last_checkin_date", "check_in_date"),
    "note": ("last_check_in_note", "last_checkin_note", "check_in_note"),
}
"""Our field → the Viva Goals column names it is read from (normalised: lower case, `_`), the
columns of an Explorer export first (`docs/import.md`)."""

VIVA_TYPES = {"objective": "objective", "key_result": "key_result", "kr": "key_result"}

_ALIGNED_ID = re.compile(r"\bId:\s*([^,)\s]+)")
_CHECK_IN_DATE = re.compile(r"Checkin Date:\s*([^;]+)")
_CURRENT_VALUE = re.compile(r"Current Value:\s*([^;]+)")


def viva_values(sheet: Sheet, mapping: Mapping[str, str]) -> None:
    """An Explorer export's cells as the flat reader takes them: `Aligned To (weight,
    Objective ID)` ("Title(weight: 50%, Id: 2295704)") gives its first parent's id; `Goal Type`
    ("Aspirational Goal") its kind; `Checkins` ("Checkin Date: 2025-03-10; User: …; Current
    Value: 25%; …", one or more) the value of the check-in on the last check-in date, else the
    latest."""
    parent, kind, value = (mapping.get(f) for f in ("parent_external_id", "kind", "value"))
    last = mapping.get("effective_on")
    for row in sheet.rows:
        cells = row.values
        if parent is not None and isinstance(cells.get(parent), str):
            found = _ALIGNED_ID.search(str(cells[parent]))
            if found:
                cells[parent] = found.group(1)
        if kind is not None and isinstance(cells.get(kind), str):
            cells[kind] = re.sub(r"\s+goal$", "", str(cells[kind]).strip(), flags=re.I).lower()
        if value is not None and _normal(value) == "checkins" and cells.get(value) is not None:
            cells[value] = _checked_in_value(str(cells[value]), cells.get(last) if last else None)


def _checked_in_value(text_: str, last: CellValue) -> str | None:
    entries = [e for e in re.split(r"(?=Checkin Date:)", text_) if "Checkin Date:" in e]
    values: list[tuple[str, str]] = []
    for entry in entries:
        on, current = _CHECK_IN_DATE.search(entry), _CURRENT_VALUE.search(entry)
        if on and current:
            values.append((on.group(1).strip()[:10], current.group(1).strip()))
    if not values:
        return None
    wanted = str(last)[:10] if last is not None else None
    chosen = [v for d, v in values if d == wanted] or [max(values)[1]]
    return chosen[-1]


def viva_mapping(sheet: Sheet) -> dict[str, str]:
    by_normal = {_normal(h): h for h in sheet.headers if h}
    mapping: dict[str, str] = {}
    for name, candidates in VIVA_COLUMNS.items():
        for candidate in candidates:
            if candidate in by_normal:
                mapping[name] = by_normal[candidate]
                break
    return mapping


def generic_mapping(content: bytes) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The mapping file: `[columns]` field = "CSV header", `[types]` value in the type column =
    objective | key_result, `[defaults]` field = value for empty cells."""
    try:
        data = tomllib.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise FileRefused(
            [Problem("mapping_invalid", f"the mapping file is not valid TOML: {error}", "mapping")]
        ) from None
    columns = data.get("columns")
    problems: list[Problem] = []
    if not isinstance(columns, dict) or not columns:
        problems.append(
            Problem("mapping_invalid", "the mapping needs a [columns] table", "mapping")
        )
        columns = {}
    for name in columns:
        if name not in FLAT_FIELDS:
            problems.append(
                Problem(
                    "mapping_field_unknown",
                    f"[columns] {name} is not a field (" + ", ".join(FLAT_FIELDS) + ")",
                    "mapping",
                    column=name,
                )
            )
    types = {_normal(str(k)): str(v) for k, v in dict(data.get("types") or {}).items()}
    for value in types.values():
        if value not in ("objective", "key_result"):
            problems.append(
                Problem(
                    "mapping_type_unknown",
                    f"[types] maps to '{value}'; use objective or key_result",
                    "mapping",
                )
            )
    defaults = {str(k): str(v) for k, v in dict(data.get("defaults") or {}).items()}
    if problems:
        raise FileRefused(problems)
    return {str(k): str(v) for k, v in columns.items()}, types, defaults


def read_flat(
    sheet: Sheet,
    mapping: Mapping[str, str],
    types: Mapping[str, str],
    defaults: Mapping[str, str],
    source: str,
) -> Records:
    """One row per objective or key result (its type in the `type` column, or `key_result`
    when only key results are mapped); a row with a value and a date also gives a check-in."""
    records = Records()
    used = set(mapping.values())
    for header in sheet.headers:
        if header and header not in used:
            records.dropped.append(
                Problem(
                    "column_unknown",
                    f"column '{header}' is not imported ({source})",
                    sheet.name,
                    1,
                    header,
                )
            )
    missing = [h for h in mapping.values() if h not in sheet.headers]
    for header in missing:
        records.problems.append(
            Problem(
                "column_missing",
                f"column '{header}' named by the mapping is not in the file",
                sheet.name,
                1,
                header,
            )
        )
    if missing:
        return records
    cycles: dict[str, dict[str, Any]] = {}
    for row in sheet.rows:
        where = Where(sheet.name, row.number)
        raw: dict[str, CellValue] = {k: v for k, v in defaults.items()}
        for name, header in mapping.items():
            if row.values.get(header) is not None:
                raw[name] = row.values[header]
        kind = _flat_kind(raw.get("type"), types)
        if kind is None:
            records.dropped.append(
                Problem(
                    "row_type_unsupported",
                    f"a row of type '{raw.get('type')}' is not imported (only objectives and "
                    "key results)",
                    sheet.name,
                    row.number,
                    mapping.get("type"),
                )
            )
            continue
        _flat_cycle(raw, where, cycles, records)
        if kind == "key_result" and raw.get("objective_external_id") is not None:
            # A row per key result (or per check-in) that names its objective too.
            objective = parse_record(
                "objective",
                where,
                {
                    **{k: v for k, v in raw.items() if k != "parent_external_id"},
                    "external_id": raw["objective_external_id"],
                    "title": raw.get("objective_title"),
                },
                records,
                LENIENT,
            )
            if objective is None:
                continue
            objective.flat = True
            records.items.append(objective)
            raw["parent_external_id"] = raw["objective_external_id"]
        if kind == "objective":
            record = parse_record("objective", where, raw, records, LENIENT)
        else:
            record = parse_record(
                "key_result",
                where,
                {**raw, "objective": raw.get("parent_external_id")},
                records,
                LENIENT,
            )
        if record is None:
            continue
        record.flat = True
        records.items.append(record)
        if kind == "key_result" and raw.get("value") is not None:
            check_in = parse_record(
                "check_in",
                where,
                {**raw, "key_result": raw.get("external_id")},
                records,
            )
            if check_in is not None:
                records.items.append(check_in)
    for name, cycle in cycles.items():
        if cycle["starts_on"] is not None and cycle["ends_on"] is not None:
            records.items.append(
                Record(
                    "cycle",
                    cycle["where"],
                    {"name": name, "starts_on": cycle["starts_on"], "ends_on": cycle["ends_on"]},
                )
            )
    return records


def _flat_kind(value: CellValue, types: Mapping[str, str]) -> str | None:
    if value is None:
        return "key_result" if not types else None
    name = _normal(text(value))
    if types:
        return types.get(name)
    return VIVA_TYPES.get(name)


def _flat_cycle(
    raw: Mapping[str, CellValue], where: Where, cycles: dict[str, dict[str, Any]], records: Records
) -> None:
    """A cycle named on a row, spanning the earliest start and latest end its rows give."""
    if raw.get("cycle") is None:
        return
    name = text(raw["cycle"])
    cycle = cycles.setdefault(name, {"where": where, "starts_on": None, "ends_on": None})
    for column, pick in (("cycle_starts_on", min), ("cycle_ends_on", max)):
        if raw.get(column) is None:
            continue
        try:
            value = day(raw[column])
        except BadValue as error:
            records.problems.append(
                Problem(error.rule, f"{column}: {error.message}", where.sheet, where.row, column)
            )
            continue
        key = column.removeprefix("cycle_")
        cycle[key] = value if cycle[key] is None else pick(cycle[key], value)


def read_records(format_: str, sheets: list[Sheet], mapping: bytes | None = None) -> Records:
    if format_ == "okrledger":
        return read_template(sheets)
    if len(sheets) != 1:
        names = [s.name for s in sheets]
        sheets = [s for s in sheets if s.rows][:1] or sheets[:1]
        if len(names) > 1:
            extra = Records()
            extra.dropped.extend(
                Problem("sheet_unknown", f"only the first sheet with rows is read; '{n}' is not", n)
                for n in names
                if n != sheets[0].name
            )
    if format_ == "viva-goals":
        columns = viva_mapping(sheets[0])
        viva_values(sheets[0], columns)
        return read_flat(sheets[0], columns, {}, {}, "Viva Goals")
    if mapping is None:
        raise FileRefused(
            [
                Problem(
                    "mapping_required",
                    "the generic format needs a mapping file (--mapping)",
                    "mapping",
                )
            ]
        )
    columns, types, defaults = generic_mapping(mapping)
    return read_flat(sheets[0], columns, types, defaults, "mapping")
