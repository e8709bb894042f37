"""The benchmark harness: figures, rows, targets, the report table, results JSON and the docs.

A scenario measures the product and its raw limit in the same run, several rounds each,
alternating which goes first, and returns `Row`s. Each `Figure` keeps one value per round, so
the table shows the median with min and max; a row's ratio is taken per round (product against
the raw limit measured just before or after it) and its median reported, which cancels most of
the drift of a shared, noisy machine.

Ratios always read "fraction of the raw limit's performance": product/raw for rates,
raw/product for latencies. 1.0 is as fast as the raw limit.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import psutil
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "performance.md"
FINDINGS = ROOT / "bench" / "findings.md"
"""Hand-written profiling findings, appended to the generated section."""
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

Better = Literal["higher", "lower"]
Mode = Literal["quick", "full"]


# --------------------------------------------------------------------------- figures


@dataclass
class Figure:
    """One measured quantity: a value per round."""

    unit: str
    values: list[float] = field(default_factory=list)
    better: Better = "higher"

    def add(self, value: float) -> None:
        self.values.append(float(value))

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def low(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def high(self) -> float:
        return max(self.values) if self.values else float("nan")

    def text(self, spread: bool = True) -> str:
        if not self.values:
            return "—"
        main = fmt(self.median, self.unit)
        if not spread or len(self.values) < 2:
            return main
        return (
            f"{main} ({fmt(self.low, self.unit, bare=True)}–{fmt(self.high, self.unit, bare=True)})"
        )


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method; NaN for no samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


def fmt(value: float, unit: str, *, bare: bool = False) -> str:
    """A value for a table: thousands separated, sensible decimals, the unit unless `bare`."""
    if value != value:  # NaN
        return "—"
    magnitude = abs(value)
    if magnitude >= 100:
        text = f"{value:,.0f}"
    elif magnitude >= 10:
        text = f"{value:,.1f}"
    elif magnitude >= 1:
        text = f"{value:,.2f}"
    else:
        text = f"{value:.3g}"
    if bare or not unit:
        return text
    if unit == "%":
        return f"{text}%"
    return f"{text} {unit}"


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """A figure a row must reach: on the ratio, or on the product's median value."""

    kind: Literal["ratio_min", "value_max", "value_min"]
    threshold: float
    unit: str = ""
    label: str = ""

    @classmethod
    def ratio(cls, at_least: float, label: str = "") -> Target:
        return cls("ratio_min", at_least, "×", label or f"≥ {at_least:g}× raw")

    @classmethod
    def at_most(cls, value: float, unit: str, label: str = "") -> Target:
        return cls("value_max", value, unit, label or f"≤ {fmt(value, unit)}")

    @classmethod
    def at_least(cls, value: float, unit: str, label: str = "") -> Target:
        return cls("value_min", value, unit, label or f"≥ {fmt(value, unit)}")

    def met(self, row: Row) -> bool | None:
        if self.kind == "ratio_min":
            value = row.ratio.median if row.ratio else float("nan")
            return None if value != value else value >= self.threshold
        value = row.product.median
        if value != value:
            return None
        return value <= self.threshold if self.kind == "value_max" else value >= self.threshold


@dataclass
class Row:
    scenario: str
    measure: str
    product: Figure
    raw: Figure | None = None
    raw_label: str = ""
    ratio: Figure | None = None
    targets: tuple[Target, ...] = ()
    note: str = ""

    @property
    def verdict(self) -> str:
        if not self.targets:
            return "—"
        results = [t.met(self) for t in self.targets]
        if any(r is None for r in results):
            return "n/a"
        return "pass" if all(results) else "miss"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict
        for key in ("product", "raw", "ratio"):
            figure: Figure | None = getattr(self, key)
            if figure is not None and figure.values:
                data[key]["median"] = figure.median
                data[key]["min"] = figure.low
                data[key]["max"] = figure.high
        data["targets"] = [{**asdict(t), "met": t.met(self)} for t in self.targets]
        return data


