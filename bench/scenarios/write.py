"""Command write path: check-ins through `OkrLedger.check_in` with 1 and 8 concurrent writers,
beside single-row INSERT … COMMIT transactions on the same server with as many connections.

Each product check-in loads its objective and cycle, runs the domain rules, and saves one
event with its hash-chain link under the events table's lock. The raw rows weigh what a
stored check-in weighs (a real one's state is copied).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from bench.harness import Figure, Row, ScenarioResult, Target, alternate, paired, percentile
from bench.raw import concurrent, raw_copy, raw_inserts, typical_state
from bench.scenarios import Context
from bench.scenarios.fixtures import Objectives, Writer
from domain.application import OkrLedger
from domain.base import CommandContext
from domain.ledger.objectives import CheckInEntry
from infra.chain import ChainedApplicationRecorder as ChainedRecorder
from infra.eventstore import eventsourcing_env
from infra.settings import Settings

WRITERS = (1, 8)


@dataclass(frozen=True)
class _Setup:
    """What every check-in measurement works on: the run, the objectives the check-ins go to,
    one product check-in, and the scratch copy's URL and raw row for the raw side."""

    ctx: Context
    objectives: Objectives
    check_in: Callable[[Writer], None]
    url: str
    state: bytes


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("write", "command write path")
    demo = ctx.datasets.demo()
    url = ctx.cluster.scratch("write", template=demo.database)
    app = OkrLedger(env=eventsourcing_env(url, Settings(pool_size=10, lock_timeout_seconds=30)))
    try:
        objectives = Objectives(app, demo.active_cycle_id)
        member = str(objectives.member)
        seconds = float(ctx.pick(5.0, 1.5))
        limit = int(ctx.pick(5000, 1000))
        rng = random.Random(1)

        def check_in(writer: Writer) -> None:
            objective_id, kr = writer.next()
            app.check_in(
                objective_id, kr, round(rng.uniform(0, 100), 1), 7, CommandContext(actor=member)
            )

        warm = Writer(objectives)
        for _ in range(20):
            check_in(warm)
        state = typical_state(url)
        ctx.say(f"demo copy with {demo.events:,} events; raw rows of {len(state)} bytes")

        setup = _Setup(ctx, objectives, check_in, url, state)
        group = app.recorder.group_commit if isinstance(app.recorder, ChainedRecorder) else None
        for writers in WRITERS:
            batches, writes = (group.batches, group.writes) if group else (0, 0)
            result.rows += _measure(setup, writers, seconds, limit)
            if group is not None and group.batches > batches:
                per_commit = (group.writes - writes) / (group.batches - batches)
                result.notes.append(
                    f"group commit, {writers} writer(s): {per_commit:.2f} saves per transaction"
                )
        result.rows += _low_load(setup)
        result.rows += _bulk(ctx, app, demo.active_cycle_id, url, state)
        result.notes.append(
            f"{seconds:g} s per round (at most {limit:,} check-ins), {ctx.rounds} rounds "
            "alternating product and raw; check-ins spread over fresh approved objectives "
            f"({objectives.per_objective} each at most) of the demo's active cycle."
        )
    finally:
        app.close()
        ctx.cluster.forget(url)
    return result


def _measure(setup: _Setup, writers: int, seconds: float, limit: int) -> list[Row]:
    ctx, objectives, check_in = setup.ctx, setup.objectives, setup.check_in
    product = Figure("check-ins/s")
    raw = Figure("commits/s")
    p50 = Figure("ms", better="lower")
    p99 = Figure("ms", better="lower")

    def product_round(_: int) -> None:
        objectives.prepare(limit, writers)
        streams = [Writer(objectives) for _ in range(writers)]
        done, elapsed, latencies = concurrent(
            writers, seconds, lambda w: lambda: check_in(streams[w]), limit
        )
        product.add(done / elapsed)
        p50.add(percentile(latencies, 0.5))
        p99.add(percentile(latencies, 0.99))

    def raw_round(_: int) -> None:
        done, elapsed = raw_inserts(setup.url, writers, seconds, setup.state)
        raw.add(done / elapsed)

    started = time.perf_counter()
    alternate(ctx.rounds, product_round, raw_round)
    ctx.say(
        f"{writers} writer(s): product {product.median:,.0f}/s, raw {raw.median:,.0f}/s "
        f"({time.perf_counter() - started:.0f} s)"
    )
    label = "writer" if writers == 1 else "concurrent writers"
    return [
        Row(
            "write",
            f"check-ins/s, {writers} {label}",
            product,
            raw,
            f"single-row INSERT…COMMIT, {writers} connection{'s' if writers > 1 else ''}",
            paired(product, raw),
            (Target.ratio(0.8),),
        ),
        Row("write", f"check-in latency p50, {writers} {label}", p50),
        Row("write", f"check-in latency p99, {writers} {label}", p99),
    ]


