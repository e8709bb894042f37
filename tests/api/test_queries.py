"""Every query endpoint over the read models, with its errors; private objectives stay hidden."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from api.visibility import prune_tree
from tests.api.answers import Refused, refuses
from tests.api.answers import ok as _ok
from tests.api.answers import problem as _problem
from tests.api.conftest import API, World, make_app, objective_in


@pytest.fixture
def scene(world: World) -> dict[str, Any]:
    """A public Platform objective, a private one under it, a Sales objective."""
    public = objective_in(world, "platform", "checked_in")
    private = objective_in(world, "platform", "approved", private=True)
    world.ledger.update_objective(
        private.objective_id,
        _ctx(world, "max"),
        realign=True,
        parent_objective_id=public.objective_id,
        reason="aligned",
    )
    child = objective_in(world, "platform", "draft")
    world.ledger.update_objective(
        child.objective_id,
        _ctx(world, "max"),
        realign=True,
        parent_objective_id=private.objective_id,
    )
    world.ledger.check_in(  # three weeks of silence: stale
        private.objective_id,
        private.key_result_id,
        2,
        5,
        _ctx(world, "max"),
        effective_on=date.today() - timedelta(days=21),
    )
    sales = objective_in(world, "sales", "approved")
    return {"public": public, "private": private, "child": child, "sales": sales}


def _ctx(world: World, name: str) -> Any:
    from domain.base import CommandContext

    return CommandContext(actor=str(world[name].person_id))


def _ids(nodes: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        found.add(node["objective_id"])
        found |= _ids(node.get("children", []))
    return found


# ------------------------------------------------------------------ objectives


def test_list_objectives_filters_and_pages(
    client: Any, world: World, scene: dict[str, Any]
) -> None:
    cycle = str(world.active_cycle_id)
    everything = _ok(
        client.get(f"{API}/objectives", params={"cycle_id": cycle}, headers=world["admin"].headers)
    )
    assert everything["total"] == 4
    sue = _ok(
        client.get(f"{API}/objectives", params={"cycle_id": cycle}, headers=world["sue"].headers)
    )
    assert sue["total"] == 3
    assert str(scene["private"].objective_id) not in {o["objective_id"] for o in sue["items"]}
    sales = _ok(
        client.get(
            f"{API}/objectives",
            params={"team_id": str(world.teams["sales"])},
            headers=world["sue"].headers,
        )
    )
    assert [o["objective_id"] for o in sales["items"]] == [str(scene["sales"].objective_id)]
    page = _ok(
        client.get(
            f"{API}/objectives", params={"limit": 1, "offset": 1}, headers=world["max"].headers
        )
    )
    assert len(page["items"]) == 1 and page["total"] == 4
    Refused(
        "GET", f"{API}/objectives", None, 422, "greater_than_equal", "limit", params={"limit": 0}
    ).check(client, world["max"].headers)


def test_history(client: Any, world: World, scene: dict[str, Any]) -> None:
    public = scene["public"]
    history = _ok(
        client.get(f"{API}/objectives/{public.objective_id}/history", headers=world["sue"].headers)
    )
    assert history["objective_id"] == str(public.objective_id)
    assert history["timeline"][0]["event_type"] == "Objective.Drafted"
    assert str(public.key_result_id) in history["key_results"]
    private = scene["private"].objective_id
    refuses(
        client,
        world["sue"].headers,
        Refused("GET", f"{API}/objectives/{uuid4()}/history", None, 404, "objective_not_found"),
        Refused("GET", f"{API}/objectives/{private}/history", None, 404, "objective_not_found"),
    )


def test_objective_as_of(client: Any, world: World, scene: dict[str, Any]) -> None:
    public = scene["public"]
    path = f"{API}/objectives/{public.objective_id}"
    before = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    Refused("GET", path, None, 404, "objective_not_found", params={"as_of": before}).check(
        client, world["max"].headers
    )
    now = client.get(
        path, params={"as_of": datetime.now(UTC).isoformat()}, headers=world["max"].headers
    )
    assert _ok(now)["as_of"] is not None
    assert now.headers["ETag"] == client.get(path, headers=world["max"].headers).headers["ETag"]
    refuses(
        client,
        world["max"].headers,
        *(
            Refused("GET", path, None, 422, "rfc3339", "as_of", params={"as_of": bad})
            for bad in ("yesterday", "2026-01-01", "2026-01-01T10:00:00", "1700000000")
        ),
    )
    fine = client.get(
        path, params={"as_of": "2030-01-01t10:00:00.1234567z"}, headers=world["max"].headers
    )
    assert fine.status_code == 200


# ------------------------------------------------------------------------ tree


def test_tree_hides_private_objectives_and_lifts_their_children(
    client: Any, world: World, scene: dict[str, Any]
) -> None:
    path = f"{API}/cycles/{world.active_cycle_id}/tree"
    full = _ok(client.get(path, headers=world["max"].headers))
    public, private, child = (str(scene[k].objective_id) for k in ("public", "private", "child"))
    assert [r["objective_id"] for r in full["roots"]][:1] == [public]
    assert _ids(full["roots"]) >= {public, private, child}
    hidden = _ok(client.get(path, headers=world["sue"].headers))
    assert private not in _ids(hidden["roots"])
    assert child in {r["objective_id"] for r in hidden["roots"]}  # lifted to a root
    assert _ok(client.get(path, headers=world["auditor"].headers))["roots"] == full["roots"]
    platform = _ok(
        client.get(
            path, params={"team_id": str(world.teams["platform"])}, headers=world["max"].headers
        )
    )
    assert str(scene["sales"].objective_id) not in _ids(platform["roots"])


def test_tree_time_travel_and_errors(client: Any, world: World, scene: dict[str, Any]) -> None:
    path = f"{API}/cycles/{world.active_cycle_id}/tree"
    headers = world["max"].headers
    empty = _ok(client.get(path, params={"position": 1}, headers=headers))
    assert empty["roots"] == [] and empty["position"] == 1
    past = _ok(client.get(path, params={"as_of": "2001-01-01T00:00:00Z"}, headers=headers))
    assert past["roots"] == [] and past["position"] == 0
    both = {"as_of": "2001-01-01T00:00:00Z", "position": 3}
    refuses(
        client,
        headers,
        Refused("GET", path, None, 422, "as_of_or_position", "position", params=both),
        Refused(
            "GET", path, None, 422, "position_beyond_log", "position", params={"position": 10**9}
        ),
        Refused("GET", path, None, 422, "greater_than_equal", "position", params={"position": -1}),
        Refused("GET", f"{API}/cycles/{uuid4()}/tree", None, 404, "cycle_not_found"),
        Refused(
            "GET", path, None, 404, "team_not_found", "team_id", params={"team_id": str(uuid4())}
        ),
    )


def test_prune_tree_keeps_order_and_lifts_orphans() -> None:
    tree = [
        {
            "objective_id": "a",
            "children": [{"objective_id": "b", "children": [{"objective_id": "c"}]}],
        },
        {"objective_id": "d"},
    ]
    pruned = prune_tree(tree, lambda o: o["objective_id"] != "b")
    assert pruned == [
        {"objective_id": "a", "children": []},
        {"objective_id": "d", "children": []},
        {"objective_id": "c", "children": []},
    ]


# ------------------------------------------------------------ replay, diff, compare


def test_replay(client: Any, world: World, scene: dict[str, Any]) -> None:
    path = f"{API}/cycles/{world.active_cycle_id}/replay"
    weeks = _ok(client.get(path, headers=world["max"].headers))
    assert weeks["step"] == "week" and weeks["frames"]
    days = _ok(client.get(path, params={"step": "day"}, headers=world["sue"].headers))
    assert len(days["frames"]) > len(weeks["frames"])
    for frame in days["frames"]:
        assert str(scene["private"].objective_id) not in _ids(frame["tree"])
        assert all(
            e.get("objective_id") != str(scene["private"].objective_id) for e in frame["events"]
        )
    refuses(
        client,
        world["max"].headers,
        Refused("GET", path, None, 422, "literal_error", "step", params={"step": "month"}),
        Refused("GET", f"{API}/cycles/{uuid4()}/replay", None, 404, "cycle_not_found"),
    )


def test_diff(client: Any, world: World, scene: dict[str, Any]) -> None:
    start = datetime.now(UTC)
    time.sleep(0.02)
    world.ledger.check_in(
        scene["private"].objective_id, scene["private"].key_result_id, 9, 9, _ctx(world, "max")
    )
    world.ledger.abandon_objective(scene["sales"].objective_id, "dropped", _ctx(world, "sue"))
    auditor = _ok(
        client.get(
            f"{API}/diff", params={"from": start.isoformat()}, headers=world["auditor"].headers
        )
    )
    assert {c["objective_id"] for c in auditor["changes"]} >= {str(scene["sales"].objective_id)}
    kinds = {c["kind"] for c in auditor["changes"]}
    assert "objective_abandoned" in kinds
    sue = _ok(
        client.get(f"{API}/diff", params={"from": start.isoformat()}, headers=world["sue"].headers)
    )
    assert str(scene["private"].objective_id) not in {c["objective_id"] for c in sue["changes"]}
    by_position = _ok(
        client.get(
            f"{API}/diff",
            params={"from_position": 0, "to_position": auditor["to_position"]},
            headers=world["max"].headers,
        )
    )
    assert by_position["from_position"] == 0
    diff = f"{API}/diff"
    both = {"from_position": 0, "to": "2020-01-01T00:00:00Z", "to_position": 2}
    no_cycle = {"from_position": 0, "cycle_id": str(uuid4())}
    refuses(
        client,
        world["max"].headers,
        Refused("GET", diff, None, 422, "from_required", "from"),
        Refused("GET", diff, None, 422, "rfc3339", "from", params={"from": "noon"}),
        Refused("GET", diff, None, 422, "to_or_to_position", "to", params=both),
        Refused("GET", diff, None, 404, "cycle_not_found", "cycle_id", params=no_cycle),
    )


def test_compare(client: Any, world: World, scene: dict[str, Any]) -> None:
    cycles = f"{world.active_cycle_id},{world.cycle_id}"
    result = _ok(
        client.get(f"{API}/compare", params={"cycles": cycles}, headers=world["max"].headers)
    )
    assert [c["cycle_id"] for c in result["cycles"]] == [
        str(world.active_cycle_id),
        str(world.cycle_id),
    ]
    team = _ok(
        client.get(
            f"{API}/compare",
            params={"cycles": cycles, "team_id": str(world.teams["platform"])},
            headers=world["max"].headers,
        )
    )
    assert team["cycles"]
    compare, twice = f"{API}/compare", {"cycles": f"{world.cycle_id},{world.cycle_id}"}
    refuses(
        client,
        world["max"].headers,
        Refused("GET", compare, None, 422, "uuid_list", "cycles", params={"cycles": "a,b"}),
        Refused("GET", compare, None, 422, "cycles_count", "cycles", params=twice),
        Refused(
            "GET", compare, None, 404, "cycle_not_found", "cycles", params={"cycles": f"{uuid4()}"}
        ),
        Refused("GET", compare, None, 422, "missing", "cycles"),
    )


# ---------------------------------------------------------------- inbox, stale


def test_inbox(client: Any, world: World) -> None:
    review = objective_in(world, "platform", "in_review")
    ceo = _ok(client.get(f"{API}/inbox", headers=world["ceo"].headers))
    assert ceo["person_id"] == str(world["ceo"].person_id)
    assert [i["objective_id"] for i in ceo["items"]] == [str(review.objective_id)]
    assert _ok(client.get(f"{API}/inbox", headers=world["sue"].headers))["items"] == []


def test_stale(client: Any, world: World, scene: dict[str, Any]) -> None:
    everything = _ok(client.get(f"{API}/stale", headers=world["admin"].headers))["items"]
    stale_ids = {i["objective_id"] for i in everything}
    assert str(scene["private"].objective_id) in stale_ids
    assert str(scene["public"].objective_id) not in stale_ids
    sue = _ok(
        client.get(
            f"{API}/stale",
            params={"cycle_id": str(world.active_cycle_id)},
            headers=world["sue"].headers,
        )
    )
    assert str(scene["private"].objective_id) not in {i["objective_id"] for i in sue["items"]}
    Refused(
        "GET", f"{API}/stale", None, 404, "cycle_not_found", params={"cycle_id": str(uuid4())}
    ).check(client, world["sue"].headers)


# ----------------------------------------------------------------------- audit


def test_audit_filters_formats_and_access(client: Any, world: World, scene: dict[str, Any]) -> None:
    auditor = world["auditor"].headers
    for name in ("max", "mia", "sue"):
        Refused("GET", f"{API}/audit", None, 403, "auditors_only").check(
            client, world[name].headers
        )
    everything = _ok(client.get(f"{API}/audit", params={"limit": 10000}, headers=auditor))
    assert everything["next_offset"] is None
    total = len(everything["items"])
    first_page = _ok(client.get(f"{API}/audit", params={"limit": 5}, headers=auditor))
    assert len(first_page["items"]) == 5 and first_page["next_offset"] == 5
    second = _ok(client.get(f"{API}/audit", params={"limit": 5, "offset": 5}, headers=auditor))
    assert second["items"][0]["position"] > first_page["items"][-1]["position"]

    sue = str(world["sue"].person_id)
    by_sue = _ok(client.get(f"{API}/audit", params={"actor": sue}, headers=auditor))["items"]
    assert by_sue and {r["actor"] for r in by_sue} == {sue}
    drafted = _ok(
        client.get(f"{API}/audit", params={"type": "Objective.Drafted"}, headers=auditor)
    )["items"]
    assert len(drafted) == 4
    about = _ok(
        client.get(
            f"{API}/audit", params={"entity_id": str(scene["public"].objective_id)}, headers=auditor
        )
    )["items"]
    assert about[0]["event_type"] == "Objective.Drafted"

    now = datetime.now(UTC).isoformat()
    assert _ok(client.get(f"{API}/audit", params={"from": now}, headers=auditor))["items"] == []
    assert (
        len(
            _ok(client.get(f"{API}/audit", params={"to": now, "limit": 10000}, headers=auditor))[
                "items"
            ]
        )
        == total
    )
    assert (
        _ok(client.get(f"{API}/audit", params={"to": "2000-01-01T00:00:00Z"}, headers=auditor))[
            "items"
        ]
        == []
    )
    audit, backwards = f"{API}/audit", {"from": now, "to": "2000-01-01T00:00:00+02:00"}
    refuses(
        client,
        auditor,
        Refused("GET", audit, None, 422, "from_after_to", "from", params=backwards),
        Refused("GET", audit, None, 422, "rfc3339", "to", params={"to": "2000-13-01T00:00:00Z"}),
        Refused("GET", audit, None, 422, "literal_error", "format", params={"format": "xml"}),
        *(  # PostgreSQL text holds no NUL characters
            Refused(
                "GET", audit, None, 422, "string_pattern_mismatch", field, params={field: "a\x00b"}
            )
            for field in ("actor", "type")
        ),
    )

    exported = client.get(
        f"{API}/audit", params={"format": "csv", "limit": 3}, headers=world["admin"].headers
    )
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 3 and rows[0]["position"] == str(everything["items"][0]["position"])
    assert json.loads(rows[0]["after"]) == everything["items"][0]["after"]
    lines = client.get(f"{API}/audit", params={"format": "jsonl", "limit": 4}, headers=auditor)
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line)["position"] for line in lines.text.splitlines()] == [
        r["position"] for r in everything["items"][:4]
    ]


def test_audit_verify(client: Any, world: World) -> None:
    report = _ok(client.get(f"{API}/audit/verify", headers=world["auditor"].headers))
    assert report["ok"] is True and report["count"] > 0 and report["problem"] is None
    ranged = _ok(
        client.get(
            f"{API}/audit/verify",
            params={"from_position": 2, "to_position": 5},
            headers=world["admin"].headers,
        )
    )
    assert ranged["ok"] is True and ranged["count"] == 4
    Refused("GET", f"{API}/audit/verify", None, 403, "auditors_only").check(
        client, world["max"].headers
    )


# -------------------------------------------------------- read your writes, health


def test_min_position(client: Any, world: World) -> None:
    headers = world["max"].headers
    head, objectives = world.ledger.recorder.max_notification_id(), f"{API}/objectives"
    assert _ok(client.get(objectives, params={"min_position": head}, headers=headers))
    beyond, soon = {"min_position": head + 1000}, {"min_position": "soon"}
    refuses(
        client,
        headers,
        Refused("GET", objectives, None, 422, "position_beyond_log", "min_position", params=beyond),
        Refused("GET", f"{API}/stale", None, 422, "int_parsing", "min_position", params=soon),
    )


class _Behind:
    """Read models stuck behind the log."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def wait_for(self, position: int, timeout: float) -> bool:
        return False

    def caught_up_position(self) -> int:
        return 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_lagging_read_models_answer_504_and_not_ready(world: World, readmodels: Any) -> None:
    from fastapi.testclient import TestClient

    app = make_app(world.ledger, _Behind(readmodels))  # type: ignore[arg-type]
    with TestClient(app) as lagging:
        head = world.ledger.recorder.max_notification_id()
        response = lagging.get(
            f"{API}/objectives", params={"min_position": head}, headers=world["max"].headers
        )
        _problem(response, 504, "projection_lagging", "min_position")
        assert response.headers["Retry-After"] == "1"
        ready = lagging.get(f"{API}/ready")
        assert ready.status_code == 200  # a small lag is within the bound
        app.state.services.ready_max_lag = 0
        not_ready = lagging.get(f"{API}/ready")
        assert not_ready.status_code == 503
        assert not_ready.json()["lag"] == head


