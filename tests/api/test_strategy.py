"""The strategy layer over HTTP: strategy, KPIs, initiatives, the strategy map and the quality
coach, with the same error discipline as every other route (422 naming field and rule, 409,
404, 403, 401, ETag / If-Match, Idempotency-Key) and the private-objective filters."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.api.answers import Refused, refuses
from tests.api.answers import ok as _ok
from tests.api.answers import problem as _problem
from tests.api.conftest import (
    API,
    CALLER,
    ROLES,
    Request,
    World,
    allowed,
    build_world,
    kpi_body,
    objective_in,
)
from tests.steps import kpi

THEMES = [
    {"name": "Profitable growth", "perspective": "financial"},
    {"name": "Loyal customers", "perspective": "customer", "drives": ["Profitable growth"]},
    {"name": "A quiet platform", "perspective": "internal_process"},
]
STRATEGY_CONTRACT = [
    ("PUT", "/strategy"),
    ("GET", "/strategy"),
    ("POST", "/kpis"),
    ("POST", "/kpis/{kpi_id}/measurements"),
    ("POST", "/initiatives"),
    ("PATCH", "/initiatives/{initiative_id}"),
    ("GET", "/lint"),
]


def _strategy(client: Any, world: World) -> dict[str, str]:
    _ok(
        client.put(
            f"{API}/strategy",
            json={"mission": "Make goals honest", "values": ["Candour"], "themes": THEMES},
            headers=world["ceo"].headers,
        )
    )
    found = _ok(client.get(f"{API}/strategy", headers=world["max"].headers))
    return {t["name"]: t["id"] for t in found["themes"]}


def _kpi(client: Any, world: World, **kw: Any) -> str:
    body = kpi_body(owner_person_id=str(world["max"].person_id), **kw)
    return str(_ok(client.post(f"{API}/kpis", json=body, headers=world["mia"].headers), 201)["id"])


def _this_month() -> str:
    return date.today().strftime("%Y-%m")


def _last_week() -> str:
    year, week, _ = (date.today() - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def test_the_strategy_contract_is_served(client: Any) -> None:
    spec = client.get(f"{API}/openapi.json").json()
    served = {
        (method.upper(), path.removeprefix(API))
        for path, operations in spec["paths"].items()
        for method in operations
    }
    assert [c for c in STRATEGY_CONTRACT if c not in served] == []


# ------------------------------------------------------------------ strategy


def test_strategy_is_defined_and_revised_by_managers_with_reasons(
    client: Any, world: World
) -> None:
    strategy = f"{API}/strategy"
    body = {"mission": "Make goals honest", "themes": THEMES}
    marketing = {**body, "themes": [{"name": "X", "perspective": "marketing"}]}
    Refused("PUT", strategy, body, 401, "token_missing").check(client, {})
    refuses(
        client,
        world["ceo"].headers,
        Refused("GET", strategy, None, 404, "strategy_not_found", headers=world["max"].headers),
        Refused("PUT", strategy, body, 403, "not_allowed", headers=world["max"].headers),
        Refused("PUT", strategy, body, 403, "not_allowed", headers=world["auditor"].headers),
        Refused("PUT", strategy, marketing, 422, "perspective_unknown", "themes.0.perspective"),
        Refused("PUT", strategy, {**body, "colour": "red"}, 422, "extra_forbidden", "colour"),
    )
    created = _ok(client.put(f"{API}/strategy", json=body, headers=world["ceo"].headers))
    read = client.get(f"{API}/strategy", headers=world["max"].headers)
    found = _ok(read)
    assert read.headers["ETag"] == f'"{created["version"]}"'
    assert [p["key"] for p in found["perspectives"]] == [
        "financial",
        "customer",
        "internal_process",
        "learning_growth",
    ]
    names = {t["id"]: t["name"] for t in found["themes"]}
    loyal = next(t for t in found["themes"] if t["name"] == "Loyal customers")
    assert [names[d] for d in loyal["drives"]] == ["Profitable growth"]
    assert set(found["quality_checks"].values()) == {"warn"}

    revised = {**body, "mission": "Make every goal honest"}
    stale, offsite = {"If-Match": '"1"'}, {**revised, "reason": "offsite"}
    refuses(
        client,
        world["ceo"].headers,
        Refused("PUT", strategy, revised, 422, "text_required", "reason"),
        Refused("PUT", strategy, offsite, 412, "version_mismatch", "If-Match", headers=stale),
    )
    themes = [
        {"id": t["id"], "name": t["name"], "perspective": t["perspective"]} for t in found["themes"]
    ]
    done = _ok(
        client.put(
            f"{API}/strategy",
            json={**revised, "themes": themes[:2], "reason": "offsite"},
            headers={**world["ceo"].headers, "If-Match": read.headers["ETag"]},
        )
    )

    def read_by_max(**params: Any) -> dict[str, Any]:
        return _ok(client.get(strategy, params=params, headers=world["max"].headers))

    now = read_by_max(min_position=done["position"])
    assert now["mission"] == "Make every goal honest"
    assert [t["name"] for t in now["themes"]] == ["Profitable growth", "Loyal customers"]
    assert now["themes"][1]["drives"] == []  # the PUT said nothing about drives

    then = read_by_max(position=created["position"])
    assert then["mission"] == "Make goals honest"


# ---------------------------------------------------------------------- KPIs


def test_kpis_defined_by_managers_measured_by_their_owners(client: Any, world: World) -> None:
    base, kpis = kpi_body(), f"{API}/kpis"
    upside_down = {**base, "thresholds": {"green": 5, "amber": 9}}
    max_, mia, sue = world["max"].headers, world["mia"].headers, world["sue"].headers
    refuses(
        client,
        mia,
        Refused("POST", kpis, base, 403, "not_allowed", headers=max_),
        Refused("POST", kpis, upside_down, 422, "thresholds_order", "thresholds.amber"),
        Refused("POST", kpis, {**base, "direction": "up"}, 422, "enum", "direction"),
    )
    kpi = _kpi(client, world, north_star=True)
    strategy = _ok(client.get(f"{API}/strategy", headers=world["sue"].headers))
    assert strategy["north_star"]["kpi_id"] == kpi

    url = f"{API}/kpis/{kpi}/measurements"
    Refused("POST", url, {"value": 3, "period": _last_week()}, 403, "not_allowed").check(
        client, sue
    )
    first = _ok(
        client.post(url, json={"value": 4, "period": _last_week()}, headers=world["max"].headers),
        201,
    )
    correction_url = f"{url}/{first['measurement_id']}/corrections"
    again = {"value": 5, "period": _last_week()}
    refuses(
        client,
        max_,
        Refused("POST", url, again, 409, "period_already_measured", "period"),
        Refused("POST", url, {"value": 5, "period": "2999-01"}, 422, "period_in_future", "period"),
        Refused("POST", url, {"value": 5, "period": "soon"}, 422, "period_invalid", "period"),
        Refused(
            "POST", correction_url, {"value": 6, "reason": " "}, 422, "text_required", "reason"
        ),
    )
    time.sleep(0.05)
    before_correction = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    _ok(
        client.post(
            correction_url, json={"value": 6, "reason": "duplicates"}, headers=world["max"].headers
        ),
        201,
    )
    _ok(
        client.post(url, json={"value": 10, "period": _this_month()}, headers=world["max"].headers),
        201,
    )
    read = client.get(f"{API}/kpis/{kpi}", headers=world["sue"].headers)
    found = _ok(read)
    assert (found["current_value"], found["status"], found["trend"]) == (10, "green", "improving")
    assert [m["value"] for m in found["history"]] == [6, 10]
    assert [m["value"] for m in found["corrections"]] == [4]
    assert found["owner_person_name"] == "Max"
    assert read.headers["ETag"] == f'"{found["version"]}"'
    then = _ok(
        client.get(
            f"{API}/kpis/{kpi}", params={"as_of": before_correction}, headers=world["sue"].headers
        )
    )
    assert (then["current_value"], then["status"]) == (4, "red")

    thresholds = f"{API}/kpis/{kpi}/thresholds"
    growth = {"green": 12, "amber": 8, "reason": "growth"}
    refuses(
        client,
        mia,
        Refused("POST", thresholds, {**growth, "reason": ""}, 422, "text_required", "reason"),
        Refused("POST", thresholds, {**growth, "reason": "x"}, 403, "not_allowed", headers=max_),
        Refused("POST", thresholds, growth, 412, "version_mismatch", headers={"If-Match": '"1"'}),
    )
    _ok(
        client.post(
            thresholds,
            json={"green": 12, "amber": 8, "reason": "growth"},
            headers={**world["mia"].headers, "If-Match": read.headers["ETag"]},
        )
    )
    dashboard = _ok(client.get(f"{API}/kpis", headers=world["sue"].headers))
    [item] = dashboard["items"]
    assert (item["status"], item["north_star"]) == ("amber", True)
    refuses(
        client,
        sue,
        Refused("GET", f"{kpis}/{first['id']}x", None, 422, "uuid_parsing"),
        Refused("GET", f"{kpis}/{world['max'].person_id}", None, 404, "kpi_not_found"),
    )


def test_a_repeated_idempotency_key_records_one_measurement(client: Any, world: World) -> None:
    kpi = _kpi(client, world)
    headers = {**world["max"].headers, "Idempotency-Key": "measure-once"}
    body = {"value": 7, "period": _this_month()}
    first = client.post(f"{API}/kpis/{kpi}/measurements", json=body, headers=headers)
    again = client.post(f"{API}/kpis/{kpi}/measurements", json=body, headers=headers)
    assert _ok(first, 201) == _ok(again, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _ok(client.get(f"{API}/kpis/{kpi}", headers=world["max"].headers))["version"] == 2


def test_a_stale_if_match_loses_a_measurement_correction(client: Any, world: World) -> None:
    """Two owners correct two measurements of the same KPI from the same version: the first
    wins, the second gets 412 `version_mismatch` (as every command does) and writes nothing."""
    kpi = _kpi(client, world)
    url = f"{API}/kpis/{kpi}/measurements"
    owner = world["max"].headers
    weekly = _ok(client.post(url, json={"value": 4, "period": _last_week()}, headers=owner), 201)
    monthly = _ok(client.post(url, json={"value": 5, "period": _this_month()}, headers=owner), 201)
    seen = {**owner, "If-Match": f'"{monthly["version"]}"'}
    won = client.post(
        f"{url}/{weekly['measurement_id']}/corrections",
        json={"value": 6, "reason": "late survey answers"},
        headers=seen,
    )
    assert _ok(won, 201)["version"] == monthly["version"] + 1
    lost = f"{url}/{monthly['measurement_id']}/corrections"
    typo = {"value": 7, "reason": "a typo"}
    Refused("POST", lost, typo, 412, "version_mismatch", "If-Match").check(client, seen)
    found = _ok(client.get(f"{API}/kpis/{kpi}", headers=owner))
    assert found["version"] == monthly["version"] + 1
    assert [m["value"] for m in found["corrections"]] == [4]


# ------------------------------------------------- objectives in the strategy


def test_themes_kpi_links_and_check_ins_from_a_kpi(client: Any, world: World) -> None:
    themes = _strategy(client, world)
    built = objective_in(world, "platform", "approved")
    objective = f"{API}/objectives/{built.objective_id}"
    quiet, no_theme = {"theme_id": themes["A quiet platform"]}, {"theme_id": str(built.cycle_id)}
    max_ = world["max"].headers
    refuses(
        client,
        max_,
        Refused(
            "PUT", f"{objective}/theme", quiet, 403, "not_allowed", headers=world["sue"].headers
        ),
        Refused("PUT", f"{objective}/theme", no_theme, 404, "theme_not_found", "theme_id"),
    )
    _ok(
        client.put(
            f"{objective}/theme",
            json={"theme_id": themes["A quiet platform"]},
            headers=world["max"].headers,
        )
    )
    assert (
        _ok(client.get(objective, headers=world["sue"].headers))["theme_id"]
        == themes["A quiet platform"]
    )

    draft = objective_in(world, "platform", "draft")
    in_users = _ok(
        client.post(
            f"{API}/objectives/{draft.objective_id}/key-results",
            json={
                "title": "Active users",
                "measure": "metric",
                "baseline": 1,
                "target": 9,
                "unit": "users",
            },
            headers=world["max"].headers,
        ),
        201,
    )["key_result_id"]
    in_points = _kpi(client, world, name="Reached", unit="points")
    users_link = f"{API}/objectives/{draft.objective_id}/key-results/{in_users}/kpi"
    Refused("PUT", users_link, {"kpi_id": in_points}, 422, "kpi_unit_mismatch", "kpi_id").check(
        client, max_
    )
    link = f"{objective}/key-results/{built.key_result_id}/kpi"
    same_unit = in_points  # "Reach ten" names no unit: it follows any KPI
    _ok(client.put(link, json={"kpi_id": same_unit}, headers=world["max"].headers))
    read = _ok(client.get(objective, headers=world["max"].headers))
    assert read["key_results"][0]["kpi_id"] == same_unit

    from_kpi = f"{objective}/key-results/{built.key_result_id}/check-ins/from-kpi"
    Refused("POST", from_kpi, {"confidence": 7}, 409, "kpi_not_measured").check(client, max_)
    _ok(
        client.post(
            f"{API}/kpis/{same_unit}/measurements",
            json={"value": 6, "period": _this_month()},
            headers=world["max"].headers,
        ),
        201,
    )
    checked = _ok(client.post(from_kpi, json={"confidence": 7}, headers=world["max"].headers), 201)
    assert checked["check_in_id"]
    read = _ok(client.get(objective, headers=world["max"].headers))
    assert read["key_results"][0]["current_value"] == 6
    assert read["key_results"][0]["check_ins"][0]["note"].startswith("From KPI 'Reached'")


# --------------------------------------------------------------- initiatives


def test_initiatives_under_their_key_results(client: Any, world: World) -> None:
    built = objective_in(world, "platform", "approved")
    body = {"title": "Chaos drills", "key_result_ids": [str(built.key_result_id)]}
    initiatives, max_, sue = f"{API}/initiatives", world["max"].headers, world["sue"].headers
    not_a_kr = {**body, "key_result_ids": [str(built.cycle_id)]}
    refuses(
        client,
        max_,
        Refused("POST", initiatives, body, 403, "not_allowed", headers=sue),
        Refused("POST", initiatives, not_a_kr, 404, "key_result_not_found", "key_result_ids"),
        Refused(
            "POST", initiatives, {**body, "key_result_ids": []}, 422, "too_short", "key_result_ids"
        ),
    )
    created = _ok(client.post(f"{API}/initiatives", json=body, headers=world["max"].headers), 201)
    url = f"{API}/initiatives/{created['id']}"
    Refused("PATCH", url, {"status": "in_progress"}, 403, "not_allowed").check(client, sue)
    _ok(
        client.patch(
            url, json={"status": "in_progress", "note": "kick-off"}, headers=world["max"].headers
        )
    )
    refuses(
        client,
        max_,
        Refused("PATCH", url, {"status": "planned"}, 409, "status_transition_invalid", "status"),
        Refused("PATCH", url, {"status": "cancelled"}, 422, "text_required", "reason"),
        Refused(
            "PATCH", url, {"status": "done"}, 412, "version_mismatch", headers={"If-Match": '"1"'}
        ),
    )
    _ok(client.patch(url, json={"status": "done"}, headers=world["mia"].headers))
    [listed] = _ok(
        client.get(
            f"{API}/initiatives",
            params={"key_result_id": str(built.key_result_id)},
            headers=world["sue"].headers,
        )
    )["items"]
    assert (listed["title"], listed["status"], listed["owner_person_name"]) == (
        "Chaos drills",
        "done",
        "Max",
    )
    assert [k["title"] for k in listed["key_results"]] == ["Reach ten"]
    assert [n["text"] for n in listed["notes"]] == ["kick-off"]
    read = client.get(url, headers=world["sue"].headers)
    assert read.headers["ETag"] == f'"{_ok(read)["version"]}"'
    assert (
        _ok(
            client.get(
                f"{API}/initiatives", params={"status": "planned"}, headers=world["sue"].headers
            )
        )["items"]
        == []
    )


# ----------------------------------------------------------------------- map


def test_the_strategy_map_hides_private_objectives(client: Any, world: World) -> None:
    themes = _strategy(client, world)
    public = objective_in(world, "platform", "approved")
    private = objective_in(world, "sales", "approved", private=True)
    for built, who, theme in (
        (public, "max", "A quiet platform"),
        (private, "sue", "Loyal customers"),
    ):
        _ok(
            client.put(
                f"{API}/objectives/{built.objective_id}/theme",
                json={"theme_id": themes[theme]},
                headers=world[who].headers,
            )
        )

    def placed(who: str) -> dict[str, list[str]]:
        found = _ok(
            client.get(
                f"{API}/strategy/map",
                params={"cycle_id": str(public.cycle_id)},
                headers=world[who].headers,
            )
        )
        return {r["perspective"]: [o["title"] for o in r["objectives"]] for r in found["rows"]}

    assert placed("sue")["customer"] == ["sales objective"]
    assert placed("max")["customer"] == []
    assert placed("max")["internal_process"] == ["platform objective"]
    strategy_map, not_a_cycle = f"{API}/strategy/map", {"cycle_id": str(public.objective_id)}
    yesterday = {"cycle_id": str(public.cycle_id), "as_of": "yesterday"}
    refuses(
        client,
        world["max"].headers,
        Refused("GET", strategy_map, None, 404, "cycle_not_found", "cycle_id", params=not_a_cycle),
        Refused("GET", strategy_map, None, 422, "rfc3339", "as_of", params=yesterday),
    )


# --------------------------------------------------------------------- coach


def test_the_coach_over_http(client: Any, world: World) -> None:
    built = objective_in(world, "platform", "draft")
    _ok(
        client.patch(
            f"{API}/objectives/{built.objective_id}",
            json={"title": "Do better at platform"},
            headers=world["max"].headers,
        )
    )
    hidden = objective_in(world, "sales", "draft", private=True)
    found = _ok(
        client.get(
            f"{API}/lint", params={"cycle_id": str(built.cycle_id)}, headers=world["max"].headers
        )
    )
    mine = [f for f in found["findings"] if f["objective_id"] == str(built.objective_id)]
    assert {f["check"] for f in mine} == {"vague_wording", "kr_count", "kr_not_measurable"}
    for finding in mine:
        assert finding["message"] and finding["suggestion"] and finding["level"] == "warn"
    assert all(f["objective_id"] != str(hidden.objective_id) for f in found["findings"])
    assert found["counts"]["vague_wording"] == 1

    draft = {
        "cycle_id": str(built.cycle_id),
        "title": "Platform excellence",
        "owner_team_id": str(world.teams["platform"]),
        "key_results": [
            {"title": "Hold a weekly review meeting", "measure": "milestone"},
            {"title": "Smoother deploys", "baseline": 0, "target": 1},
        ],
    }
    linted = _ok(client.post(f"{API}/lint/draft", json=draft, headers=world["max"].headers))
    assert {f["check"] for f in linted["findings"]} >= {
        "vague_wording",
        "kr_is_task",
        "kr_not_measurable",
    }

    def block(check: str, who: str) -> Any:
        return client.put(
            f"{API}/quality-checks/{check}", json={"level": "block"}, headers=world[who].headers
        )

    _problem(block("vague_wording", "ceo"), 403, "admin_only")
    _problem(block("loudness", "admin"), 422, "enum", "check")
    _ok(block("vague_wording", "admin"))
    checks = {
        c["check"]: c["level"]
        for c in _ok(client.get(f"{API}/quality-checks", headers=world["max"].headers))["checks"]
    }
    assert checks["vague_wording"] == "block"
    submit = f"{API}/objectives/{built.objective_id}/submit"
    to_mia = {"approver_id": str(world["mia"].person_id)}
    Refused("POST", submit, to_mia, 409, "vague_wording", "title").check(
        client, world["max"].headers
    )


# ------------------------------------------------------- audit and comparison


def test_the_audit_trail_and_the_comparison_cover_the_strategy_layer(
    client: Any, world: World
) -> None:
    _strategy(client, world)
    kpi = _kpi(client, world)
    measured = _ok(
        client.post(
            f"{API}/kpis/{kpi}/measurements",
            json={"value": 4, "period": _this_month()},
            headers=world["max"].headers,
        ),
        201,
    )
    corrected = _ok(
        client.post(
            f"{API}/kpis/{kpi}/measurements/{measured['measurement_id']}/corrections",
            json={"value": 5, "reason": "late survey answers"},
            headers=world["max"].headers,
        ),
        201,
    )
    rows = _ok(
        client.get(
            f"{API}/audit",
            params={"entity_id": kpi, "min_position": corrected["position"]},
            headers=world["auditor"].headers,
        )
    )["items"]
    assert [r["event_type"] for r in rows] == [
        "Kpi.Defined",
        "Kpi.MeasurementRecorded",
        "Kpi.MeasurementCorrected",
    ]
    correction = rows[-1]
    assert correction["reason"] == "late survey answers"
    assert correction["actor_name"] == "Max"
    assert "corrected from 4 to 5" in correction["action"]

    compared = _ok(
        client.get(
            f"{API}/compare",
            params={"cycles": str(world.active_cycle_id)},
            headers=world["sue"].headers,
        )
    )
    [cycle] = compared["strategy"]
    assert [k["name"] for k in cycle["kpis"]] == ["Weekly active users"]
    assert cycle["kpis"][0]["end_value"] == 5


@pytest.mark.parametrize("path", ["/strategy", "/kpis", "/initiatives", "/quality-checks"])
def test_reads_need_a_token(client: Any, path: str) -> None:
    _problem(client.get(f"{API}{path}"), 401, "token_missing")


# ------------------------------------------------------------------ okr lint


def test_okr_lint(world: World, database_url: str, tmp_path: Any) -> None:
    """The command line over a real database (the demo's planted OKRs are tested in memory, in
    tests/unit/strategy/test_demo.py)."""
    import json

    from domain.base import CommandContext
    from tests.api.test_cli import _okr
    from tests.servers import okr_env

    built = objective_in(world, "platform", "approved")
    world.ledger.update_objective(
        built.objective_id,
        CommandContext(actor=str(world["max"].person_id)),
        title="Do better at platform",
        reason="clearer",
    )
    env = okr_env(database_url, tmp_path)
    done = _okr("lint", "--json", env=env)
    findings = json.loads(done.stdout)["findings"]
    assert {"vague_wording", "kr_count", "kr_not_measurable"} <= {f["check"] for f in findings}
    assert all(f["message"] and f["suggestion"] for f in findings)
    table = _okr("lint", "--cycle", "Tracking", env=env).stdout
    assert "OKR quality coach: Tracking" in table and "vague_wording" in table
    assert _okr("lint", "--cycle", "Q9 1999", env=env, ok=False).returncode == 2
    world.ledger.configure_quality_check("kr_count", "block", CommandContext.system())
    assert _okr("lint", env=env, ok=False).returncode == 1


# ------------------------------------------------------- the authorization matrix
# Every write of the strategy layer × every role, as tests/api/test_authorization_matrix.py does
# for the rest (which counts these cases too). The callers are those of that matrix: `admin`,
# `auditor` (both also Platform members), `mia` (manager of Platform) and `max` (a Platform
# member who owns the KPI under test). Every case builds what its request needs, so an allowed
# call is a real success.

from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from uuid import UUID, uuid4  # noqa: E402

from domain.base import CommandContext  # noqa: E402
from domain.initiative import KeyResultRef  # noqa: E402
from domain.team import MemberRole  # noqa: E402

STEWARD = allowed("admin", "manager")
OWNER = allowed("admin", "member")  # max owns the KPI
WORKER = allowed("admin", "manager", "member")
READER = allowed("admin", "auditor", "manager", "member")
ADMIN_ONLY = allowed("admin")


@dataclass(frozen=True)
class StrategyCase:
    name: str
    rule: dict[str, bool]
    request: Callable[[World], Request]
    denied_rule: str = "not_allowed"


def _system() -> CommandContext:
    return CommandContext.system()


def _matrix_kpi(w: World, *, measured: bool = False) -> str:
    kpi_id = kpi(
        w.ledger,
        _system(),
        f"KPI {uuid4().hex[:6]}",
        "points",
        "increase",
        w["max"].person_id,
        (9, 5),
    )
    if measured:
        w.ledger.record_measurement(kpi_id, _this_month(), 4, _system())
    return str(kpi_id)


def _matrix_measurement(w: World) -> Request:
    kpi = _matrix_kpi(w)
    mid = w.ledger.record_measurement(UUID(kpi), _this_month(), 4, _system()).extra_id
    return ("POST", f"{API}/kpis/{kpi}/measurements/{mid}/corrections", {"value": 5, "reason": "x"})


def _matrix_initiative(w: World) -> tuple[str, Any]:
    """An initiative of Sue (Sales) moving a key result of a Platform objective."""
    built = objective_in(w, "platform", "approved")
    initiative = w.ledger.launch_initiative(
        title="Drills",
        owner_person_id=w["sue"].person_id,
        key_results=[KeyResultRef(built.objective_id, built.key_result_id)],
        ctx=_system(),
    ).id
    return str(initiative), built


def _matrix_link(w: World) -> Request:
    initiative, _ = _matrix_initiative(w)
    other = objective_in(w, "platform", "approved")
    return (
        "POST",
        f"{API}/initiatives/{initiative}/key-results",
        {"key_result_id": str(other.key_result_id)},
    )


def _matrix_unlink(w: World) -> Request:
    initiative, built = _matrix_initiative(w)
    other = objective_in(w, "platform", "approved")
    w.ledger.link_initiative(
        UUID(initiative), KeyResultRef(other.objective_id, other.key_result_id), _system()
    )
    return ("POST", f"{API}/initiatives/{initiative}/key-results/{built.key_result_id}/unlink", {})


def _matrix_theme(w: World) -> Request:
    built = objective_in(w, "platform", "draft")
    theme = w.ledger.get_strategy().live_themes[0].id
    return ("PUT", f"{API}/objectives/{built.objective_id}/theme", {"theme_id": str(theme)})


def _matrix_kpi_link(w: World) -> Request:
    built = objective_in(w, "platform", "approved")
    path = f"{API}/objectives/{built.objective_id}/key-results/{built.key_result_id}/kpi"
    return ("PUT", path, {"kpi_id": _matrix_kpi(w)})


def _matrix_kpi_check_in(w: World) -> Request:
    built = objective_in(w, "platform", "approved")
    kpi = _matrix_kpi(w, measured=True)
    w.ledger.link_key_result_to_kpi(built.objective_id, built.key_result_id, UUID(kpi), _system())
    path = f"{API}/objectives/{built.objective_id}/key-results/{built.key_result_id}"
    return ("POST", f"{path}/check-ins/from-kpi", {"confidence": 6})


STRATEGY_CASES = [
    StrategyCase(
        "put strategy",
        STEWARD,
        lambda w: (
            "PUT",
            f"{API}/strategy",
            {"mission": f"m {uuid4().hex[:6]}", "themes": THEMES, "reason": "matrix"},
        ),
    ),
    StrategyCase(
        "choose north star",
        STEWARD,
        lambda w: ("POST", f"{API}/strategy/north-star", {"kpi_id": _matrix_kpi(w)}),
    ),
    StrategyCase(
        "define kpi",
        STEWARD,
        lambda w: (
            "POST",
            f"{API}/kpis",
            {
                "name": "New",
                "unit": "u",
                "direction": "decrease",
                "thresholds": {"green": 1, "amber": 2},
            },
        ),
    ),
    StrategyCase(
        "patch kpi",
        STEWARD,
        lambda w: ("PATCH", f"{API}/kpis/{_matrix_kpi(w)}", {"name": "Renamed"}),
    ),
    StrategyCase(
        "move thresholds",
        STEWARD,
        lambda w: (
            "POST",
            f"{API}/kpis/{_matrix_kpi(w)}/thresholds",
            {"green": 10, "amber": 6, "reason": "benchmark"},
        ),
    ),
    StrategyCase(
        "retire kpi",
        STEWARD,
        lambda w: ("POST", f"{API}/kpis/{_matrix_kpi(w)}/retire", {"reason": "replaced"}),
    ),
    StrategyCase(
        "record measurement",
        OWNER,
        lambda w: (
            "POST",
            f"{API}/kpis/{_matrix_kpi(w)}/measurements",
            {"value": 3, "period": _this_month()},
        ),
    ),
    StrategyCase("correct measurement", OWNER, _matrix_measurement),
    StrategyCase(
        "launch initiative",
        WORKER,
        lambda w: (
            "POST",
            f"{API}/initiatives",
            {
                "title": "Drills",
                "key_result_ids": [str(objective_in(w, "platform", "approved").key_result_id)],
            },
        ),
    ),
    StrategyCase(
        "patch initiative",
        WORKER,
        lambda w: (
            "PATCH",
            f"{API}/initiatives/{_matrix_initiative(w)[0]}",
            {"status": "in_progress"},
        ),
    ),
    StrategyCase("link initiative key result", WORKER, _matrix_link),
    StrategyCase("unlink initiative key result", WORKER, _matrix_unlink),
    StrategyCase("tag objective with a theme", WORKER, _matrix_theme),
    StrategyCase("link key result to kpi", WORKER, _matrix_kpi_link),
    StrategyCase("check in from kpi", WORKER, _matrix_kpi_check_in),
    StrategyCase(
        "lint a draft",
        READER,
        lambda w: (
            "POST",
            f"{API}/lint/draft",
            {"cycle_id": str(w.active_cycle_id), "title": "Do better"},
        ),
    ),
    StrategyCase(
        "configure a quality check",
        ADMIN_ONLY,
        lambda w: ("PUT", f"{API}/quality-checks/kr_count", {"level": "warn"}),
        "admin_only",
    ),
]


@pytest.fixture(scope="module")
def strategy_world(module_ledger: Any) -> World:
    world = build_world(module_ledger)
    for name in ("admin", "auditor"):
        module_ledger.add_team_member(
            world.teams["platform"], world[name].person_id, MemberRole.MEMBER, _system()
        )
    module_ledger.put_strategy(_system(), mission="m", vision="", values=[], themes=THEMES)
    return world


@pytest.fixture(scope="module")
def strategy_client(module_ledger: Any, strategy_world: World) -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from infra.readmodels import ReadModels
    from infra.settings import Settings
    from tests.api.conftest import make_app

    readmodels = ReadModels(module_ledger, Settings())
    readmodels.start()
    try:
        with TestClient(make_app(module_ledger, readmodels), raise_server_exceptions=False) as c:
            yield c
    finally:
        readmodels.stop()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", STRATEGY_CASES, ids=lambda c: c.name.replace(" ", "_"))
def test_strategy_writes(
    case: StrategyCase, role: str, strategy_world: World, strategy_client: Any
) -> None:
    method, path, body = case.request(strategy_world)
    headers = strategy_world[CALLER[role]].headers
    response = strategy_client.request(method, path, json=body, headers=headers)
    if case.rule[role]:
        assert 200 <= response.status_code < 300, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["rule"] == case.denied_rule


def test_an_initiative_needs_a_key_result_of_ones_own(
    strategy_world: World, strategy_client: Any
) -> None:
    """The matrix's "other team": Max works on Platform, not on a Sales objective."""
    sales = objective_in(strategy_world, "sales", "approved")
    response = strategy_client.post(
        f"{API}/initiatives",
        json={"title": "Not mine", "key_result_ids": [str(sales.key_result_id)]},
        headers=strategy_world["max"].headers,
    )
    _problem(response, 403, "not_allowed")
    theme = strategy_world.ledger.get_strategy().live_themes[0].id
    response = strategy_client.put(
        f"{API}/objectives/{sales.objective_id}/theme",
        json={"theme_id": str(theme)},
        headers=strategy_world["max"].headers,
    )
    _problem(response, 403, "not_allowed")
