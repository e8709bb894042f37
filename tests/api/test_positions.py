"""Every JSON read states the moment it shows: `OKR-Position` and `OKR-Chain-Hash`.

The route walk covers every GET route the app has, so a new read cannot forget them: a route
without a sample below fails the test until one is added.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from domain.base import CommandContext
from domain.initiative import KeyResultRef
from infra.answer import aggregate_position
from infra.chain import ChainReader
from tests.api.conftest import API, World, objective_in

HEX = set("0123456789abcdef")
EXEMPT = {
    f"{API}/health": "liveness: it reads nothing, not even the database",
    f"{API}/metrics": "Prometheus text about the process, not a read of the log",
    "/metrics": "Prometheus text about the process, not a read of the log",
}


def _samples(world: World) -> dict[str, str]:
    """A request for every GET route (path template → URL with the query it needs)."""
    ledger = world.ledger
    system = CommandContext.system()
    built = objective_in(world, "platform", "checked_in")
    ledger.put_strategy(
        system,
        mission="Make goals visible",
        vision="",
        values=[],
        themes=[{"name": "Growth", "perspective": "financial"}],
    )
    kpi = ledger.define_kpi(
        name="NPS",
        unit="points",
        direction="increase",
        owner_person_id=world["max"].person_id,
        green=50,
        amber=30,
        ctx=system,
    ).id
    initiative = ledger.launch_initiative(
        title="Drills",
        owner_person_id=world["max"].person_id,
        key_results=[KeyResultRef(built.objective_id, built.key_result_id)],
        ctx=system,
    ).id
    source = {"kind": "sql", "connection": "warehouse", "query": "SELECT 1"}
    ledger.attach_source(built.objective_id, built.key_result_id, source, "in the DW", system)
    ledger.attach_kpi_source(kpi, source, "in the DW", system)
    cycle = built.cycle_id
    return {
        "/ready": "/ready",
        "/people": "/people",
        "/people/{person_id}": f"/people/{world['max'].person_id}",
        "/me": "/me",
        "/teams": "/teams",
        "/teams/{team_id}": f"/teams/{world.teams['platform']}",
        "/cycles": "/cycles",
        "/cycles/{cycle_id}": f"/cycles/{cycle}",
        "/objectives": f"/objectives?cycle_id={cycle}",
        "/objectives/{objective_id}": f"/objectives/{built.objective_id}",
        "/objectives/{objective_id}/history": f"/objectives/{built.objective_id}/history",
        "/cycles/{cycle_id}/tree": f"/cycles/{cycle}/tree",
        "/cycles/{cycle_id}/replay": f"/cycles/{cycle}/replay",
        "/diff": f"/diff?from_position=1&cycle_id={cycle}",
        "/compare": f"/compare?cycles={cycle}",
        "/inbox": "/inbox",
        "/stale": "/stale",
        "/audit": "/audit",
        "/audit/verify": "/audit/verify",
        "/access": "/access",
        "/strategy": "/strategy",
        "/strategy/map": f"/strategy/map?cycle_id={cycle}",
        "/kpis": "/kpis",
        "/kpis/{kpi_id}": f"/kpis/{kpi}",
        "/initiatives": "/initiatives",
        "/initiatives/{initiative_id}": f"/initiatives/{initiative}",
        "/lint": f"/lint?cycle_id={cycle}",
        "/quality-checks": "/quality-checks",
        "/objectives/{objective_id}/key-results/{key_result_id}/source": (
            f"/objectives/{built.objective_id}/key-results/{built.key_result_id}/source"
        ),
        "/kpis/{kpi_id}/source": f"/kpis/{kpi}/source",
    }


def _stated(response: Any) -> tuple[int, str]:
    position = response.headers.get("OKR-Position")
    chain_hash = response.headers.get("OKR-Chain-Hash")
    assert position is not None and chain_hash is not None, response.request.url
    assert len(chain_hash) == 64 and set(chain_hash) <= HEX
    return int(position), chain_hash


def test_every_json_read_states_its_position_and_the_chain_hash_there(
    client: TestClient, world: World
) -> None:
    samples = _samples(world)
    head = world.ledger.recorder.max_notification_id() or 0
    chain = ChainReader.for_recorder(world.ledger.recorder)
    schema = client.get(f"{API}/openapi.json").json()
    reads = [path for path, operations in schema["paths"].items() if "get" in operations]
    assert len(reads) > len(samples)
    for path in reads:
        if path in EXEMPT:
            continue
        template = path.removeprefix(API)
        assert template in samples, f"add a sample request for GET {path}"
        documented = schema["paths"][path]["get"]["responses"]["200"].get("headers", {})
        assert {"OKR-Position", "OKR-Chain-Hash"} <= set(documented), path
        url = f"{API}{samples[template]}"
        url += ("&" if "?" in url else "?") + f"min_position={head}"
        answer = client.get(url, headers=world["auditor"].headers)
        assert answer.status_code == 200, (url, answer.text)
        assert answer.headers["content-type"].startswith("application/json"), url
        position, chain_hash = _stated(answer)
        assert 0 < position <= head, url
        assert chain_hash == chain.hash_at(position).hex(), url


def test_the_live_tree_states_its_position_in_the_body_and_headers_and_reproduces(
    client: TestClient, world: World
) -> None:
    built = objective_in(world, "platform", "checked_in")
    head = world.ledger.recorder.max_notification_id() or 0
    url = f"{API}/cycles/{built.cycle_id}/tree"
    auditor = world["auditor"].headers
    live = client.get(url, params={"min_position": head}, headers=auditor)
    again = client.get(url, headers=auditor)  # the remembered answer states the same moment
    position, chain_hash = _stated(live)
    assert _stated(again) == (position, chain_hash)
    assert live.json()["position"] == position == head
    at = client.get(url, params={"position": position}, headers=auditor)
    assert _stated(at) == (position, chain_hash)
    assert at.json() == live.json()

    world.ledger.check_in(
        built.objective_id,
        built.key_result_id,
        9,
        8,
        CommandContext(actor=str(world["max"].person_id)),
        effective_on=date.today(),
    )
    later = client.get(url, params={"min_position": head + 1}, headers=auditor)
    assert _stated(later)[0] == head + 1
    assert later.json() != live.json()
    assert client.get(url, params={"position": position}, headers=auditor).json() == live.json()


def test_an_objective_read_states_the_position_of_the_event_that_made_its_version(
    client: TestClient, world: World
) -> None:
    built = objective_in(world, "platform", "checked_in")
    url = f"{API}/objectives/{built.objective_id}"
    member = world["max"].headers
    live = client.get(url, headers=member)
    position, chain_hash = _stated(live)
    version = int(live.headers["ETag"].strip('"'))
    assert position == aggregate_position(world.ledger.recorder, built.objective_id, version)
    world.ledger.rename_team(world.teams["sales"], "Field sales", CommandContext.system())
    assert _stated(client.get(url, headers=member)) == (position, chain_hash)  # not its event

    world.ledger.abandon_objective(
        built.objective_id, "no longer needed", CommandContext(actor=str(world["max"].person_id))
    )
    now = client.get(url, headers=member)
    assert _stated(now)[0] > position
    before = client.get(url, params={"position": position}, headers=member)
    assert _stated(before) == (position, chain_hash)
    assert before.json() == live.json()
    assert before.headers["ETag"] == live.headers["ETag"]

    refused = client.get(url, params={"position": 10**9}, headers=member)
    assert (refused.status_code, refused.json()["field"]) == (422, "position")
    assert "OKR-Position" not in refused.headers


def test_time_travel_reads_state_the_position_they_were_folded_to(
    client: TestClient, world: World
) -> None:
    built = objective_in(world, "platform", "checked_in")
    chain = ChainReader.for_recorder(world.ledger.recorder)
    auditor = world["auditor"].headers
    drafted = aggregate_position(world.ledger.recorder, built.objective_id, 1)
    for url in (
        f"{API}/cycles/{built.cycle_id}/tree?position={drafted}",
        f"{API}/objectives/{built.objective_id}?position={drafted}",
        f"{API}/kpis?position={drafted}",
        f"{API}/diff?from_position=1&to_position={drafted}",
    ):
        answer = client.get(url, headers=auditor)
        assert answer.status_code == 200, (url, answer.text)
        assert _stated(answer) == (drafted, chain.hash_at(drafted).hex()), url
    committed = chain.committed_at(drafted)
    assert committed is not None
    as_of = client.get(
        f"{API}/cycles/{built.cycle_id}/tree",
        params={"as_of": committed.isoformat()},
        headers=auditor,
    )
    assert _stated(as_of)[0] == as_of.json()["position"] >= drafted
