"""Audit-chain benchmark: what the hash chain costs writers, and how fast the chain verifies.

Run ``.venv/bin/python bench/audit_chain.py [--events N] [--single N] [--batches N]``.

1. **Write overhead**: the plain ``PostgresApplicationRecorder`` and the hash-chained recorder,
   each on a database of its own on the same server, insert the same kind of stored events, one
   commit each in turn (alternating which goes first): ``--single`` one-event commits, then
   ``--batches`` commits of 100 events. Reported: events/s for each, from the median commit time
   (robust on a shared machine) and from the total time, and the chain's overhead (target: at
   most 15%).
2. **Verification**: ``--events`` events (default 1,000,000) written through the chained
   recorder in 250-event transactions, then ``verify_chain`` over all of them: events/s.
   With ``--bundle``, also the standalone verifier on an export of them.

Uses ``OKR_DATABASE_URL``'s server when set, else a throwaway embedded PostgreSQL (as configured
by default: fsync on; ``--no-fsync`` turns durability off to expose the CPU cost alone).
Not a test: prints a report.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from hashlib import sha256
from pathlib import Path
from uuid import uuid4

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.sql import SQL, Identifier

from infra.audit.export import render_verifier, write_events_file
from infra.audit.standalone import verify_bundle
from infra.chain import ChainedApplicationRecorder, ChainReader, verify_chain
from infra.embedded import start_embedded_postgres, stop_embedded_postgres
from infra.eventstore import ensure_database

STATE_SIZE = 420  # bytes: about a typical okrledger event (JSON, with actor and request id)
TABLE = "bench_events"


def stored_events(count: int) -> list[StoredEvent]:
    """``count`` new events, each the first of an aggregate of its own."""
    padding = "x" * (STATE_SIZE - 120)
    return [
        StoredEvent(
            originator_id=uuid4(),
            originator_version=1,
            topic="bench.domain:Thing.Happened",
            state=(
                '{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-01T00:00:00+00:00"},'
                f'"actor":"system","n":{i},"note":"{padding}"}}'
            ).encode(),
        )
        for i in range(count)
    ]


def commit_times(
    plain: PostgresApplicationRecorder,
    chained: PostgresApplicationRecorder,
    size: int,
    commits: int,
) -> dict[str, list[float]]:
    """Seconds per commit of `size` events, plain and chained alternating one by one (which of
    the two goes first swaps every commit, so neither always meets a warmer server)."""
    times: dict[str, list[float]] = {"plain": [], "chained": []}
    for i in range(commits):
        pair = [("plain", plain), ("chained", chained)]
        if i % 2:
            pair.reverse()
        for name, recorder in pair:
            events = stored_events(size)
            started = time.perf_counter()
            recorder.insert_events(events)
            times[name].append(time.perf_counter() - started)
    return times


def datastore(url: str, pool_size: int = 2, id_type: str = "uuid") -> PostgresDatastore:
    """A datastore on ``url`` (``id_type``: the originator id column's type, uuid or text)."""
    params = conninfo_to_dict(url)
    return PostgresDatastore(
        dbname=str(params["dbname"]),
        host=str(params.get("host", "")),
        port=str(params.get("port", "5432")),
        user=str(params.get("user", "")),
        password=str(params.get("password", "")),
        originator_id_type=id_type,
        pool_size=pool_size,
        lock_timeout=10,
    )


@contextmanager
def server(no_fsync: bool) -> Iterator[str]:
    external = os.environ.get("OKR_DATABASE_URL")
    if external:
        yield external
        return
    data_dir = Path(tempfile.mkdtemp(prefix="okr-bench-chain-"))
    try:
        url = start_embedded_postgres(data_dir)
        if no_fsync:
            with psycopg.connect(url, autocommit=True) as conn:
                for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                    conn.execute(SQL("ALTER SYSTEM SET {} = off").format(Identifier(setting)))
                conn.execute("SELECT pg_reload_conf()")
            time.sleep(0.5)
        yield url
    finally:
        stop_embedded_postgres(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def fresh_database(url: str, name: str) -> str:
    target = make_conninfo(url, dbname=name)
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(name)))
    ensure_database(target)
    return target


# --------------------------------------------------------------------------- write overhead


def warmed_recorders(
    plain_store: PostgresDatastore, chain_store: PostgresDatastore
) -> tuple[PostgresApplicationRecorder, ChainedApplicationRecorder]:
    """A plain and a chained recorder, their tables made and written to a little."""
    plain = PostgresApplicationRecorder(plain_store, events_table_name=TABLE)
    chained = ChainedApplicationRecorder(chain_store, events_table_name=TABLE)
    for recorder in (plain, chained):
        recorder.create_table()
        for _ in range(20):  # warm up: connections, prepared statements, caches
            recorder.insert_events(stored_events(100))
    return plain, chained


