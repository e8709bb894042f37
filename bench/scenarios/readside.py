"""The read side: rebuild, as-of, live lag, growth with the log, and peak memory.

- rebuild: `Rebuild(...).run(None)` over a generated history (1,000,000 events in a full run),
  in a process of its own (bench/probe.py), beside a raw scan of the events table and the
  scan + decode a rebuild starts with, each in its own process too; at the headline size also
  in 2 shards, one process each (`okr rebuild --all --workers 2`).
- as-of: `ReadModels.position_at(instant)` + `ReadModels.tree(cycle, position=...)` at random
  instants (the cycle: the latest one planned by then), beside the live `ReadModels.tree(cycle)`
  of the same cycles; and the strategy layer's reads at the same instants (`strategy_reads`:
  strategy, KPIs, initiatives, the cycle's strategy map) beside the live ones.
- lag: `OkrLedger.check_in` then `ReadModels.wait_for(position)` with the live runner in the
  same process (as in `okr serve`): from the command's return (committed) to visible.
- growth: rebuild and as-of at three sizes; the exponent k of time ∝ events^k says whether the
  cost grows linearly (rebuild: k ≈ 1; as-of: k ≈ 0 with checkpoints).
- memory: peak RSS of `okr serve` on each history (views built, then tree requests) and of
  the rebuild processes, beside the size of the views' tables.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import psycopg
from psycopg.sql import SQL, Identifier

from bench.harness import (
    ROOT,
    Deadline,
    Figure,
    Row,
    ScenarioResult,
    Target,
    paired,
    percentile,
)
from bench.scenarios import Context
from bench.scenarios.fixtures import Objectives, Writer
from bench.services import product_server
from domain.application import OkrLedger
from domain.base import CommandContext
from infra.eventstore import eventsourcing_env
from infra.settings import Settings

REBUILD_BUDGET = 360.0
"""Seconds the rebuild rounds of one size may take in a full run; fewer rounds beyond it."""


IDLE_TIMEOUT = "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT"
"""eventsourcing's pool setting (default 5 s): a rebuild whose writer thread is starved of the GIL
mid-transaction (the model being saved) loses its connection to it on a loaded machine."""


IDLE_NOTE = (
    "a rebuild lost its writer connection to the idle-in-transaction timeout (eventsourcing's "
    "default 5 s: the writer thread, mid-transaction, waits for the GIL while the model is "
    "saved); the figures are from a rerun with POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT=0."
)


def probe(operation: str, url: str, ctx: Context | None = None) -> dict[str, Any]:
    """bench/probe.py in a fresh process: one measurement, with that process's peak memory.

    A rebuild killed by the idle-in-transaction timeout is run once more with the timeout off
    (and a note says so): the figure is still worth having, the failure is reported."""
    env = dict(os.environ)
    for attempt in (1, 2):
        if operation.startswith("rebuild"):
            _forget_saved_rebuild(url)
        done = subprocess.run(
            [sys.executable, "-m", "bench.probe", operation, url],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=7200,
            check=False,
        )
        if done.returncode == 0:
            result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
            result["idle_timeout_off"] = attempt == 2
            return result
        killed = (
            "idle-in-transaction timeout" in done.stderr
            or "server closed the connection" in done.stderr
        )
        if attempt == 1 and killed and operation.startswith("rebuild"):
            if ctx is not None:
                ctx.say("rebuild lost its connection (idle in transaction): once more, timeout off")
                ctx.shared.setdefault("idle_timeout_failures", []).append(url)
            env[IDLE_TIMEOUT] = "0"
            continue
        break
    raise RuntimeError(f"bench.probe {operation} failed:\n{done.stderr[-3000:]}")


def _views_module() -> Any:
    """bench/views.py (the views engineer's measurements), when it is there."""
    try:
        from bench import views
    except ImportError:
        return None
    return views


def _ledger(url: str, pool_size: int = 4) -> OkrLedger:
    return OkrLedger(
        env=eventsourcing_env(url, Settings(pool_size=pool_size, lock_timeout_seconds=60))
    )


def views_size_mb(url: str) -> float:
    """Total size of the live views' tables (with indexes and TOAST)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
            "AND c.relkind = 'r' AND c.relname LIKE 'view\\_%' "
            "AND c.relname NOT LIKE '%\\_\\_new' AND c.relname NOT LIKE '%\\_\\_old'"
        ).fetchone()
    return float(row[0]) / 2**20 if row else float("nan")


# --------------------------------------------------------------------------- rebuild


@dataclass
class RebuildFigures:
    events: int
    rebuild: Figure
    scan: Figure
    decode: Figure
    peak: Figure
    growth: Figure
    """Peak RSS minus the RSS before the rebuild started (imports, connections)."""
    phases: dict[str, float]
    views_mb: float
    helper_peak: Figure = field(default_factory=lambda: Figure("MB", better="lower"))
    """Peak RSS of the rebuild's helper processes (0 when it forks none)."""
    by: str = ""
    idle_timeout_off: bool = False
    cpu: Figure = field(default_factory=lambda: Figure("µs", better="lower"))
    """CPU time per event of the rebuild, its helper processes included."""
    sharded: Figure = field(default_factory=lambda: Figure("events/s"))
    """The same rebuild in 2 shards, one process each."""
    sharded_cpu: Figure = field(default_factory=lambda: Figure("µs", better="lower"))
    machine_cpu: Figure = field(default_factory=lambda: Figure("µs", better="lower"))
    """CPU time per event of the whole machine during the rebuild (PostgreSQL's included)."""
    sharded_machine_cpu: Figure = field(default_factory=lambda: Figure("µs", better="lower"))
    fold: Figure = field(default_factory=lambda: Figure("events/s"))
    """The views' fold alone, in memory (no reads or writes timed): 1 / its CPU per event."""


def measure_rebuild(ctx: Context, size: int, rounds: int) -> RebuildFigures:
    cache: dict[int, RebuildFigures] = ctx.shared.setdefault("rebuild", {})
    failed: dict[int, str] = ctx.shared.setdefault("rebuild_failed", {})
    if size in cache and len(cache[size].rebuild.values) >= rounds:
        return cache[size]
    if size in failed:
        raise RuntimeError(f"the rebuild of {size:,} events failed earlier in this run")
    try:
        return _measure_rebuild(ctx, size, rounds, cache)
    except Exception as error:
        failed[size] = str(error)
        raise


def _measure_rebuild(
    ctx: Context, size: int, rounds: int, cache: dict[int, RebuildFigures]
) -> RebuildFigures:
    url = ctx.datasets.generated(size)
    figures = RebuildFigures(
        size,
        Figure("events/s"),
        Figure("events/s"),
        Figure("events/s"),
        Figure("MB", better="lower"),
        Figure("MB", better="lower"),
        {},
        float("nan"),
    )
    budget = float(ctx.pick(REBUILD_BUDGET, 120.0))
    started = time.perf_counter()
    r = 0
    while r < rounds:
        steps = ["rebuild", "raw"] if r % 2 == 0 else ["raw", "rebuild"]
        for step in steps:
            if step == "rebuild":
                result = probe("rebuild", url, ctx)
                figures.rebuild.add(result["events"] / result["seconds"])
                figures.peak.add(result["peak_rss_mb"])
                figures.helper_peak.add(result.get("helper_peak_rss_mb", 0.0))
                if result.get("cpu_us_per_event"):
                    figures.cpu.add(result["cpu_us_per_event"])
                if result.get("machine_cpu_us_per_event"):
                    figures.machine_cpu.add(result["machine_cpu_us_per_event"])
                figures.by = result.get("by", "")
                figures.idle_timeout_off |= bool(result.get("idle_timeout_off"))
                figures.growth.add(result["peak_rss_mb"] - result["rss_before_mb"])
                for phase, seconds in result["phases"].items():
                    figures.phases[phase] = figures.phases.get(phase, 0.0) + seconds
                events = result["events"]
                if size == ctx.big:  # the headline size only: the growth rounds stay short
                    split = probe("rebuild-sharded", url, ctx)
                    figures.sharded.add(split["events"] / split["seconds"])
                    if split.get("cpu_us_per_event"):
                        figures.sharded_cpu.add(split["cpu_us_per_event"])
                    if split.get("machine_cpu_us_per_event"):
                        figures.sharded_machine_cpu.add(split["machine_cpu_us_per_event"])
                    folded = probe("fold", url)
                    figures.fold.add(folded["events"] / folded["seconds"])
            else:
                scanned = probe("scan", url)
                figures.scan.add(scanned["events"] / scanned["seconds"])
                decoded = probe("decode", url)
                figures.decode.add(decoded["events"] / decoded["seconds"])
        ctx.say(
            f"{size:,} events, round {r + 1}: rebuild {figures.rebuild.values[-1]:,.0f} ev/s "
            f"({events:,} events), scan {figures.scan.values[-1]:,.0f}, "
            f"scan+decode {figures.decode.values[-1]:,.0f} ev/s"
        )
        r += 1
        spent = time.perf_counter() - started
        if r < rounds and spent / r * (r + 1) > budget:
            ctx.say(f"stopping after {r} round(s): another would pass the {budget:.0f} s budget")
            break
    figures.phases = {k: v / len(figures.rebuild.values) for k, v in figures.phases.items()}
    figures.views_mb = views_size_mb(url)
    cache[size] = figures
    return figures


def _forget_saved_rebuild(url: str) -> None:
    """Drop the progress an interrupted rebuild saved, so the next one starts from scratch
    (a resumed rebuild folds only the rest of the log)."""
    from infra.views.schema import REBUILD_TABLE

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            SQL("DELETE FROM {} WHERE true").format(Identifier(REBUILD_TABLE))
            if conn.execute("SELECT to_regclass(%s)", (REBUILD_TABLE,)).fetchone() != (None,)
            else SQL("SELECT 1")
        )


