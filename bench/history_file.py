"""A generated history file in the okrledger template's CSV form, for the import benchmark.

Four full quarters before today, each with its objectives (three key results each, owned by
one of ten people) and a check-in on every key result on every day of the quarter, until the
file has `rows` rows (the header not counted). The values come from a `random.Random(seed)`,
so the same date and size make the same bytes; the file is written once per quarter and size
into the bench cache folder and read from there afterwards.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta
from pathlib import Path

COLUMNS = (
    "record",
    "name",
    "starts_on",
    "ends_on",
    "cadence",
    "email",
    "external_id",
    "cycle",
    "title",
    "kind",
    "owner_email",
    "objective",
    "baseline",
    "target",
    "unit",
    "key_result",
    "effective_on",
    "value",
    "confidence",
    "note",
)
PEOPLE = 10
KEY_RESULTS = 3
QUARTERS = 4


def quarters_before(today: date, count: int = QUARTERS) -> list[tuple[date, date]]:
    """The `count` full quarters that ended before `today`'s quarter began, oldest first."""
    start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    out: list[tuple[date, date]] = []
    for _ in range(count):
        end = start - timedelta(days=1)
        start = date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
        out.append((start, end))
    return out[::-1]


def history_csv(rows: int, today: date, seed: int = 18) -> bytes:
    """The file's bytes: `rows` rows of cycles, people, objectives, key results and check-ins."""
    rng = random.Random(seed)
    quarters = quarters_before(today)
    days = sum((end - start).days + 1 for start, end in quarters)
    people = [f"owner{n}@history.example" for n in range(PEOPLE)]
    definitions = len(quarters) + len(people)
    # Objectives per quarter so that a check-in a day on each key result fills the file.
    per_quarter = max(1, -(-(rows - definitions) // (days * KEY_RESULTS + KEY_RESULTS + 1)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    written = 0

    def row(**values: object) -> bool:
        nonlocal written
        if written >= rows:
            return False
        writer.writerow([values.get(c, "") for c in COLUMNS])
        written += 1
        return True

    for n, email in enumerate(people):
        row(record="person", email=email, name=f"History Owner {n}")
    for start, end in quarters:
        name = f"History Q{(start.month - 1) // 3 + 1} {start.year}"
        row(record="cycle", name=name, starts_on=start, ends_on=end, cadence="weekly")
    check_ins: list[tuple[str, date, date, float, float]] = []
    for q, (start, end) in enumerate(quarters):
        name = f"History Q{(start.month - 1) // 3 + 1} {start.year}"
        for o in range(per_quarter):
            objective = f"H{q}-O{o:03d}"
            row(
                record="objective",
                external_id=objective,
                cycle=name,
                title=f"Grow the business, part {o + 1} of quarter {q + 1}",
                kind="committed" if o % 3 else "aspirational",
                owner_email=people[o % len(people)],
            )
            for k in range(KEY_RESULTS):
                kr = f"{objective}-K{k}"
                target = float(rng.choice((50, 100, 200, 1000)))
                row(
                    record="key_result",
                    external_id=kr,
                    objective=objective,
                    title=f"Reach {target:g} on measure {k + 1}",
                    baseline=0,
                    target=target,
                    unit="units",
                )
                check_ins.append((kr, start, end, target, rng.uniform(0.5, 1.1)))
    for kr, start, end, target, reach in check_ins:
        span = (end - start).days
        for d in range(span + 1):
            value = round(target * reach * d / span + rng.uniform(-1, 1), 1)
            if not row(
                record="check_in",
                key_result=kr,
                effective_on=start + timedelta(days=d),
                value=value,
                confidence=rng.randint(3, 9),
            ):
                break
    return out.getvalue().encode()


def cached_history(folder: Path, rows: int, today: date) -> Path:
    """The file for `rows` rows and `today`'s quarters, generated once into `folder`."""
    first, last = quarters_before(today)[0][0], quarters_before(today)[-1][1]
    path = folder / f"history-{rows}-{first:%Y%m}-{last:%Y%m}.csv"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(history_csv(rows, today))
        partial.replace(path)
    return path