def test_without_read_models_queries_answer_503(world: World) -> None:
    from fastapi.testclient import TestClient

    with TestClient(make_app(world.ledger, None)) as bare:
        _problem(
            bare.get(f"{API}/stale", headers=world["max"].headers), 503, "projections_unavailable"
        )
        assert bare.get(f"{API}/ready").json()["projections_position"] is None


def test_an_unreachable_store_is_a_503(client: Any, world: World, monkeypatch: Any) -> None:
    from eventsourcing.persistence import OperationalError

    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(world.ledger, "get_cycle", down)
    response = client.get(f"{API}/cycles/{world.cycle_id}", headers=world["max"].headers)
    _problem(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "1"
    monkeypatch.setattr(world.ledger.recorder, "max_notification_id", down)
    not_ready = client.get(f"{API}/ready")
    assert not_ready.status_code == 503 and not_ready.json()["database"] is False


def test_health_and_ready(client: Any) -> None:
    assert _ok(client.get(f"{API}/health")) == {"status": "ok"}
    ready = _ok(client.get(f"{API}/ready"))
    assert ready["status"] == "ready" and ready["database"] is True and ready["lag"] == 0


def test_unknown_paths_and_methods_are_problems(client: Any, world: World) -> None:
    refuses(
        client,
        world["max"].headers,
        Refused("GET", f"{API}/nothing-here", None, 404, "path_not_found"),
        Refused("PUT", f"{API}/people", None, 405, "method_not_allowed"),
        Refused("GET", f"{API}/people/not-a-uuid", None, 422, "uuid_parsing", "person_id"),
    )
    response = client.post(
        f"{API}/teams",
        content=b"{not json",
        headers={**world["admin"].headers, "Content-Type": "application/json"},
    )
    _problem(response, 422, "json_invalid")
