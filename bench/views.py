"""Read-side benchmarks: rebuild against the raw scan, as-of tree latency, live view lag.

    .venv/bin/python bench/views.py --events 10000            # a quick run (about a minute)
    .venv/bin/python bench/views.py --events 1000000          # the figures in docs/performance.md

The history is generated once per size by bench/generate.py into the database
`okr_bench_views_<events>` on the server of `--server` (default: `OKR_DATABASE_URL`'s), and
reused by later runs. Then, in this order:

1. **raw scan**: every row of the events table in pages of 5,000 (tuple rows, no decoding):
   the floor under any rebuild, measured in the same run;
2. **scan + decode**: the same pages joined with the chain (commit times) and decoded into
   domain events: what a rebuild reads before it folds;
3. **rebuild**: `Rebuild(...).run(None)`, every view, end to end (with its phases);
4. **as-of**: `position_at(instant)` + `tree(cycle, position=...)` at random instants between
   the first and the last commit (the cycle: the latest planned by then), beside the live
   `tree(cycle)` of the same cycles; plus the time-travel tables' size;
5. **lag**: with the live runner running (as in `okr serve`), a probe checks in, then waits for
   its position to be visible, while a second writer checks in as fast as it can.

Prints a table, and with `--json` one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import tuple_row

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.cycle import Cadence, Scoring
from domain.objective import Kind
from domain.scoring import Direction, Measure
from domain.team import MemberRole
from infra.eventstore import ensure_database, eventsourcing_env
from infra.readmodels import ReadModels
from infra.settings import Settings
from infra.views.log import LogReader
from infra.views.rebuild import Rebuild

PAGE = 5000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"pool_size": 8, "lock_timeout_seconds": 60}
    values.update(overrides)
    return Settings(**values)


def ledger(url: str) -> OkrLedger:
    return OkrLedger(env=eventsourcing_env(url, settings()))


# ------------------------------------------------------------------- dataset


def dataset(server: str, events: int) -> str:
    """A database holding a generated history of `events` events (generated once)."""
    url = make_conninfo(server, dbname=f"okr_bench_views_{events}")
    ensure_database(url)
    app = ledger(url)
    try:
        have = app.recorder.max_notification_id() or 0
    finally:
        app.close()
    if have >= events:
        return url
    if have:
        raise SystemExit(f"{url} holds {have} events, fewer than {events}: drop it first")
    from bench.generate import Generator

    app = ledger(url)
    try:
        started = time.perf_counter()
        generator = Generator(app, events)
        generator.run()
        print(
            f"generated {generator.written:,} events in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    finally:
        app.close()
    return url


# ----------------------------------------------------------------- the scans


def raw_scan(url: str) -> tuple[int, float]:
    query = (
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM okrledger_events WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    )
    with psycopg.connect(url) as conn, conn.cursor(row_factory=tuple_row) as curs:
        began, after, count = time.perf_counter(), 0, 0
        while True:
            rows = curs.execute(query, (after, PAGE), prepare=True).fetchall()
            if not rows:
                return count, time.perf_counter() - began
            count += len(rows)
            after = rows[-1][0]


def scan_and_decode(url: str) -> tuple[int, float, float]:
    app = ledger(url)
    try:
        log = LogReader(app.recorder, app.mapper)  # type: ignore[arg-type]
        with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            began, after, count, cpu = time.perf_counter(), 0, 0, time.process_time()
            while True:
                rows = log.page_rows(conn, after, 2**62, PAGE)
                if not rows:
                    return count, time.perf_counter() - began, time.process_time() - cpu
                log.logged(rows)
                gc.freeze()  # as the rebuild does per page (the decoder's id tables only grow)
                count += len(rows)
                after = rows[-1][0]
    finally:
        gc.unfreeze()
        app.close()


def fold_alone(url: str) -> tuple[int, float]:
    """The views' fold with no reading and no writing: `Model.apply_all` over decoded pages,
    checkpoint documents and narration included, timed by the CPU it takes (the pages are
    fetched and decoded untimed). 1 / this cost per event is what one core can fold at best,
    before a rebuild reads or writes anything: the ceiling of any rebuild on N cores is N
    times that. Returns (events, CPU seconds of the fold)."""
    from infra.views.memory import collector_paused
    from infra.views.model import VIEWS, Model

    app = ledger(url)
    model = Model(VIEWS, settings().checkpoint_every)
    log = LogReader(app.recorder, app.mapper)  # type: ignore[arg-type]
    try:
        # As the rebuild does: the collector off, the model frozen page by page.
        with collector_paused(), app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            after, count, folding = 0, 0, 0.0
            while rows := log.page_rows(conn, after, 2**62, PAGE):
                page = log.logged(rows)
                began = time.process_time()
                model.apply_all(page)
                model.take_changes()
                folding += time.process_time() - began
                gc.freeze()
                count += len(rows)
                after = rows[-1][0]
    finally:
        app.close()
    return count, folding


def machine_cpu_seconds() -> float:
    """CPU time of the whole machine, every process (PostgreSQL's too), every core."""
    import psutil

    times = psutil.cpu_times()
    return float(times.user + times.system + getattr(times, "nice", 0.0))


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the rebuild's helpers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def rebuild(url: str, workers: int | None) -> dict[str, Any]:
    app = ledger(url)
    try:
        began, cpu, machine = time.perf_counter(), cpu_seconds(), machine_cpu_seconds()
        report = Rebuild(app, settings(), workers=workers).run(None)
        seconds = time.perf_counter() - began
        cpu = cpu_seconds() - cpu
        machine = machine_cpu_seconds() - machine
        return {
            "events": report.events,
            "seconds": seconds,
            "rate": report.events / seconds,
            "cpu_seconds": cpu,
            "cpu_us_per_event": cpu / report.events * 1e6 if report.events else 0.0,
            "machine_cpu_us_per_event": machine / report.events * 1e6 if report.events else 0.0,
            "phases": report.seconds,
            "helpers": report.helper,
        }
    finally:
        app.close()


# -------------------------------------------------------------------- as-of


def as_of(url: str, samples: int, seed: int) -> dict[str, Any]:
    app = ledger(url)
    readmodels = ReadModels(app, settings())
    readmodels.setup()
    rng = random.Random(seed)
    try:
        with psycopg.connect(url) as conn:
            first, last = conn.execute(
                "SELECT min(committed_at), max(committed_at) FROM okrledger_events_chain"
            ).fetchone()  # type: ignore[misc]
            sizes = dict(
                conn.execute(
                    "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                    "WHERE relname IN ('view_tt_objectives', 'view_tt_organisation', "
                    "'view_tt_checkpoints') OR (relname LIKE 'view\\_%' AND relkind = 'r')"
                ).fetchall()
            )
            documents = conn.execute("SELECT count(*) FROM view_tt_objectives").fetchone()
        directory = readmodels.directory()
        planned = sorted(
            (entry.phase_history[0].position, cycle_id)
            for cycle_id, entry in directory.cycles.items()
        )
        from bench.scenarios.readside import strategy_reads

        asof: list[float] = []
        live: list[float] = []
        strategy_asof: list[float] = []
        strategy_live: list[float] = []
        objectives: list[int] = []
        for _ in range(samples):
            instant = first + (last - first) * rng.random()
            began = time.perf_counter()
            position = readmodels.position_at(instant)
            if position is None:
                continue
            cycles = [c for p, c in planned if p <= position]
            if not cycles:
                continue
            tree = readmodels.tree(cycles[-1], position=position)
            asof.append((time.perf_counter() - began) * 1000)
            objectives.append(_count(tree))
            began = time.perf_counter()
            readmodels.tree(cycles[-1])
            live.append((time.perf_counter() - began) * 1000)
            strategy_asof.append(strategy_reads(readmodels, cycles[-1], position))
            strategy_live.append(strategy_reads(readmodels, cycles[-1], None))
        tt = sum(v for k, v in sizes.items() if k.startswith("view_tt_"))
        views = sum(v for k, v in sizes.items() if not k.startswith("view_tt_"))
        return {
            "samples": len(asof),
            "asof_p50_ms": percentile(asof, 0.5),
            "asof_p99_ms": percentile(asof, 0.99),
            "live_p50_ms": percentile(live, 0.5),
            "live_p99_ms": percentile(live, 0.99),
            "strategy_asof_p50_ms": percentile(strategy_asof, 0.5),
            "strategy_live_p50_ms": percentile(strategy_live, 0.5),
            "objectives_per_tree": statistics.mean(objectives) if objectives else 0,
            "checkpoint_documents": documents[0] if documents else 0,
            "checkpoints_mb": tt / 2**20,
            "views_mb": views / 2**20,
        }
    finally:
        app.close()


def _count(nodes: list[dict[str, Any]]) -> int:
    return sum(1 + _count(n.get("children", [])) for n in nodes)


# ---------------------------------------------------------------------- lag


def lag(url: str, samples: int) -> dict[str, Any]:
    app = ledger(url)
    other = ledger(url)
    readmodels = ReadModels(app, settings())
    readmodels.start()
    try:
        assert readmodels.wait_for(app.recorder.max_notification_id() or 0, 600)
        krs = _tracked_objective(app)
        busy = _tracked_objective(app)  # the background writer's own, so no version conflicts
        stop = threading.Event()
        written = {"n": 0}

        def background() -> None:
            n = 0
            while not stop.is_set():
                objective_id, kr_id = busy[n % len(busy)]
                other.check_in(objective_id, kr_id, float(n % 50), 6, _ctx())
                n += 1
            written["n"] = n

        writer = threading.Thread(target=background)
        writer.start()
        lags: list[float] = []
        began = time.perf_counter()
        for n in range(samples):
            objective_id, kr_id = krs[n % len(krs)]
            result = app.check_in(objective_id, kr_id, float(n % 50), 7, _ctx())
            committed = time.perf_counter()
            assert result.position is not None
            if not readmodels.wait_for(result.position, 10):
                raise RuntimeError("the views did not catch up within 10 s")
            lags.append((time.perf_counter() - committed) * 1000)
            time.sleep(0.01)
        seconds = time.perf_counter() - began
        stop.set()
        writer.join()
        return {
            "samples": len(lags),
            "lag_p50_ms": percentile(lags, 0.5),
            "lag_p99_ms": percentile(lags, 0.99),
            "lag_max_ms": max(lags),
            "write_rate": (written["n"] + samples) / seconds,
        }
    finally:
        readmodels.stop()
        app.close()
        other.close()


def _ctx() -> CommandContext:
    return CommandContext(actor="system")


def _tracked_objective(app: OkrLedger) -> list[tuple[UUID, UUID]]:
    """An approved objective with three key results in an active cycle of its own."""
    tag = os.urandom(4).hex()
    ctx = _ctx
    owner = app.register_person(f"Lag {tag}", f"lag-{tag}@bench.example", ctx()).id
    approver = app.register_person(f"Approver {tag}", f"approver-{tag}@bench.example", ctx()).id
    team = app.form_team(f"Lag team {tag}", ctx()).id
    app.add_team_member(team, owner, MemberRole.MEMBER, ctx())
    today = datetime.now(UTC).date()
    cycle = app.plan_cycle(
        f"Lag {tag}",
        today - timedelta(days=10),
        today + timedelta(days=80),
        ctx(),
        cadence=Cadence.WEEKLY,
        scoring=Scoring.SCALE,
    ).id
    objective = app.draft_objective(
        cycle_id=cycle,
        title="Keep the views fresh",
        kind=Kind.COMMITTED,
        ctx=ctx(),
        owner_team_id=team,
    ).id
    krs = [
        app.add_key_result(
            objective,
            title=f"Metric {n}",
            measure=Measure.METRIC,
            baseline=0,
            target=100,
            direction=Direction.INCREASE,
            ctx=ctx(),
        ).extra_id
        for n in range(3)
    ]
    app.submit_objective(objective, approver, CommandContext(actor=str(owner)))
    app.approve_objective(objective, CommandContext(actor=str(approver)))
    app.start_cycle(cycle, ctx())
    return [(objective, kr) for kr in krs if kr is not None]


# --------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--server", default=os.environ.get("OKR_DATABASE_URL"))
    parser.add_argument(
        "--database-url", help="an existing history to measure instead of a generated one"
    )
    parser.add_argument("--asof", type=int, default=200, help="as-of samples")
    parser.add_argument("--lag", type=int, default=500, help="lag samples")
    parser.add_argument("--workers", type=int, default=None, help="rebuild processes (1 or 2)")
    parser.add_argument("--skip", nargs="*", default=[], help="rebuild, asof, lag")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.server and not args.database_url:
        parser.error("--server, --database-url or OKR_DATABASE_URL is required")
    if args.server and not conninfo_to_dict(args.server).get("dbname"):
        args.server = make_conninfo(args.server, dbname="postgres")
    url = args.database_url or dataset(args.server, args.events)
    load = os.getloadavg()
    figures: dict[str, Any] = {"events": args.events, "load_average_at_start": load}
    raw = max((raw_scan(url) for _ in range(2)), key=lambda r: r[0] / r[1])
    figures["raw_scan_rate"] = raw[0] / raw[1]
    decoded = scan_and_decode(url)
    figures["scan_decode_rate"] = decoded[0] / decoded[1]
    figures["scan_decode_cpu_us_per_event"] = decoded[2] / decoded[0] * 1e6
    say(figures)
    if "rebuild" not in args.skip:
        figures["rebuild"] = rebuild(url, args.workers)
        figures["rebuild_vs_raw"] = figures["rebuild"]["rate"] / figures["raw_scan_rate"]
        say(figures)
    if "asof" not in args.skip:
        figures["asof"] = as_of(url, args.asof, seed=1)
        say(figures)
    if "lag" not in args.skip:
        figures["lag"] = lag(url, args.lag)
    figures["load_average_at_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(figures, default=str))
        return
    print(table(figures))


def say(figures: dict[str, Any]) -> None:
    """Progress on stderr: a long run's figures survive a later phase's failure."""
    print(json.dumps(figures, default=str), file=sys.stderr, flush=True)


def table(f: dict[str, Any]) -> str:
    rows = [
        ("events", f"{f['events']:,}"),
        ("raw scan of the events table", f"{f['raw_scan_rate']:,.0f} events/s"),
        (
            "scan + decode (chain join, domain events)",
            f"{f['scan_decode_rate']:,.0f} events/s "
            f"({f['scan_decode_cpu_us_per_event']:.1f} µs CPU/event)",
        ),
    ]
    if "rebuild" in f:
        r = f["rebuild"]
        rows += [
            ("rebuild of every view", f"{r['rate']:,.0f} events/s ({r['seconds']:.1f} s)"),
            ("rebuild ÷ raw scan", f"{f['rebuild_vs_raw']:.2f}×"),
            ("rebuild CPU (all processes)", f"{r['cpu_us_per_event']:.0f} µs/event"),
            ("rebuild phases (s)", ", ".join(f"{k} {v:.1f}" for k, v in r["phases"].items())),
        ]
    if "asof" in f:
        a = f["asof"]
        rows += [
            ("as-of tree p50 / p99", f"{a['asof_p50_ms']:.1f} / {a['asof_p99_ms']:.1f} ms"),
            ("live tree p50 / p99", f"{a['live_p50_ms']:.1f} / {a['live_p99_ms']:.1f} ms"),
            (
                "strategy reads p50, as-of / live",
                f"{a['strategy_asof_p50_ms']:.1f} / {a['strategy_live_p50_ms']:.1f} ms",
            ),
            ("objectives per tree (mean)", f"{a['objectives_per_tree']:.0f}"),
            (
                "checkpoints",
                f"{a['checkpoint_documents']:,} documents, {a['checkpoints_mb']:.0f} MB",
            ),
            ("views (without checkpoints)", f"{a['views_mb']:.0f} MB"),
        ]
    if "lag" in f:
        g = f["lag"]
        rows += [
            ("lag commit → visible p50 / p99", f"{g['lag_p50_ms']:.1f} / {g['lag_p99_ms']:.1f} ms"),
            ("lag max", f"{g['lag_max_ms']:.1f} ms (writes {g['write_rate']:,.0f}/s)"),
        ]
    load = ", ".join(f"{x:.1f}" for x in f["load_average_at_start"])
    rows.append(("load average at start", load))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


if __name__ == "__main__":
    main()
