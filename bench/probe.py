"""One read-side measurement in a process of its own, so its peak memory is its own.

    python -m bench.probe rebuild|rebuild-sharded|scan|decode|fold DATABASE_URL

Prints one JSON object: events, seconds, the process's resident memory before the work
(imports and connections) and at its peak (and its helper processes' peak, for a rebuild
that forks one), and for a rebuild the seconds of its phases.

The measurements are the views engineer's (bench/views.py: `raw_scan`, `scan_and_decode`,
`rebuild`) when that module is there, else the equivalents below:

- ``rebuild``: `infra.views.rebuild.Rebuild(...).run(None)`, every view from the whole log;
  ``rebuild-sharded`` the same in 2 shards, one process each (``workers=2``).
- ``scan``: the raw limit, every row of the events table fetched in pages (bench/raw.py).
- ``decode``: what a rebuild reads before it folds: the log's pages joined with their chain
  links, decoded into domain events (`infra.views.log.LogReader`).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from types import ModuleType
from typing import Any


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _views() -> ModuleType | None:
    """bench/views.py, when it is there."""
    try:
        from bench import views
    except ImportError:
        return None
    return views


def _ledger(url: str) -> Any:
    from domain.application import OkrLedger
    from infra.eventstore import eventsourcing_env
    from infra.settings import Settings

    return OkrLedger(env=eventsourcing_env(url, Settings(pool_size=4, lock_timeout_seconds=60)))


def rebuild(url: str, workers: int | None = None) -> dict[str, Any]:
    views = _views()
    before = _rss_mb()
    if views is not None and hasattr(views, "rebuild"):
        found: dict[str, Any] = views.rebuild(url, workers)
        return {
            "events": found["events"],
            "seconds": found["seconds"],
            "phases": found.get("phases", {}),
            "helpers": found.get("helpers", {}),
            "cpu_us_per_event": found.get("cpu_us_per_event"),
            "machine_cpu_us_per_event": found.get("machine_cpu_us_per_event"),
            "rss_before_mb": before,
            "by": "bench/views.py",
        }
    from infra.settings import Settings
    from infra.views.rebuild import Rebuild

    ledger = _ledger(url)
    try:
        ledger.recorder.max_notification_id()  # connect before measuring
        before = _rss_mb()
        began = time.perf_counter()
        report = Rebuild(ledger, Settings(), workers=workers).run(None)
        seconds = time.perf_counter() - began
        return {
            "events": report.events,
            "seconds": seconds,
            "phases": report.seconds,
            "rss_before_mb": before,
            "by": "bench/probe.py",
        }
    finally:
        ledger.close()


def scan(url: str) -> dict[str, Any]:
    views = _views()
    before = _rss_mb()
    if views is not None and hasattr(views, "raw_scan"):
        events, seconds = views.raw_scan(url)[:2]
    else:
        from bench.raw import raw_scan

        events, seconds = raw_scan(url)
    return {"events": events, "seconds": seconds, "rss_before_mb": before}


def decode(url: str) -> dict[str, Any]:
    views = _views()
    before = _rss_mb()
    if views is not None and hasattr(views, "scan_and_decode"):
        events, seconds = views.scan_and_decode(url)[:2]  # (events, seconds[, cpu seconds])
        return {"events": events, "seconds": seconds, "rss_before_mb": before}
    from infra.views.log import LogReader

    ledger = _ledger(url)
    try:
        log = LogReader(ledger.recorder, ledger.mapper)
        events = 0
        after = 0
        began = time.perf_counter()
        with ledger.recorder.datastore.get_connection() as conn:
            while True:
                rows = log.page_rows(conn, after, 2**62, 5000)
                if not rows:
                    break
                log.logged(rows)
                events += len(rows)
                after = rows[-1][0]
        return {"events": events, "seconds": time.perf_counter() - began, "rss_before_mb": before}
    finally:
        ledger.close()


def fold(url: str) -> dict[str, Any]:
    """The views' fold alone, in memory: no reads or writes timed (bench/views.py)."""
    from bench import views

    before = _rss_mb()
    events, cpu = views.fold_alone(url)
    return {"events": events, "seconds": cpu, "rss_before_mb": before}


def rebuild_sharded(url: str) -> dict[str, Any]:
    """The rebuild with one shard per core (`okr rebuild --all --workers N`)."""
    return rebuild(url, SHARDS)


SHARDS = 2
OPERATIONS = {
    "rebuild": rebuild,
    "rebuild-sharded": rebuild_sharded,
    "scan": scan,
    "decode": decode,
    "fold": fold,
}


def _peak_rss_mb() -> float:
    """This process's own peak resident memory (`VmHWM`). Not `getrusage`'s `ru_maxrss`:
    Linux carries that across `execve`, so a probe started by a large process (the bench
    runner) would report at least the runner's size at the fork."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    operation, url = sys.argv[1], sys.argv[2]
    result = OPERATIONS[operation](url)
    result["peak_rss_mb"] = _peak_rss_mb()
    result["helper_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
