"""A property of spreadsheet import on a real PostgreSQL: whatever a valid file holds, importing
it and then importing it again writes nothing the second time (and the second plan creates and
changes nothing). The file is the okrledger CSV (a `record` column), built per example."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from itertools import count
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.directory import LogDirectory
from api.imports.plan import Names
from api.usecases.imports import ImportRequest, run_import
from domain.application import OkrLedger
from domain.base import CommandContext

COLUMNS = [
    "record", "name", "starts_on", "ends_on", "email", "external_id", "cycle", "title",
    "kind", "owner_email", "objective", "measure", "baseline", "target", "direction", "weight",
    "key_result", "effective_on", "value", "confidence", "note",
]  # fmt: skip
START = date.today() - timedelta(days=80)
END = START + timedelta(days=90)
EXAMPLE = count()

_note = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
    max_size=30,
).map(str.strip)
_check_in = st.tuples(
    st.integers(min_value=0, max_value=79),  # days after the start (all before today)
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda v: round(v, 3)),
    st.integers(min_value=0, max_value=10),
    _note,
)
_key_result = st.tuples(
    st.sampled_from(["increase", "decrease"]),
    st.lists(_check_in, max_size=6, unique_by=lambda c: c[0]),
)
_objective = st.tuples(
    st.sampled_from(["committed", "aspirational"]),
    st.lists(_key_result, min_size=1, max_size=3),
)


def build(example: int, objectives: list[tuple[str, list[tuple[str, list]]]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    cycle = f"Cycle {example}"
    writer.writerow({"record": "cycle", "name": cycle, "starts_on": START, "ends_on": END})
    writer.writerow({"record": "person", "name": "Ada", "email": "ada@acme.example"})
    for o, (kind, key_results) in enumerate(objectives):
        objective = f"E{example}-O{o}"
        writer.writerow(
            {"record": "objective", "external_id": objective, "cycle": cycle,
             "title": f"Objective {o}", "kind": kind, "owner_email": "ada@acme.example"}
        )  # fmt: skip
        for k, (direction, check_ins) in enumerate(key_results):
            kr = f"{objective}-KR{k}"
            baseline, target = (0, 100) if direction == "increase" else (100, 0)
            writer.writerow(
                {"record": "key_result", "external_id": kr, "objective": objective,
                 "title": f"Key result {k}", "measure": "metric", "baseline": baseline,
                 "target": target, "direction": direction, "weight": 1}
            )  # fmt: skip
            for days, value, confidence, note in check_ins:
                writer.writerow(
                    {"record": "check_in", "key_result": kr,
                     "effective_on": START + timedelta(days=days), "value": value,
                     "confidence": confidence, "note": note}
                )  # fmt: skip
    return out.getvalue().encode()


def _import(ledger: OkrLedger, importer: UUID, content: bytes) -> tuple[int, int]:
    names = LogDirectory(ledger).ask(Names.of)
    report = run_import(ledger, names, importer, ImportRequest("okrs.csv", content))
    return len(report.plan.created) + len(report.plan.changed), report.events_written


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(objectives=st.lists(_objective, min_size=1, max_size=3))
def test_import_then_reimport_writes_nothing(
    ledger: OkrLedger, objectives: list[tuple[str, list[tuple[str, list]]]]
) -> None:
    importer = ledger.find_person_by_email("ida@acme.example")
    importer_id = (
        importer.id
        if importer
        else ledger.register_person("Ida", "ida@acme.example", CommandContext.system()).id
    )
    content = build(next(EXAMPLE), objectives)
    first_lines, first_events = _import(ledger, importer_id, content)
    assert first_lines > 0 and first_events > 0
    head = ledger.recorder.max_notification_id()
    second_lines, second_events = _import(ledger, importer_id, content)
    assert (second_lines, second_events) == (0, 0)
    assert ledger.recorder.max_notification_id() == head
