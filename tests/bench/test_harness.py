"""Smoke tests of the benchmark harness itself (no database, no servers): it must not rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.harness import (
    BEGIN,
    END,
    Figure,
    Row,
    ScenarioResult,
    Target,
    alternate,
    load_results,
    markdown_section,
    paired,
    percentile,
    write_docs,
    write_results,
)

ROOT = Path(__file__).resolve().parents[2]


def sample_results() -> list[ScenarioResult]:
    product = Figure("check-ins/s", [90.0, 100.0, 110.0])
    raw = Figure("commits/s", [100.0, 125.0, 100.0])
    latency = Figure("ms", [60.0, 40.0], "lower")
    live = Figure("ms", [20.0, 20.0], "lower")
    return [
        ScenarioResult(
            "write",
            "command write path",
            rows=[
                Row(
                    "write",
                    "check-ins/s",
                    product,
                    raw,
                    "INSERT",
                    paired(product, raw),
                    (Target.ratio(0.8),),
                ),
                Row(
                    "write",
                    "as-of p50",
                    latency,
                    live,
                    "live",
                    paired(latency, live),
                    (Target.at_most(50, "ms"),),
                ),
            ],
            notes=["a note | with a pipe"],
        ),
        ScenarioResult("kafka", "Kafka relay", error="RuntimeError: no broker"),
    ]


def test_figures_ratios_and_targets() -> None:
    [write, _] = sample_results()
    rate, latency = write.rows
    assert rate.product.median == 100.0 and rate.product.low == 90.0
    assert rate.ratio is not None and rate.ratio.values == [0.9, 0.8, 1.1]
    assert rate.verdict == "pass"  # median per-round ratio 0.9 ≥ 0.8
    assert latency.ratio is not None and latency.ratio.values == [20 / 60, 0.5]
    assert latency.verdict == "pass"  # median 50 ms ≤ 50 ms
    assert Row("x", "y", Figure("ms"), targets=(Target.at_most(1, "ms"),)).verdict == "n/a"
    assert percentile([5, 1, 4, 2, 3], 0.5) == 3
    assert percentile(list(range(1, 101)), 0.99) == 99


def test_alternate_swaps_the_order_every_round() -> None:
    calls: list[str] = []
    alternate(3, lambda r: calls.append(f"a{r}"), lambda r: calls.append(f"b{r}"))
    assert calls == ["a0", "b0", "b1", "a1", "a2", "b2"]


def test_docs_section_replaces_only_what_is_between_the_markers(tmp_path: Path) -> None:
    info = {
        "date": "2026-01-01T00:00:00+00:00",
        "cpu": "cpu",
        "cores": 2,
        "memory_gb": 8,
        "python": "3.11",
        "postgresql": "18",
        "load_average": [1, 1, 1],
        "commit": "abc",
    }
    section = markdown_section(sample_results(), info, "quick", 60, findings=None)
    assert "| **write** | check-ins/s |" in section and "✅ pass" in section
    assert "failed: RuntimeError: no broker" in section and "a note | with a pipe" in section
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nBy hand.\n\n{BEGIN}\nOLD TABLE\n{END}\n\nAlso by hand.\n")
    write_docs(section, doc)
    write_docs(section, doc)
    text = doc.read_text()
    assert text.count(BEGIN) == 1 and "OLD TABLE" not in text
    assert text.startswith("# Performance\n\nBy hand.") and text.endswith("Also by hand.\n")
    fresh = tmp_path / "new.md"
    write_docs(section, fresh)
    assert BEGIN in fresh.read_text()


def test_results_json(tmp_path: Path) -> None:
    info = {"date": "2026-01-01T00:00:00+00:00"}
    latest = write_results(sample_results(), info, "quick", 1.0, tmp_path)
    data = json.loads(latest.read_text())
    row = data["scenarios"]["write"]["rows"][0]
    assert row["verdict"] == "pass" and row["product"]["median"] == 100.0
    assert data["scenarios"]["kafka"]["error"].startswith("RuntimeError")
    results, machine, mode, seconds = load_results(latest)
    assert mode == "quick" and seconds == 1.0 and machine == info
    assert [r.as_dict() for r in results] == [r.as_dict() for r in sample_results()]


def test_the_command_line_lists_every_scenario() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    names = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    assert names == [
        "write",
        "import",
        "http-write",
        "http-read",
        "rebuild",
        "asof",
        "lag",
        "audit",
        "kafka",
        "notify",
        "webhooks",
        "growth",
        "memory",
        "ledger",
    ]


def test_only_a_full_run_of_every_scenario_rewrites_the_documented_table() -> None:
    from bench.__main__ import writes_docs

    assert writes_docs("auto", "full", everything=True)
    assert not writes_docs("auto", "quick", everything=True)  # `make bench-quick`
    assert not writes_docs("auto", "full", everything=False)
    assert not writes_docs("no", "full", everything=True)
    assert writes_docs("yes", "quick", everything=False)
