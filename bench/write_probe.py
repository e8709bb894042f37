"""What one check-in costs the writing thread, on an objective with a long history.

    python -m bench.write_probe [--history 500] [--check-ins 100] [--rounds 5] [--data DIR]
                                [--parts] [--profile FILE]

One process, one writer: an approved objective (the test organisation of `tests/unit/builders`)
gets `--history` check-ins (one in ten a correction) through `check_in_many`, then `--rounds`
rounds of `--check-ins` check-ins through `OkrLedger.check_in`, each timed by the thread's CPU
(`time.thread_time`) and the wall clock. The objective stays cached, so each check-in is the
steady state of the write path: the cached pair's copies handed to the command (no read of the
store), the rule, the save conditioned on the cycle being unchanged. Prints one JSON object
(per round: CPU and wall milliseconds per check-in).

With ``--parts`` the rounds also time, by the thread's CPU, the parts of a check-in (each
method wrapped: loading the objective and its cycle, from the store with its query or from
the cache, and the copies; the domain rule with the event's creation; the save, with the
mapper's encoding, the recorder's insert and the cache's advance; the rest is the
difference), per check-in in microseconds. The wrappers cost about a microsecond each. With
``--profile FILE`` the rounds run under cProfile (whose own overhead inflates small calls)
and its statistics go to FILE.

PostgreSQL: the embedded server with its cluster in `--data` (started if not running, left
running so that runs can alternate; `--stop` stops it), or `OKR_BENCH_DATABASE_URL`.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo

from domain.application import OkrLedger
from domain.base import OkrAggregate
from domain.ledger.objectives import CheckInEntry
from domain.objective import Objective
from infra.audit.personal import PersonalDataMapper
from infra.chain import ChainedApplicationRecorder
from infra.eventstore import ensure_database, eventsourcing_env
from infra.settings import Settings
from tests.unit.builders import ADMIN, ALICE, an_org, ctx

PARTS: tuple[tuple[str, type, str], ...] = (
    ("load from the store (objective and cycle)", OkrLedger, "_load_with"),
    ("load: the events query", ChainedApplicationRecorder, "select_events_after"),
    ("load from the cache, no read (objective and cycle)", OkrLedger, "_cached_copies"),
    ("load or cache: the copies", OkrAggregate, "__deepcopy__"),
    ("rule (check-in and its event)", Objective, "check_in"),
    ("save (Application.save)", OkrLedger, "save"),
    ("save: encoding (mapper)", PersonalDataMapper, "to_stored_event"),
    ("save: insert and commit (recorder)", ChainedApplicationRecorder, "insert_events"),
    ("save: the cache moved on", OkrLedger, "_advance_cache"),
)
"""Parts timed by ``--parts``: (name, class, method). Names with a colon are inside the part
(or parts) named before it. A check-in loads from the store or from the cache (see
`ObjectiveLedger._on_objective`); the copies are made by either."""


class Parts:
    """The thread's CPU spent in each wrapped method (inclusive), in seconds."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {name: 0.0 for name, _, _ in PARTS}
        self.depth: dict[str, int] = {name: 0 for name, _, _ in PARTS}

    def wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        spent, depth = self.spent, self.depth

        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if depth[name]:  # a recursive call is inside the outer one's time
                return method(*args, **kwargs)
            depth[name] += 1
            started = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] += time.thread_time() - started
                depth[name] -= 1

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        owners = [next(c for c in cls.__mro__ if attr in c.__dict__) for _, cls, attr in PARTS]
        originals = [
            (owner, attr, owner.__dict__[attr])
            for owner, (_, _, attr) in zip(owners, PARTS, strict=True)
        ]
        try:
            for (name, _, _), (owner, attr, original) in zip(PARTS, originals, strict=True):
                setattr(owner, attr, self.wrap(name, original))
            yield
        finally:
            for cls, attr, original in originals:
                setattr(cls, attr, original)


def probe(
    url: str,
    history: int,
    check_ins: int,
    rounds: int,
    parts: bool = False,
    profile: Path | None = None,
) -> dict[str, Any]:
    env = eventsourcing_env(url, Settings(pool_size=4, lock_timeout_seconds=60))
    app = OkrLedger(env={**env, OkrLedger.PERSON_ID_SECRET: ""})  # the builders' person ids
    try:
        org = an_org(app)
        objective_id, kr_id = org.approved_objective()
        app.start_cycle(org.q2_id, ctx(ADMIN))
        entries = [CheckInEntry(objective_id, kr_id, float(i), 7) for i in range(history)]
        made = app.check_in_many(entries, ctx(ALICE))
        for result in made[::10]:  # one in ten corrected
            assert result.extra_id is not None
            app.correct_check_in(objective_id, kr_id, result.extra_id, 1.0, "recount", ctx(ALICE))
        app.check_in(objective_id, kr_id, 1.0, 7, ctx(ALICE))  # warm: the pair is cached
        cpu, wall = [], []
        timed = Parts()
        profiler = cProfile.Profile(time.thread_time) if profile is not None else None
        with timed.installed() if parts else contextlib.nullcontext():
            for _ in range(rounds):
                contexts = [ctx(ALICE) for _ in range(check_ins)]
                if profiler is not None:
                    profiler.enable()
                cpu_started, wall_started = time.thread_time(), time.perf_counter()
                for i, context in enumerate(contexts):
                    app.check_in(objective_id, kr_id, float(i), 7, context)
                cpu.append((time.thread_time() - cpu_started) * 1000 / check_ins)
                wall.append((time.perf_counter() - wall_started) * 1000 / check_ins)
                if profiler is not None:
                    profiler.disable()
        if profiler is not None and profile is not None:
            profiler.dump_stats(profile)
        stored = len(app.get_objective(objective_id).key_results[kr_id].check_ins)
        answer: dict[str, Any] = {
            "check_ins_on_the_objective": stored,
            "cpu_ms_per_check_in": [round(v, 3) for v in cpu],
            "cpu_ms_median": round(statistics.median(cpu), 3),
            "wall_ms_per_check_in": [round(v, 3) for v in wall],
            "wall_ms_median": round(statistics.median(wall), 3),
            "load_average": [round(v, 2) for v in os.getloadavg()],
        }
        if parts:
            mean_us = statistics.fmean(cpu) * 1000
            per = {name: spent * 1e6 / (check_ins * rounds) for name, spent in timed.spent.items()}
            outer = sum(v for name, v in per.items() if ":" not in name)
            per["the rest (the command's own work, the result)"] = mean_us - outer
            answer["cpu_us_per_check_in_by_part"] = {k: round(v, 1) for k, v in per.items()}
        return answer
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=500)
    parser.add_argument("--check-ins", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=Path("/tmp/okr-write-probe"))
    parser.add_argument("--parts", action="store_true", help="time the parts of a check-in")
    parser.add_argument("--profile", type=Path, help="write cProfile statistics to this file")
    parser.add_argument("--stop", action="store_true", help="stop the embedded server and exit")
    args = parser.parse_args()
    from infra.embedded import start_embedded_postgres, stop_embedded_postgres

    if args.stop:
        stop_embedded_postgres(args.data)
        return
    server = os.environ.get("OKR_BENCH_DATABASE_URL") or start_embedded_postgres(
        args.data, stop_on_exit=False
    )
    url = make_conninfo(server, dbname=f"write_probe_{uuid.uuid4().hex[:8]}")
    ensure_database(url)
    print(
        json.dumps(probe(url, args.history, args.check_ins, args.rounds, args.parts, args.profile))
    )


if __name__ == "__main__":
    main()