BULK_CHUNK = 5000
"""Check-ins per `check_in_many` call (one transaction) in the bulk row."""


def _bulk(ctx: Context, app: OkrLedger, cycle_id: UUID, url: str, state: bytes) -> list[Row]:
    """An imported history: `events` check-ins through `check_in_many` (the domain's rules,
    many events per transaction on the bulk path) against raw `COPY` of as many rows."""
    events = int(ctx.pick(100_000, 10_000))
    per_objective = 1000
    rounds = min(ctx.rounds, 3)
    objectives = Objectives(app, cycle_id, per_objective)
    objectives.prepare(events * rounds, 1)
    member = CommandContext(actor=str(objectives.member))
    product = Figure("events/s")
    raw = Figure("rows/s")
    rng = random.Random(2)

    def product_round(_: int) -> None:
        entries = []
        while len(entries) < events:
            slot = objectives.take()
            for _ in range(min(per_objective, events - len(entries))):
                entries.append(
                    CheckInEntry(
                        slot.objective_id,
                        slot.next_key_result(),
                        round(rng.uniform(0, 100), 1),
                        7,
                    )
                )
        began = time.perf_counter()
        for start in range(0, len(entries), BULK_CHUNK):
            app.check_in_many(entries[start : start + BULK_CHUNK], member)
        product.add(len(entries) / (time.perf_counter() - began))

    def raw_round(_: int) -> None:
        done, elapsed = raw_copy(url, events, state)
        raw.add(done / elapsed)

    started = time.perf_counter()
    alternate(rounds, product_round, raw_round)
    ctx.say(
        f"bulk: product {product.median:,.0f} events/s, raw COPY {raw.median:,.0f} rows/s "
        f"({time.perf_counter() - started:.0f} s)"
    )
    return [
        Row(
            "write",
            f"bulk import of {events:,} check-ins (check_in_many, {BULK_CHUNK:,} a transaction)",
            product,
            raw,
            f"COPY of {events:,} rows, one transaction",
            paired(product, raw),
            (Target.at_least(20_000, "events/s"),),
        )
    ]


def _low_load(setup: _Setup) -> list[Row]:
    """What the group commit costs a save when it is not busy: two writers at 10 check-ins/s
    each (a save sometimes arrives while the other's commit is in flight and waits for it),
    beside one raw INSERT…COMMIT's time on one connection in the same round."""
    ctx, objectives, check_in = setup.ctx, setup.objectives, setup.check_in
    count = int(ctx.pick(100, 40))
    p50 = Figure("ms", better="lower")
    p99 = Figure("ms", better="lower")
    commit = Figure("ms", better="lower")

    def product_round(_: int) -> None:
        objectives.prepare(2 * count, 2)
        latencies: list[float] = []

        def paced(writer: Writer, offset: float) -> None:
            time.sleep(offset)
            began = time.perf_counter()
            for n in range(count):
                time.sleep(max(0.0, began + n / 10 - time.perf_counter()))
                start = time.perf_counter()
                check_in(writer)
                latencies.append((time.perf_counter() - start) * 1000)

        writers = [Writer(objectives) for _ in range(2)]
        threads = [
            threading.Thread(target=paced, args=(w, i * 0.037)) for i, w in enumerate(writers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        p50.add(percentile(latencies, 0.5))
        p99.add(percentile(latencies, 0.99))

    def raw_round(_: int) -> None:
        done, elapsed = raw_inserts(setup.url, 1, 1.0, setup.state)
        commit.add(elapsed / done * 1000)

    alternate(min(ctx.rounds, 3), product_round, raw_round)
    raw_label = "one INSERT…COMMIT, 1 connection (1 / its rate)"
    return [
        Row(
            "write",
            "check-in latency p50 at low load (2 writers, 10/s each)",
            p50,
            commit,
            raw_label,
            paired(p50, commit),
        ),
        Row(
            "write", "check-in latency p99 at low load", p99, commit, raw_label, paired(p99, commit)
        ),
    ]