def _phases(phases: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f} s" for k, v in phases.items())


def _lag_p99(measure: str, p99: Figure, note: str = "") -> Row:
    """A lag's p99, held to the 100 ms target."""
    return Row("lag", measure, p99, targets=(Target.at_most(100, "ms"),), note=note)


def run_rebuild(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("rebuild", "rebuild of every view")
    size = ctx.big
    f = measure_rebuild(ctx, size, ctx.pick(3, ctx.rounds))

    def every_view(how: str, rate: Figure) -> Row:
        return Row(
            "rebuild",
            f"every view from {size:,} events{how}",
            rate,
            f.scan,
            "raw scan of the events table (5,000-row pages)",
            paired(rate, f.scan),
            (Target.at_least(50_000, "events/s"), Target.ratio(0.3)),
        )

    result.rows += [
        every_view("", f.rebuild),
        Row(
            "rebuild",
            "scan + decode (the rebuild's input)",
            f.decode,
            f.scan,
            "raw scan",
            paired(f.decode, f.scan),
        ),
        Row("rebuild", "peak RSS of the rebuild process", f.peak),
    ]
    if f.sharded.values:
        result.rows.insert(1, every_view(", 2 shards (--workers 2)", f.sharded))
        if f.sharded_cpu.values:
            result.rows.append(
                Row("rebuild", "CPU time per event, 2 shards (both processes)", f.sharded_cpu)
            )
    if any(f.helper_peak.values):
        result.rows.append(Row("rebuild", "peak RSS of its helper process", f.helper_peak))
    if f.cpu.values:
        result.rows.append(Row("rebuild", "CPU time per event (helpers included)", f.cpu))
    if f.machine_cpu.values:
        result.rows.append(
            Row("rebuild", "machine CPU per event (PostgreSQL included)", f.machine_cpu)
        )
    if f.sharded_machine_cpu.values:
        result.rows.append(Row("rebuild", "machine CPU per event, 2 shards", f.sharded_machine_cpu))
    if f.fold.values:
        result.rows.append(
            Row(
                "rebuild",
                "the fold alone, in memory, one core (1 / CPU per event; no reads or writes)",
                f.fold,
                f.scan,
                "raw scan",
                paired(f.fold, f.scan),
            )
        )
    if f.machine_cpu.values:
        cores = os.cpu_count() or 1
        ceiling = cores / (f.machine_cpu.median / 1e6)
        result.notes.append(
            f"At the rebuild's measured cost ({f.machine_cpu.median:.0f} µs of machine CPU per "
            f"event, PostgreSQL's included) this machine's {cores} cores cannot rebuild faster "
            f"than {ceiling:,.0f} events/s, however the work is split."
        )
    result.notes.append(
        f"{len(f.rebuild.values)} rounds, each step in a fresh process (bench/probe.py, "
        f"measured by {f.by}); mean phases of a rebuild: {_phases(f.phases)}; views' tables "
        f"after it: {f.views_mb:,.0f} MB."
    )
    if f.idle_timeout_off:
        result.notes.append(IDLE_NOTE)
    return result


# --------------------------------------------------------------------------- as-of


@dataclass
class AsOfFigures:
    events: int
    asof_p50: Figure
    asof_p99: Figure
    live_p50: Figure
    live_p99: Figure
    samples: int
    by: str = "bench/scenarios/readside.py"
    strategy_asof_p50: Figure = field(default_factory=lambda: Figure("ms", better="lower"))
    strategy_live_p50: Figure = field(default_factory=lambda: Figure("ms", better="lower"))


def strategy_reads(models: Any, cycle: UUID, position: int | None) -> float:
    """Milliseconds for the strategy layer's reads of a page set, live or as of `position`:
    the strategy, the KPI dashboard, the initiatives and the cycle's strategy map."""
    reads = models.strategy
    began = time.perf_counter()
    reads.strategy(position)
    reads.kpis(position)
    reads.initiatives(position=position)
    reads.strategy_map(cycle, position)
    return (time.perf_counter() - began) * 1000


def _history_bounds(url: str) -> tuple[datetime, datetime, list[tuple[int, UUID]]]:
    with psycopg.connect(url) as conn:
        low, high = conn.execute(
            "SELECT min(committed_at), max(committed_at) FROM okrledger_events_chain"
        ).fetchone() or (None, None)
        planned = conn.execute(
            "SELECT notification_id, originator_id FROM okrledger_events "
            "WHERE topic = 'domain.cycle:Cycle.Planned' ORDER BY notification_id"
        ).fetchall()
    if low is None or high is None or not planned:
        raise RuntimeError("the history has no commit times or no cycles")
    return low, high, [(int(p), c) for p, c in planned]


def _ensure_views(ctx: Context, url: str) -> None:
    """Build the views unless they are already up to date (not timed; in a process of its
    own, like the measured rebuilds)."""
    from infra.readmodels import ReadModels

    app = _ledger(url)
    try:
        models = ReadModels(app, Settings())
        models.setup()
        current = models.caught_up_position() >= models.head_position()
        current = current and not models.store.outdated()
    finally:
        app.close()
    if not current:
        ctx.say("building the views first (not timed)")
        probe("rebuild", url, ctx)


def measure_asof(ctx: Context, size: int, rounds: int, samples: int) -> AsOfFigures:
    cache: dict[int, AsOfFigures] = ctx.shared.setdefault("asof", {})
    if size in cache and len(cache[size].asof_p50.values) >= rounds:
        return cache[size]
    from infra.readmodels import ReadModels

    url = ctx.datasets.generated(size)
    _ensure_views(ctx, url)
    low, high, planned = _history_bounds(url)
    span = (high - low).total_seconds()
    app = _ledger(url)
    figures = AsOfFigures(
        size,
        *(Figure("ms", better="lower") for _ in range(4)),
        samples,  # type: ignore[arg-type]
    )
    views = _views_module()
    try:
        models = ReadModels(app, Settings())
        models.setup()
        models.tree(planned[-1][1])  # warm up: connections, prepared statements
        for r in range(rounds):
            if views is not None and hasattr(views, "as_of"):
                found = views.as_of(url, samples, seed=r)
                figures.asof_p50.add(found["asof_p50_ms"])
                figures.asof_p99.add(found["asof_p99_ms"])
                figures.live_p50.add(found["live_p50_ms"])
                figures.live_p99.add(found["live_p99_ms"])
                figures.strategy_asof_p50.add(found["strategy_asof_p50_ms"])
                figures.strategy_live_p50.add(found["strategy_live_p50_ms"])
                figures.by = "bench/views.py"
                ctx.say(
                    f"{size:,} events, round {r + 1}: as-of p50 {found['asof_p50_ms']:.1f} ms "
                    f"({found['samples']} instants), live p50 {found['live_p50_ms']:.1f} ms"
                )
                continue
            rng = random.Random(r)
            asof: list[float] = []
            live: list[float] = []
            strategy_asof: list[float] = []
            strategy_live: list[float] = []
            deadline = Deadline(float(ctx.pick(45, 20)))
            for _ in range(samples):
                if deadline.passed:
                    break
                instant = low + timedelta(seconds=rng.uniform(0, span))
                position = models.position_at(instant) or planned[0][0]
                cycle = next(c for p, c in reversed(planned) if p <= max(position, planned[0][0]))
                began = time.perf_counter()
                at = models.position_at(instant)
                models.tree(cycle, position=at if at is not None else 0)
                asof.append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                models.tree(cycle)
                live.append((time.perf_counter() - began) * 1000)
                strategy_asof.append(strategy_reads(models, cycle, at if at is not None else 0))
                strategy_live.append(strategy_reads(models, cycle, None))
            figures.strategy_asof_p50.add(percentile(strategy_asof, 0.5))
            figures.strategy_live_p50.add(percentile(strategy_live, 0.5))
            figures.asof_p50.add(percentile(asof, 0.5))
            figures.asof_p99.add(percentile(asof, 0.99))
            figures.live_p50.add(percentile(live, 0.5))
            figures.live_p99.add(percentile(live, 0.99))
            ctx.say(
                f"{size:,} events, round {r + 1}: as-of p50 {figures.asof_p50.values[-1]:.1f} ms "
                f"({len(asof)} instants), live p50 {figures.live_p50.values[-1]:.1f} ms"
            )
    finally:
        app.close()
    cache[size] = figures
    return figures


def run_asof(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("asof", "tree as of an instant")
    size = ctx.big
    samples = int(ctx.pick(50, 20))
    f = measure_asof(ctx, size, min(ctx.rounds, 3), samples)
    label = "the live view query of the same cycle"
    result.rows += [
        Row(
            "asof",
            f"tree as of a random instant, p50 ({size:,} events)",
            f.asof_p50,
            f.live_p50,
            label,
            paired(f.asof_p50, f.live_p50),
            (Target.at_most(50, "ms"),),
        ),
        Row(
            "asof",
            "tree as of a random instant, p99",
            f.asof_p99,
            f.live_p99,
            label,
            paired(f.asof_p99, f.live_p99),
        ),
        Row(
            "asof",
            f"strategy reads as of a random instant, p50 ({size:,} events)",
            f.strategy_asof_p50,
            f.strategy_live_p50,
            "the live strategy reads",
            paired(f.strategy_asof_p50, f.strategy_live_p50),
        ),
    ]
    result.notes.append(
        f"{samples} random instants per round over the whole history (uniform in commit time), "
        "each timed as position_at + tree(position); the cycle is the latest planned by then "
        f"(measured by {f.by}). The strategy reads at the same instants: strategy, KPIs, "
        "initiatives and the cycle's strategy map (`strategy_reads`)."
    )
    return result


# --------------------------------------------------------------------------- lag


def run_lag(ctx: Context) -> ScenarioResult:
    from infra.readmodels import ReadModels

    result = ScenarioResult("lag", "live views: commit → visible")
    demo = ctx.datasets.demo()
    url = ctx.cluster.scratch("lag", template=demo.database)
    app = _ledger(url, pool_size=6)
    models = ReadModels(app, Settings())
    commits = int(ctx.pick(150, 40))
    pace = 0.05  # 20 commits/s
    p50, p99, worst = (
        Figure("ms", better="lower"),
        Figure("ms", better="lower"),
        Figure("ms", better="lower"),
    )
    timeouts = 0
    try:
        objectives = Objectives(app, demo.active_cycle_id)
        models.start()
        if not models.wait_for(app.recorder.max_notification_id() or 0, 300):
            raise RuntimeError("the live views did not catch up with the demo")
        member = str(objectives.member)
        for _ in range(ctx.rounds):
            objectives.prepare(commits, 1)
            writer = Writer(objectives)
            lags: list[float] = []
            for i in range(commits):
                objective_id, kr = writer.next()
                began = time.perf_counter()
                written = app.check_in(objective_id, kr, float(i), 6, CommandContext(actor=member))
                committed = time.perf_counter()
                if not models.wait_for(written.position or 0, 5.0):
                    timeouts += 1
                lags.append((time.perf_counter() - committed) * 1000)
                time.sleep(max(0.0, pace - (time.perf_counter() - began)))
            p50.add(percentile(lags, 0.5))
            p99.add(percentile(lags, 0.99))
            worst.add(max(lags))
        result.rows += [
            Row("lag", "commit → visible in the views, p50", p50),
            _lag_p99("commit → visible in the views, p99", p99),
            Row("lag", "commit → visible in the views, max", worst),
        ]
        result.notes.append(
            f"{commits} check-ins per round at {1 / pace:.0f}/s, one writer, the live runner in "
            "the same process (as in `okr serve`); timed from the command's return to "
            "`ReadModels.wait_for(position)`"
            + (f"; {timeouts} waits timed out after 5 s" if timeouts else "")
            + "."
        )
    finally:
        models.stop()
        app.close()
    try:
        views = _views_module()
        if views is not None and hasattr(views, "lag"):
            _lag_under_load(ctx, views, url, result)
    finally:
        ctx.cluster.forget(url)
    return result


def _lag_under_load(ctx: Context, views: Any, url: str, result: ScenarioResult) -> None:
    """bench/views.py's lag: one probe writer while another checks in as fast as it can."""
    samples = int(ctx.pick(200, 40))
    p50, p99 = Figure("ms", better="lower"), Figure("ms", better="lower")
    rates = Figure("check-ins/s")
    for _ in range(int(ctx.pick(3, 2))):
        found = views.lag(url, samples)
        p50.add(found["lag_p50_ms"])
        p99.add(found["lag_p99_ms"])
        rates.add(found["write_rate"])
    result.rows += [
        Row("lag", "p50 while another writer checks in flat out", p50),
        _lag_p99(
            "p99 while another writer checks in flat out",
            p99,
            note=f"writes during it: {rates.text()}",
        ),
    ]
    result.notes.append(
        f"under load: bench/views.py's lag(), {samples} probe check-ins per round, 10 ms apart."
    )


# --------------------------------------------------------------------------- growth


def _exponent(sizes: list[int], seconds: list[float]) -> float:
    """k in time ∝ events^k, by least squares on logs."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return (
        sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else float("nan")
    )


def _over_sizes(
    ctx: Context,
    result: ScenarioResult,
    measure: Callable[[int], tuple[list[Row], float, float]],
) -> tuple[list[int], list[float], list[float]]:
    """`measure` at every size of the growth series, its rows added to `result`: the sizes and
    the two figures each size gave (what the notes compare from the smallest to the largest)."""
    sizes = list(ctx.growth_sizes)
    firsts: list[float] = []
    seconds: list[float] = []
    for size in sizes:
        rows, first, second = measure(size)
        result.rows += rows
        firsts.append(first)
        seconds.append(second)
    return sizes, firsts, seconds


def run_growth(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("growth", "rebuild and as-of as the log grows")

    def at(size: int) -> tuple[list[Row], float, float]:
        rb = measure_rebuild(ctx, size, 3 if size < 1_000_000 else ctx.pick(3, 3))
        asof = measure_asof(ctx, size, ctx.pick(3, 2), int(ctx.pick(40, 15)))
        rows = [
            Row(
                "growth",
                f"rebuild, {size:,} events",
                rb.rebuild,
                rb.scan,
                "raw scan",
                paired(rb.rebuild, rb.scan),
            ),
            Row(
                "growth",
                f"as-of p50, {size:,} events",
                asof.asof_p50,
                asof.live_p50,
                "live view query",
                paired(asof.asof_p50, asof.live_p50),
            ),
        ]
        return rows, size / rb.rebuild.median, asof.asof_p50.median

    sizes, rebuild_seconds, asof_ms = _over_sizes(ctx, result, at)
    k_rebuild = _exponent(sizes, rebuild_seconds)
    k_asof = _exponent(sizes, asof_ms)
    verdict = (
        "linear"
        if 0.8 <= k_rebuild <= 1.2
        else ("sub-linear" if k_rebuild < 0.8 else "super-linear")
    )
    result.notes.append(
        f"rebuild time ∝ events^{k_rebuild:.2f} ({verdict}); as-of p50 ∝ events^{k_asof:.2f} "
        "(0 = independent of the log's length); sizes " + ", ".join(f"{s:,}" for s in sizes) + "."
    )
    ctx.shared["growth_exponents"] = {"rebuild": k_rebuild, "asof": k_asof}
    return result


# --------------------------------------------------------------------------- memory


def _server_peak(ctx: Context, size: int) -> tuple[float, float]:
    """Peak RSS of `okr serve` on a copy of the history (views built), after tree requests;
    and its RSS once ready, before any request."""
    from domain.access import Role

    source = ctx.datasets.generated(size)
    _ensure_views(ctx, source)
    name = str(psycopg.conninfo.conninfo_to_dict(source)["dbname"])
    url = ctx.cluster.scratch("mem", template=name)
    try:
        app = _ledger(url, pool_size=2)
        try:
            admin = app.register_person(
                "Bench Admin", "bench-admin@bench.example", CommandContext.system()
            ).id
            secret, _ = app.issue_token(admin, Role.ADMIN, CommandContext.system(), label="bench")
            _, _, planned = _history_bounds(url)
        finally:
            app.close()
        with product_server(url) as server:
            ready = server.peak_rss_mb
            headers = {"Authorization": f"Bearer {secret}"}
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as client:
                for _, cycle in planned[-3:]:
                    for _ in range(5):
                        client.get(f"/api/v1/cycles/{cycle}/tree").raise_for_status()
                client.get("/api/v1/audit", params={"limit": 100}).raise_for_status()
            return server.peak_rss_mb, ready
    finally:
        ctx.cluster.forget(url)


def run_memory(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("memory", "peak memory: server and rebuild")

    def at(size: int) -> tuple[list[Row], float, float]:
        peak, ready = _server_peak(ctx, size)
        server = Row(
            "memory",
            f"okr serve peak RSS, {size:,} events",
            Figure("MB", [peak], "lower"),
            note=f"RSS when ready {ready:,.0f} MB",
        )
        rb = measure_rebuild(ctx, size, 1)
        rebuild = Row(
            "memory",
            f"rebuild peak RSS, {size:,} events",
            rb.peak,
            note=f"growth during the rebuild {rb.growth.text()}"
            + (f", helper process {rb.helper_peak.text()}" if any(rb.helper_peak.values) else "")
            + f", views' tables {rb.views_mb:,.0f} MB",
        )
        return [server, rebuild], peak, rb.peak.median

    sizes, servers, rebuilds = _over_sizes(ctx, result, at)
    for label, peak in ctx.shared.get("server_peak_mb", {}).items():
        result.rows.append(
            Row("memory", f"okr serve peak RSS, {label}", Figure("MB", [peak], "lower"))
        )
    result.notes.append(
        f"from {sizes[0]:,} to {sizes[-1]:,} events ({sizes[-1] / sizes[0]:,.0f}×): server peak "
        f"×{servers[-1] / servers[0]:.2f}, rebuild peak ×{rebuilds[-1] / rebuilds[0]:.2f}. "
        "Server: `okr serve` on a copy of the history with its views built, after 15 tree "
        "requests and an audit page; rebuild: the rebuild processes of the growth scenario."
    )
    return result
