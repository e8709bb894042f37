"""Raw limits in plain psycopg: single-row INSERT … COMMIT, and scans of the events table."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import psycopg
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

TABLE = "bench_raw_inserts"
INSERT = SQL(
    "INSERT INTO {} (originator_id, originator_version, topic, state) "
    "VALUES (%s, %s, %s, %s) RETURNING id"
).format(Identifier(TABLE))
EVENTS_TABLE = "okrledger_events"


def create_raw_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, originator_id uuid "
                "NOT NULL, originator_version integer NOT NULL, topic text NOT NULL, "
                "state bytea NOT NULL)"
            ).format(Identifier(TABLE))
        )


def typical_state(url: str, topic_suffix: str = "Objective.ProgressReported") -> bytes:
    """The stored state of a real check-in event, so raw rows weigh what events weigh."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            SQL(
                "SELECT state FROM {} WHERE topic LIKE %s ORDER BY notification_id DESC LIMIT 1"
            ).format(Identifier(EVENTS_TABLE)),
            (f"%{topic_suffix}",),
        ).fetchone()
    return bytes(row[0]) if row else b"x" * 460


def concurrent(
    writers: int, seconds: float, work: Callable[[int], Callable[[], None]], limit: int = 10**9
) -> tuple[int, float, list[float]]:
    """Run `writers` threads, each calling its step repeatedly for `seconds` (at most `limit`
    steps in all). Returns (steps done, elapsed seconds, per-step latencies in ms)."""
    steps: list[Callable[[], None]] = [work(w) for w in range(writers)]
    latencies: list[list[float]] = [[] for _ in range(writers)]
    counter = iter(range(limit))
    start = threading.Barrier(writers + 1)
    failures: list[BaseException] = []
    stop_at = [0.0]

    def run(w: int) -> None:
        mine = latencies[w]
        step = steps[w]
        start.wait()
        try:
            while time.perf_counter() < stop_at[0] and next(counter, None) is not None:
                began = time.perf_counter()
                step()
                mine.append((time.perf_counter() - began) * 1000)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(w,), daemon=True) for w in range(writers)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise failures[0]
    flat = [x for lat in latencies for x in lat]
    return len(flat), elapsed, flat


def raw_inserts(url: str, writers: int, seconds: float, state: bytes) -> tuple[int, float]:
    """Single-row INSERT … COMMIT, one transaction per row, `writers` connections."""
    create_raw_table(url)
    connections = [psycopg.connect(url) for _ in range(writers)]
    try:
        for conn in connections:  # warm up: prepared statement, first page
            conn.execute(INSERT, (uuid4(), 1, "bench:Raw.Inserted", state), prepare=True)
            conn.commit()

        def work(w: int) -> Callable[[], None]:
            conn = connections[w]

            def step() -> None:
                conn.execute(INSERT, (uuid4(), 1, "bench:Raw.Inserted", state), prepare=True)
                conn.commit()

            return step

        done, elapsed, _ = concurrent(writers, seconds, work)
        return done, elapsed
    finally:
        for conn in connections:
            conn.close()


def raw_copy(url: str, rows: int, state: bytes) -> tuple[int, float]:
    """`rows` rows like events' by one binary `COPY`, committed: the bulk write's raw limit."""
    create_raw_table(url)
    copy = SQL(
        "COPY {} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
    ).format(Identifier(TABLE))
    data = [(uuid4(), 1, "bench:Raw.Inserted", state) for _ in range(rows)]
    with psycopg.connect(url) as conn:
        began = time.perf_counter()
        with conn.cursor() as curs, curs.copy(copy) as writer:
            writer.set_types(["uuid", "int4", "text", "bytea"])
            for row in data:
                writer.write_row(row)
        conn.commit()
        return rows, time.perf_counter() - began


def raw_scan(url: str, page: int = 5000) -> tuple[int, float]:
    """Every row of the events table, in pages by notification id, fetched and dropped."""
    query = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
        "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    ).format(Identifier(EVENTS_TABLE))
    count = 0
    after = 0
    with psycopg.connect(url) as conn, conn.cursor(row_factory=tuple_row) as curs:
        began = time.perf_counter()
        while True:
            rows: list[Any] = curs.execute(query, (after, page), prepare=True).fetchall()
            if not rows:
                break
            count += len(rows)
            after = rows[-1][0]
        return count, time.perf_counter() - began