def write_overhead(url: str, single: int, batches: int) -> None:
    """Alternate plain and chained commits one by one, so both see the same machine load."""
    plain_store = datastore(fresh_database(url, "okr_bench_plain"))
    chain_store = datastore(fresh_database(url, "okr_bench_chain"))
    plain, chained = warmed_recorders(plain_store, chain_store)
    print(f"\nWrite throughput ({STATE_SIZE}-byte events; commits alternate plain/chained)")
    print(
        f"{'commit size':<14}{'commits':>9}{'plain ev/s':>12}{'chained ev/s':>14}{'overhead':>10}"
        f"{'plain ev/s':>13}{'chained ev/s':>14}{'overhead':>10}"
    )
    print(f"{'':<23}{'— median commit time —':^36}{'— total time —':^37}")
    for size, commits in ((1, single), (100, batches)):
        times = commit_times(plain, chained, size, commits)
        median = {name: statistics.median(t) for name, t in times.items()}
        total = {name: sum(t) for name, t in times.items()}
        print(
            f"{size:>3} event(s)  {commits:>9,}"
            f"{size / median['plain']:>12,.0f}{size / median['chained']:>14,.0f}"
            f"{1 - median['plain'] / median['chained']:>10.1%}"
            f"{size * commits / total['plain']:>13,.0f}{size * commits / total['chained']:>14,.0f}"
            f"{1 - total['plain'] / total['chained']:>10.1%}"
        )
    report = verify_chain(ChainReader(chain_store, TABLE))
    assert report.ok, report
    plain_store.close()
    chain_store.close()


# ---------------------------------------------------------------------------- verification


def verification(url: str, events: int, bundle: bool) -> None:
    store = datastore(fresh_database(url, "okr_bench_verify"), pool_size=3)
    recorder = ChainedApplicationRecorder(store, events_table_name=TABLE)
    recorder.create_table()
    batch = 250  # larger inserts can hang in psycopg 3.3 pipeline mode (seen at 1,000 x 420 B)
    started = time.perf_counter()
    written = 0
    while written < events:
        size = min(batch, events - written)
        recorder.insert_events(stored_events(size))
        written += size
    took = time.perf_counter() - started
    print(f"\nGenerated {written:,} chained events in {took:.1f} s ({written / took:,.0f} ev/s)")
    with psycopg.connect(make_conninfo(url, dbname="okr_bench_verify"), autocommit=True) as conn:
        conn.execute(SQL("VACUUM ANALYZE {}").format(Identifier(TABLE)))
    reader = ChainReader(store, TABLE)
    for attempt in (1, 2):
        started = time.perf_counter()
        report = verify_chain(reader)
        took = time.perf_counter() - started
        assert report.ok and report.count == written, report
        print(
            f"verify_chain, run {attempt}: {written:,} events in {took:.1f} s "
            f"({written / took:,.0f} ev/s)"
        )
    if bundle:
        standalone(reader, written)
    store.close()


def standalone(reader: ChainReader, count: int) -> None:
    """Export the chain as an (unsigned) bundle and run the standalone verifier on it."""
    folder = Path(tempfile.mkdtemp(prefix="okr-bench-bundle-"))
    try:
        started = time.perf_counter()
        chain = write_events_file(reader, folder / "events.jsonl")
        del chain["anchor_position"]
        (folder / "chain.json").write_text(json.dumps(chain))
        (folder / "checkpoints.jsonl").write_text("")
        (folder / "verify.py").write_text(render_verifier())
        files = {p.name: sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
        (folder / "manifest.json").write_text(
            json.dumps({"format": "okrledger-audit-export/1", "files": files})
        )
        took = time.perf_counter() - started
        size = (folder / "events.jsonl").stat().st_size / 1e6
        print(
            f"export of {count:,} events: {took:.1f} s ({count / took:,.0f} ev/s, {size:,.0f} MB)"
        )
        started = time.perf_counter()
        result = verify_bundle(folder, allow_unsigned=True)
        took = time.perf_counter() - started
        assert result.ok and result.count == count, result
        print(f"standalone verifier: {count:,} events in {took:.1f} s ({count / took:,.0f} ev/s)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to verify")
    parser.add_argument("--single", type=int, default=4000, help="one-event commits per recorder")
    parser.add_argument("--batches", type=int, default=400, help="100-event commits per recorder")
    parser.add_argument("--no-fsync", action="store_true", help="turn durability off")
    parser.add_argument("--bundle", action="store_true", help="also time the standalone verifier")
    args = parser.parse_args()
    with ExitStack() as stack:
        url = stack.enter_context(server(args.no_fsync))
        with psycopg.connect(url) as conn:
            fsync = conn.execute("SHOW fsync").fetchone()
            version = conn.execute("SHOW server_version").fetchone()
        print(f"PostgreSQL {version[0] if version else '?'}, fsync {fsync[0] if fsync else '?'}")
        write_overhead(url, args.single, args.batches)
        verification(url, args.events, args.bundle)


if __name__ == "__main__":
    main()
