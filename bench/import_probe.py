"""Where an import's CPU goes, part by part, in one process and without a database.

    python -m bench.import_probe [--rows 100000] [--profile PART] [--repeat 1]

The bench's history file (`bench/history_file.py`, cached) is read (`read_file`), parsed into
records (`read_records`), planned through the domain (`Planner.run`, on an in-memory ledger
holding only the importing admin) and encoded as the bulk writer encodes it (the typed encoder,
and the mapper's generic encoding for comparison), then linked onto a chain
(`infra.chainhash.link_hash`). Each part is timed by the process's CPU. Prints one JSON object:
CPU µs per event by part. `--profile PART` prints that part's cProfile (top 30 by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import platformdirs

from bench.history_file import cached_history


def probe(rows: int, profile: str | None) -> dict[str, Any]:
    from api.imports.plan import Names, Planner, Source
    from api.imports.reading import read_file
    from api.imports.records import read_records
    from domain.application import OkrLedger
    from domain.base import CommandContext
    from infra.chainhash import GENESIS_HASH, link_hash
    from infra.event_encoding import TypedEncoder

    folder = Path(os.environ.get("OKR_BENCH_FILES") or platformdirs.user_cache_path("okr-bench"))
    path = cached_history(folder / "files", rows, date.today())
    content = path.read_bytes()
    app = OkrLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    admin = app.register_person("History Admin", "admin@bench.example", CommandContext.system())
    seconds: dict[str, float] = {}
    out: dict[str, Any] = {}

    def timed(part: str, work: Callable[[], Any]) -> Any:
        profiler = cProfile.Profile() if profile == part else None
        began = time.process_time()
        if profiler is not None:
            profiler.enable()
        result = work()
        if profiler is not None:
            profiler.disable()
        seconds[part] = time.process_time() - began
        if profiler is not None:
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(30)
        return result

    sheets = timed("read", lambda: read_file(path.name, content))
    records = timed("parse", lambda: read_records("okrledger", sheets))
    planner = Planner(
        app,
        Names({}, {}),
        Source(path.name, "0" * 64, "okrledger"),
        admin.aggregate_id if hasattr(admin, "aggregate_id") else admin.id,
    )
    plan = timed("plan", lambda: planner.run(records))
    assert not plan.errors, plan.errors[:3]
    events = [e for batch in plan.batches for e in batch.events]
    mapper = app.mapper
    stored = timed("encode_mapper", lambda: [mapper.to_stored_event(e) for e in events])
    encoder = TypedEncoder(mapper)
    typed = timed("encode_typed", lambda: encoder.encode_all(events))
    out["typed_fallbacks"] = encoder.fallbacks
    assert [s.state for s in stored] == typed[3], "the typed encoding differs"

    def chain() -> None:
        prev = GENESIS_HASH
        for position, e in enumerate(stored, start=1):
            prev = link_hash(
                prev, position, str(e.originator_id), e.originator_version, e.topic, e.state
            )

    timed("hash", chain)
    n = len(events)
    out["events"] = n
    out["cpu_us_per_event"] = {part: round(s / n * 1e6, 1) for part, s in seconds.items()}
    out["load_average"] = os.getloadavg()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--no-gc", action="store_true", help="the cyclic collector off")
    args = parser.parse_args()
    if args.no_gc:
        gc.disable()
    print(json.dumps(probe(args.rows, args.profile)))


if __name__ == "__main__":
    main()
