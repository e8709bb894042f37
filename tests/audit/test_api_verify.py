"""GET /api/v1/audit/verify checks the signed checkpoints too, not only the chain's own links."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from domain.access import Role
from domain.application import OkrLedger
from infra.audit.checkpoints import checkpointer_for
from infra.settings import Settings
from tests.audit.conftest import ADMIN, an_org
from tests.audit.test_checkpoints import rewrite_from

API = "/api/v1"


def test_the_api_reports_a_consistent_rewrite_against_a_signed_checkpoint(
    ledger: OkrLedger, settings: Settings
) -> None:
    org = an_org(ledger)
    signed = checkpointer_for(ledger.recorder, settings).catch_up()
    auditor = ledger.register_person("Aud Itor", "auditor@acme.example", ADMIN).id
    secret, _ = ledger.issue_token(auditor, Role.AUDITOR, ADMIN)
    client = TestClient(create_app(ledger, ui=False, settings=settings))
    headers = {"Authorization": f"Bearer {secret}"}

    before = client.get(f"{API}/audit/verify", headers=headers)
    assert before.status_code == 200
    assert before.json()["ok"] is True
    assert before.json()["checkpoints_checked"] == len(signed) >= 2
    assert before.json()["latest_checkpoint_position"] == org.closed_at

    rewrite_from(settings.database_url or "", 13)

    after = client.get(f"{API}/audit/verify", headers=headers).json()
    assert (after["ok"], after["problem"], after["position"]) == (False, "rewritten", org.closed_at)
    assert "after position 10" in after["detail"]
