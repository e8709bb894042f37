"""What one check-in costs the writing thread, on an objective with a long history.

    python -m bench.write_probe [--history 500] [--check-ins 100] [--rounds 5] [--data DIR]

One process, one writer: an approved objective (the test organisation of `tests/unit/builders`)
gets `--history` check-ins (one in ten a correction) through `check_in_many`, then `--rounds`
rounds of `--check-ins` check-ins through `OkrLedger.check_in`, each timed by the thread's CPU
(`time.thread_time`) and the wall clock. The objective stays cached, so each check-in is the
steady state of the write path: the fast-forward of the pair, the copy handed to the command,
the rule, the save. Prints one JSON object (per round: CPU and wall milliseconds per check-in).

PostgreSQL: the embedded server with its cluster in `--data` (started if not running, left
running so that runs can alternate; `--stop` stops it), or `OKR_BENCH_DATABASE_URL`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo

from domain.application import OkrLedger
from domain.ledger.objectives import CheckInEntry
from infra.eventstore import ensure_database, eventsourcing_env
from infra.settings import Settings
from tests.unit.builders import ADMIN, ALICE, an_org, ctx


def probe(url: str, history: int, check_ins: int, rounds: int) -> dict[str, Any]:
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
        for _ in range(rounds):
            cpu_started, wall_started = time.thread_time(), time.perf_counter()
            for i in range(check_ins):
                app.check_in(objective_id, kr_id, float(i), 7, ctx(ALICE))
            cpu.append((time.thread_time() - cpu_started) * 1000 / check_ins)
            wall.append((time.perf_counter() - wall_started) * 1000 / check_ins)
        stored = len(app.get_objective(objective_id).key_results[kr_id].check_ins)
        return {
            "check_ins_on_the_objective": stored,
            "cpu_ms_per_check_in": [round(v, 3) for v in cpu],
            "cpu_ms_median": round(statistics.median(cpu), 3),
            "wall_ms_per_check_in": [round(v, 3) for v in wall],
            "wall_ms_median": round(statistics.median(wall), 3),
        }
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=500)
    parser.add_argument("--check-ins", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=Path("/tmp/okr-write-probe"))
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
    print(json.dumps(probe(url, args.history, args.check_ins, args.rounds)))


if __name__ == "__main__":
    main()
