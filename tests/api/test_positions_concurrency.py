"""Under concurrent writers, a live read's stated position reproduces it exactly.

A seeded random workload over real HTTP against real PostgreSQL: writer threads check in,
correct, draft objectives and add key results while reader threads read the live tree (as an
auditor, who sees everything, and as a member, whose private objectives are filtered). Every
live answer, asked again with `position=` its `OKR-Position`, must be the same answer, and
every `OKR-Chain-Hash` must be the chain's hash at that position.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from infra.chain import ChainReader
from tests.api.conftest import API, Built, World, objective_in

SEED = 20261114
WRITERS = 3
READERS = 3
WRITES_PER_WRITER = 25


@dataclass(frozen=True)
class Seen:
    reader: str
    position: int
    chain_hash: str
    body: dict[str, Any]


def _writer(
    base_url: str, world: World, objectives: list[Built], rng: random.Random, errors: list[str]
) -> None:
    owner = world["max"].headers
    cycle = world.active_cycle_id
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for _ in range(WRITES_PER_WRITER):
            built = rng.choice(objectives)
            kr_path = f"{API}/objectives/{built.objective_id}/key-results/{built.key_result_id}"
            roll = rng.random()
            if roll < 0.6:
                answer = http.post(
                    f"{kr_path}/check-ins",
                    json={
                        "value": rng.randint(0, 10),
                        "confidence": rng.randint(0, 10),
                        "effective_on": (
                            date.today() - timedelta(days=rng.randint(0, 5))
                        ).isoformat(),
                    },
                    headers=owner,
                )
            elif roll < 0.8:
                answer = http.post(
                    f"{API}/objectives",
                    json={
                        "cycle_id": str(cycle),
                        "owner_team_id": str(world.teams["platform"]),
                        "title": f"Objective {rng.randint(0, 10**6)}",
                        "kind": rng.choice(["committed", "aspirational"]),
                        "parent_objective_id": str(built.objective_id),
                        "private": rng.random() < 0.3,
                    },
                    headers=owner,
                )
            else:
                answer = http.patch(
                    f"{API}/objectives/{built.objective_id}",
                    json={"title": f"Renamed {rng.randint(0, 10**6)}", "reason": "clearer"},
                    headers=owner,
                )
            if answer.status_code not in (200, 201, 409):
                errors.append(f"{answer.request.method} {answer.request.url}: {answer.text}")


def _reader(
    base_url: str,
    name: str,
    headers: dict[str, str],
    path: str,
    stop: threading.Event,
    seen: list[Seen],
    errors: list[str],
) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        while not stop.is_set():
            answer = http.get(path, headers=headers)
            if answer.status_code != 200:
                errors.append(f"{name}: {answer.status_code} {answer.text}")
                continue
            seen.append(
                Seen(
                    name,
                    int(answer.headers["OKR-Position"]),
                    answer.headers["OKR-Chain-Hash"],
                    answer.json(),
                )
            )


def test_every_live_tree_read_reproduces_at_its_stated_position(
    live_server: str, world: World
) -> None:
    rng = random.Random(SEED)
    objectives = [objective_in(world, "platform", "approved") for _ in range(3)]
    objectives.append(objective_in(world, "platform", "approved", private=True))
    path = f"{API}/cycles/{world.active_cycle_id}/tree"
    readers = {
        "auditor": world["auditor"].headers,
        "member": world["sue"].headers,  # a sales member: platform's private ones are hidden
        "manager": world["mia"].headers,
    }
    stop = threading.Event()
    seen: list[Seen] = []
    errors: list[str] = []
    reading = [
        threading.Thread(
            target=_reader, args=(live_server, name, headers, path, stop, seen, errors)
        )
        for name, headers in list(readers.items())[:READERS]
    ]
    writing = [
        threading.Thread(
            target=_writer,
            args=(live_server, world, objectives, random.Random(rng.random()), errors),
        )
        for _ in range(WRITERS)
    ]
    for thread in [*reading, *writing]:
        thread.start()
    for thread in writing:
        thread.join()
    time.sleep(0.3)  # readers also see the views settle on the last write
    stop.set()
    for thread in reading:
        thread.join()
    assert not errors, errors[:5]

    positions = {s.position for s in seen}
    assert len(positions) >= 5, f"the readers saw too few moments: {sorted(positions)}"
    chain = ChainReader.for_recorder(world.ledger.recorder)
    hashes = {p: chain.hash_at(p).hex() for p in positions}
    checked: dict[tuple[str, int], dict[str, Any]] = {}
    with httpx.Client(base_url=live_server, timeout=30) as http:
        for s in seen:
            assert s.chain_hash == hashes[s.position], s.position
            assert s.body["position"] == s.position
            key = (s.reader, s.position)
            if key not in checked:
                again = http.get(path, params={"position": s.position}, headers=readers[s.reader])
                assert again.status_code == 200, again.text
                assert again.headers["OKR-Position"] == str(s.position)
                assert again.headers["OKR-Chain-Hash"] == s.chain_hash
                checked[key] = again.json()
            assert s.body == checked[key], f"{s.reader} at position {s.position}"
        last = max(positions)
        auditor, member = (
            http.get(path, params={"position": last}, headers=readers[name]).json()
            for name in ("auditor", "member")
        )
        assert auditor != member  # the member's answers were filtered: that path ran too
