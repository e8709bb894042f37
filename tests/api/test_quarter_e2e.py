"""A whole quarter through HTTP only, starting from an empty store and one admin token.

Plan the organisation and the cycle; draft; negotiate (request changes, counter-propose,
approve); amend a target; check in weekly; correct a check-in; grade; close. Then read the tree
as of mid-quarter, the diff since then, the comparison with the previous quarter and the audit
trail of the amended key result. Every read passes the last write's position as `min_position`.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.access import Role
from domain.base import CommandContext
from tests.api.conftest import API


class Http:
    """One caller: their token, and the log position of their last write."""

    position = 0

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def send(self, method: str, path: str, body: Any = None, status: int | None = None) -> Any:
        response = self.client.request(method, f"{API}{path}", json=body, headers=self.headers)
        expected = status or (201 if response.status_code == 201 else 200)
        assert response.status_code == expected, f"{method} {path}: {response.text}"
        data = response.json()
        if isinstance(data, dict) and isinstance(data.get("position"), int) and method != "GET":
            Http.position = max(Http.position, data["position"])
        return data

    def post(self, path: str, body: Any = None, status: int | None = None) -> Any:
        return self.send("POST", path, body, status)

    def get(self, path: str, **params: Any) -> Any:
        params.setdefault("min_position", Http.position)
        response = self.client.get(f"{API}{path}", params=params, headers=self.headers)
        assert response.status_code == 200, f"GET {path}: {response.text}"
        return response.json()


def _kr(objective: dict[str, Any], title: str) -> dict[str, Any]:
    return next(kr for kr in objective["key_results"] if kr["title"] == title)


def _find(roots: list[dict[str, Any]], objective_id: str) -> dict[str, Any]:
    for node in roots:
        if node["objective_id"] == objective_id:
            return node
        try:
            return _find(node.get("children", []), objective_id)
        except LookupError:
            continue
    raise LookupError(objective_id)


def _token(admin: Http, person_id: str, role: str) -> str:
    token: str = admin.post("/tokens", {"person_id": person_id, "role": role})["token"]
    return token


def test_a_quarter_through_http(client: Any, ledger: Any) -> None:
    # The one thing not done over HTTP: the first admin token (`okr token create`).
    ctx = CommandContext.system()
    root = ledger.register_person("Root", "root@acme.example", ctx).id
    secret, _ = ledger.issue_token(root, Role.ADMIN, ctx)
    admin = Http(client, secret)

    # --- the organisation
    people = {
        name: admin.post("/people", {"name": name.title(), "email": f"{name}@acme.example"})["id"]
        for name in ("ceo", "mia", "max", "lea", "aud")
    }
    acme = admin.post("/teams", {"name": "Acme"})["id"]
    platform = admin.post("/teams", {"name": "Platform", "parent_id": acme})["id"]
    admin.post(f"/teams/{acme}/members", {"person_id": people["ceo"], "role": "manager"})
    admin.post(f"/teams/{platform}/members", {"person_id": people["mia"], "role": "manager"})
    admin.post(f"/teams/{platform}/members", {"person_id": people["max"], "role": "member"})
    admin.post(f"/teams/{platform}/members", {"person_id": people["lea"], "role": "member"})
    ceo = Http(client, _token(admin, people["ceo"], "manager"))
    mia = Http(client, _token(admin, people["mia"], "manager"))
    max_ = Http(client, _token(admin, people["max"], "member"))
    lea = Http(client, _token(admin, people["lea"], "member"))
    auditor = Http(client, _token(admin, people["aud"], "auditor"))

    today = date.today()
    start = today - timedelta(days=84)

    # --- the previous quarter, quickly: one objective, graded and closed
    previous = admin.post(
        "/cycles",
        {
            "name": "Previous",
            "starts_on": str(start - timedelta(days=91)),
            "ends_on": str(start - timedelta(days=1)),
        },
    )["id"]
    admin.post(f"/cycles/{previous}/start")
    old = max_.post(
        "/objectives",
        {"cycle_id": previous, "owner_team_id": platform, "title": "Builds are faster"},
    )["id"]
    old_kr = max_.post(
        f"/objectives/{old}/key-results",
        {
            "title": "p95 build minutes",
            "measure": "metric",
            "baseline": 30,
            "target": 15,
            "direction": "decrease",
            "unit": "min",
        },
    )["key_result_id"]
    max_.post(f"/objectives/{old}/submit", {"approver_id": people["mia"]})
    mia.post(f"/objectives/{old}/approve")
    max_.post(
        f"/objectives/{old}/key-results/{old_kr}/check-ins",
        {"value": 24, "confidence": 5, "effective_on": str(start - timedelta(days=10))},
    )
    admin.post(f"/cycles/{previous}/grading")
    max_.post(f"/objectives/{old}/key-results/{old_kr}/grade", {})
    max_.post(f"/objectives/{old}/grade", {})
    admin.post(f"/cycles/{previous}/close")

    # --- plan this quarter
    quarter = admin.post(
        "/cycles",
        {
            "name": "This quarter",
            "starts_on": str(start),
            "ends_on": str(today + timedelta(days=7)),
            "cadence": "weekly",
            "scoring": "scale",
        },
    )["id"]
    company = ceo.post(
        "/objectives", {"cycle_id": quarter, "owner_team_id": acme, "title": "Ship twice as often"}
    )["id"]
    company_kr = ceo.post(
        f"/objectives/{company}/key-results",
        {"title": "Deploys per week", "measure": "metric", "baseline": 5, "target": 10},
    )["key_result_id"]

    # --- draft, aligned to the company key result
    objective = max_.post(
        "/objectives",
        {
            "cycle_id": quarter,
            "owner_team_id": platform,
            "title": "CI is fast",
            "kind": "committed",
            "parent_objective_id": company,
            "parent_key_result_id": company_kr,
        },
    )["id"]
    build = max_.post(
        f"/objectives/{objective}/key-results",
        {
            "title": "p95 build minutes",
            "measure": "metric",
            "baseline": 24,
            "target": 12,
            "direction": "decrease",
            "unit": "min",
        },
    )["key_result_id"]
    flaky = max_.post(
        f"/objectives/{objective}/key-results",
        {
            "title": "Flaky tests",
            "measure": "metric",
            "baseline": 40,
            "target": 5,
            "direction": "decrease",
            "weight": 0.5,
        },
    )["key_result_id"]

    # --- negotiate: request changes, revise, counter-propose, accept
    max_.post(f"/objectives/{objective}/submit", {"approver_id": people["mia"]})
    inbox = mia.get("/inbox")
    assert [i["objective_id"] for i in inbox["items"]] == [objective]
    mia.post(f"/objectives/{objective}/request-changes", {"comment": "12 minutes is not enough"})
    max_.send("PATCH", f"/objectives/{objective}/key-results/{build}", {"target": 10})
    max_.post(f"/objectives/{objective}/submit", {"approver_id": people["mia"]})
    mia.post(
        f"/objectives/{objective}/counter-propose",
        {"changes": {"key_results": {build: {"target": 8}}}, "comment": "8 is doable"},
    )
    max_.post(f"/objectives/{objective}/accept-counter")
    ceo.post(f"/objectives/{company}/submit", {"approver_id": people["mia"]})
    mia.post(f"/objectives/{company}/approve")
    admin.post(f"/cycles/{quarter}/start")

    # --- weekly check-ins for six weeks
    values = [23, 21, 20, 18, 17, 15]
    for week, value in enumerate(values, start=1):
        lea.post(
            f"/objectives/{objective}/key-results/{build}/check-ins",
            {
                "value": value,
                "confidence": 6,
                "note": f"week {week}",
                "effective_on": str(start + timedelta(days=7 * week - 1)),
            },
        )
    max_.post(
        f"/objectives/{objective}/key-results/{flaky}/check-ins",
        {"value": 30, "confidence": 4, "effective_on": str(start + timedelta(days=40))},
    )
    time.sleep(0.05)
    mid_quarter = datetime.now(UTC)
    time.sleep(0.05)

    # --- the goalpost moves: an amendment, approved by the manager
    amendment = max_.post(
        f"/objectives/{objective}/amendments",
        {
            "changes": {"key_results": {build: {"target": 10}}},
            "reason": "the build farm migration slipped to next quarter",
        },
    )["amendment_id"]
    assert mia.get("/inbox")["items"][0]["amendment_id"] == amendment
    mia.post(
        f"/objectives/{objective}/amendments/{amendment}/approve",
        {"comment": "agreed, 10 is still a stretch"},
    )

    # --- six more weeks, one of them wrong and corrected
    check_ins = []
    for week, value in enumerate([14, 13, 120, 12, 11, 10], start=7):
        check_ins.append(
            lea.post(
                f"/objectives/{objective}/key-results/{build}/check-ins",
                {
                    "value": value,
                    "confidence": 7,
                    "effective_on": str(start + timedelta(days=7 * week - 1)),
                },
            )["check_in_id"]
        )
    lea.post(
        f"/objectives/{objective}/key-results/{build}/check-ins/{check_ins[2]}/corrections",
        {"value": 12.5, "reason": "typo: 12.5 minutes, not 120"},
    )
    history = max_.get(f"/objectives/{objective}/history")
    build_history = history["key_results"][build]["check_ins"]
    assert len(build_history) == 13  # twelve weeks and the correction; the typo stays
    assert [c["value"] for c in build_history if c["superseded"]] == [120.0]

    # --- grading and closing
    admin.post(f"/cycles/{quarter}/grading")
    max_.post(f"/objectives/{objective}/key-results/{build}/grade", {})
    max_.post(
        f"/objectives/{objective}/key-results/{flaky}/grade",
        {"score": 0.3, "comment": "we fixed the worst offenders only"},
    )
    max_.post(f"/objectives/{objective}/grade", {})
    max_.post(f"/objectives/{objective}/reflection", {"text": "Measure the farm first."})
    ceo.post(
        f"/objectives/{company}/key-results/{company_kr}/grade",
        {"score": 0.5, "comment": "halfway"},
    )
    ceo.post(f"/objectives/{company}/grade", {})
    admin.post(f"/cycles/{quarter}/close")
    closed = max_.post(f"/objectives/{objective}/reflection", {"text": "late"}, status=409)
    assert closed["rule"] == "wrong_cycle_phase"

    final = max_.get(f"/objectives/{objective}")
    assert final["status"] == "approved"
    assert _kr(final, "p95 build minutes")["target"] == 10
    assert _kr(final, "p95 build minutes")["current_value"] == 10
    assert final["score"] is not None

    # --- the tree as of mid-quarter: the original target, six weeks of progress
    then = lea.get(f"/cycles/{quarter}/tree", as_of=mid_quarter.isoformat())
    node = _find(then["roots"], objective)
    assert then["position"] is not None
    build_then = next(k for k in node["key_results"] if k["key_result_id"] == build)
    assert build_then["target"] == 8 and build_then["current_value"] == 15
    assert _find(then["roots"], company)["children"][0]["objective_id"] == objective
    now = lea.get(f"/cycles/{quarter}/tree")
    build_now = next(
        k for k in _find(now["roots"], objective)["key_results"] if k["key_result_id"] == build
    )
    assert build_now["target"] == 10 and build_now["current_value"] == 10

    # --- the objective itself as of mid-quarter, with the version it had then
    response = client.get(
        f"{API}/objectives/{objective}",
        params={"as_of": mid_quarter.isoformat()},
        headers=lea.headers,
    )
    assert response.status_code == 200
    assert _kr(response.json(), "p95 build minutes")["target"] == 8
    assert int(response.headers["ETag"].strip('"')) < final["version"]

    # --- the diff since mid-quarter names the moved target, who moved it, why, who approved
    changes = lea.get("/diff", **{"from": mid_quarter.isoformat(), "cycle_id": quarter})["changes"]
    moved = [c for c in changes if c["kind"] == "target_changed" and c["key_result_id"] == build]
    assert len(moved) == 1
    assert (moved[0]["before"], moved[0]["after"]) == (8.0, 10.0)
    assert moved[0]["by"]["actor"] == people["max"]
    assert moved[0]["by"]["approver"] == people["mia"]
    assert "migration slipped" in moved[0]["by"]["reason"]

    # --- the comparison with the previous quarter
    comparison = mia.get("/compare", cycles=f"{previous},{quarter}", team_id=platform)
    assert [c["cycle_id"] for c in comparison["cycles"]] == [previous, quarter]
    this_one = comparison["cycles"][1]["organisation"]
    assert this_one["amendments_approved"] == 1
    assert this_one["targets_eased"] == 1

    # --- the audit trail of the amended key result: every step, with reasons and approvers
    trail = auditor.get("/audit", entity_id=build, limit=1000)["items"]
    kinds = [row["event_type"] for row in trail]
    assert kinds[0] == "Objective.KeyResultAdded"
    for expected in (
        "Objective.KeyResultRetargeted",
        "Objective.CounterProposalAccepted",
        "Objective.AmendmentProposed",
        "Objective.AmendmentApproved",
        "Objective.ProgressReported",
        "Objective.CheckInCorrected",
        "Objective.KeyResultGraded",
    ):
        assert expected in kinds, expected
    approved = next(r for r in trail if r["event_type"] == "Objective.AmendmentApproved")
    assert approved["actor"] == people["mia"]
    assert approved["approver"] == people["mia"]
    corrected = next(r for r in trail if r["event_type"] == "Objective.CheckInCorrected")
    assert corrected["reason"] == "typo: 12.5 minutes, not 120"
    assert all(row["actor"] in people.values() or row["actor"] == str(root) for row in trail)
    denied = client.get(f"{API}/audit", params={"entity_id": build}, headers=max_.headers)
    assert denied.status_code == 403
    assert auditor.get("/audit/verify")["ok"] is True