def paired(product: Figure, raw: Figure, ratio: Figure | None = None) -> Figure:
    """Per-round ratios of two figures measured round by round (see the module docstring)."""
    ratio = ratio or Figure("×")
    for p, r in zip(product.values, raw.values, strict=False):
        if product.better == "higher":
            ratio.add(p / r if r else float("nan"))
        else:
            ratio.add(r / p if p else float("nan"))
    return ratio


@dataclass
class ScenarioResult:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "rows": [r.as_dict() for r in self.rows],
            "notes": self.notes,
            "seconds": round(self.seconds, 1),
            "error": self.error,
        }


# --------------------------------------------------------------------------- rounds


def alternate(
    rounds: int,
    first: Callable[[int], None],
    second: Callable[[int], None],
) -> None:
    """Run `first` and `second` once per round, swapping their order every other round."""
    for r in range(rounds):
        pair = (first, second) if r % 2 == 0 else (second, first)
        for step in pair:
            step(r)


class Deadline:
    """A time budget for a bounded loop."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.end

    @property
    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a running process, in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --------------------------------------------------------------------------- machine


def machine(postgres: dict[str, str]) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "?"

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": postgres.get("server_version", "?"),
        "postgresql_settings": {k: v for k, v in postgres.items() if k != "server_version"},
        "packages": {
            p: version(p)
            for p in ("eventsourcing", "psycopg", "fastapi", "uvicorn", "httpx", "kafka-python")
        },
        "commit": commit,
    }


def machine_line(info: dict[str, Any]) -> str:
    settings = info.get("postgresql_settings", {})
    durability = ", ".join(f"{k} {v}" for k, v in settings.items())
    return (
        f"{info['date']} · {info['cpu'] or 'CPU ?'} · {info['cores']} cores · "
        f"{info['memory_gb']} GB · Python {info['python']} · PostgreSQL {info['postgresql']}"
        f"{f' ({durability})' if durability else ''} · load average at start "
        f"{' / '.join(str(x) for x in info['load_average'])} · commit {info['commit'] or '?'}"
    )


# --------------------------------------------------------------------------- output


def _verdict_markup(verdict: str) -> str:
    return {"pass": "[green]pass[/green]", "miss": "[red]miss[/red]"}.get(verdict, verdict)


def rich_table(results: Iterable[ScenarioResult], title: str = "") -> Table:
    table = Table(title=title or None, show_lines=False, header_style="bold")
    table.add_column("scenario", style="cyan", no_wrap=True)
    table.add_column("measure")
    table.add_column("product: median (min–max)", justify="right")
    table.add_column("raw limit: median (min–max)", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target")
    table.add_column("", justify="center")
    for result in results:
        if result.error:
            table.add_row(result.name, f"[red]failed: {result.error}[/red]", "", "", "", "", "")
            continue
        for i, row in enumerate(result.rows):
            raw = row.raw.text() if row.raw else "—"
            if row.raw_label and row.raw:
                raw = f"{raw}\n[dim]{row.raw_label}[/dim]"
            table.add_row(
                result.name if i == 0 else "",
                row.measure,
                row.product.text(),
                raw,
                row.ratio.text(spread=False) if row.ratio else "—",
                ", ".join(t.label for t in row.targets) or "—",
                _verdict_markup(row.verdict),
            )
    return table


def markdown_table(results: Sequence[ScenarioResult]) -> str:
    lines = [
        "| scenario | measure | product: median (min–max) | raw limit: median (min–max) "
        "| ratio | target | |",
        "|---|---|---:|---:|---:|---|:-:|",
    ]
    for result in results:
        if result.error:
            lines.append(f"| {result.name} | failed: {_md(result.error)} | | | | | |")
            continue
        for i, row in enumerate(result.rows):
            raw = row.raw.text() if row.raw else "—"
            if row.raw_label and row.raw:
                raw = f"{raw}<br>*{_md(row.raw_label)}*"
            verdict = {"pass": "✅ pass", "miss": "❌ miss"}.get(row.verdict, row.verdict)
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"**{result.name}**" if i == 0 else "",
                        _md(row.measure),
                        row.product.text(),
                        raw,
                        row.ratio.text(spread=False) if row.ratio else "—",
                        _md(", ".join(t.label for t in row.targets) or "—"),
                        verdict,
                    ]
                )
                + " |"
            )
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_section(
    results: Sequence[ScenarioResult],
    info: dict[str, Any],
    mode: Mode,
    seconds: float,
    findings: Path | None = FINDINGS,
) -> str:
    notes = [f"- **{r.name}**: {note}" for r in results for note in r.notes if note] + [
        f"- **{r.name}** row *{row.measure}*: {row.note}"
        for r in results
        for row in r.rows
        if row.note
    ]
    parts = [
        "## Benchmark table (generated by `make bench`)",
        "",
        f"*{mode} run, {seconds / 60:.1f} min — {_md(machine_line(info))}.*",
        "",
        "Each figure is the median of its rounds, with min–max. The ratio is the median of the "
        "per-round ratios to the raw limit measured in the same round (rates: product/raw; "
        "latencies: raw/product), so 1.0 means as fast as the raw limit. Regenerate with "
        "`make bench` (full) or `make bench-quick` (small sizes); raw results are in "
        "`bench/results/latest.json`.",
        "",
        markdown_table(results),
    ]
    if notes:
        parts += ["", "Notes:", "", *notes]
    if findings is not None and findings.exists():
        parts += ["", findings.read_text().strip()]
    return "\n".join(parts)


def write_docs(section: str, path: Path = DOCS) -> None:
    """Put `section` between the bench markers of `path` (markers appended when missing)."""
    block = f"{BEGIN}\n{section}\n{END}"
    if path.exists():
        text = path.read_text()
        if BEGIN in text and END in text:
            pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
            text = pattern.sub(lambda _m: block, text, count=1)
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        text = "# Performance\n\n" + block + "\n"
    path.write_text(text)


def write_results(
    results: Sequence[ScenarioResult],
    info: dict[str, Any],
    mode: Mode,
    seconds: float,
    directory: Path = RESULTS,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "mode": mode,
        "seconds": round(seconds, 1),
        "machine": info,
        "scenarios": {r.name: r.as_dict() for r in results},
    }
    text = json.dumps(data, indent=2, default=str) + "\n"
    latest = directory / "latest.json"
    latest.write_text(text)
    stamp = info["date"].replace(":", "").replace("+0000", "Z")
    (directory / f"{stamp}-{mode}.json").write_text(text)
    return latest


def load_results(path: Path) -> tuple[list[ScenarioResult], dict[str, Any], Mode, float]:
    """A results JSON back into scenario results (to re-render the docs section)."""
    data = json.loads(path.read_text())

    def figure(raw: dict[str, Any] | None) -> Figure | None:
        if raw is None:
            return None
        return Figure(raw["unit"], list(raw["values"]), raw["better"])

    results = []
    for scenario in data["scenarios"].values():
        rows = []
        for row in scenario["rows"]:
            product = figure(row["product"])
            assert product is not None
            targets = tuple(
                Target(t["kind"], t["threshold"], t["unit"], t["label"]) for t in row["targets"]
            )
            rows.append(
                Row(
                    row["scenario"],
                    row["measure"],
                    product,
                    figure(row["raw"]),
                    row["raw_label"],
                    figure(row["ratio"]),
                    targets,
                    row["note"],
                )
            )
        results.append(
            ScenarioResult(
                scenario["name"],
                scenario["title"],
                rows,
                list(scenario["notes"]),
                scenario["seconds"],
                scenario["error"],
            )
        )
    return results, data["machine"], data["mode"], float(data["seconds"])


def console() -> Console:
    """Rich output; wide enough for the table when writing to a file or a pipe."""
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=170)
    return out
