"""A saved answer (its OKR-Position and OKR-Chain-Hash) checked against the store later:
`GET /api/v1/audit/verify?position=N&hash=H` and `okr audit verify --position N --hash H`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.access import Role
from infra.chain import ChainReader
from tests.audit.conftest import ADMIN, an_org, okr, sql
from tests.audit.test_checkpoints import rewrite_from

if TYPE_CHECKING:
    from domain.application import OkrLedger
    from infra.settings import Settings

pytestmark = pytest.mark.postgres

API = "/api/v1"


def _other(chain_hash: str) -> str:
    """The same hash with its first digit changed."""
    return ("1" if chain_hash[0] != "1" else "2") + chain_hash[1:]


def _client(ledger: OkrLedger, settings: Settings, role: Role) -> tuple[TestClient, dict[str, str]]:
    person = ledger.register_person(f"A {role.value}", f"{role.value}@acme.example", ADMIN).id
    secret, _ = ledger.issue_token(person, role, ADMIN)
    client = TestClient(create_app(ledger, ui=False, settings=settings))
    return client, {"Authorization": f"Bearer {secret}"}


def _saved_answer(client: TestClient, headers: dict[str, str]) -> tuple[int, str]:
    """A read's stated position and chain hash, as an auditor would save them."""
    read = client.get(f"{API}/teams", headers=headers)
    assert read.status_code == 200
    return int(read.headers["OKR-Position"]), read.headers["OKR-Chain-Hash"]


def _verify(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    return client.get(f"{API}/audit/verify", params=params, headers=headers)


def test_a_saved_answer_matches_until_its_history_is_rewritten(
    ledger: OkrLedger, settings: Settings
) -> None:
    org = an_org(ledger)
    client, auditor = _client(ledger, settings, Role.AUDITOR)
    position, chain_hash = _saved_answer(client, auditor)
    assert chain_hash == ChainReader.for_recorder(ledger.recorder).hash_at(position).hex()
    ledger.rename_team(org.team_id, "Later", ADMIN)  # the log moves on: the answer still holds

    same = _verify(client, auditor, position=position, hash=chain_hash)
    assert same.status_code == 200, same.text
    body = same.json()
    assert body["ok"] is True and body["problem"] is None
    assert body["answer"] == {
        "position": position,
        "hash": chain_hash,
        "stored_hash": chain_hash,
        "matches": True,
    }
    assert body["head_position"] == position  # the chain was verified up to the answer
    assert same.headers["OKR-Position"] == str(position)
    assert same.headers["OKR-Chain-Hash"] == chain_hash

    wrong = _verify(client, auditor, position=position, hash=_other(chain_hash).upper()).json()
    assert (wrong["ok"], wrong["problem"], wrong["position"]) == (False, "hash_mismatch", position)
    assert wrong["answer"]["matches"] is False
    assert chain_hash in wrong["detail"] and _other(chain_hash) in wrong["detail"]

    rewrite_from(settings.database_url or "", 3)  # every link recomputed: a valid chain again
    rewritten = _verify(client, auditor, position=position, hash=chain_hash).json()
    assert (rewritten["ok"], rewritten["problem"]) == (False, "hash_mismatch")
    assert "the chain itself verifies" in rewritten["detail"]
    assert rewritten["answer"]["stored_hash"] != chain_hash


def test_a_position_in_a_gap_has_the_hash_of_the_link_before_it(
    ledger: OkrLedger, settings: Settings
) -> None:
    org = an_org(ledger)
    client, admin = _client(ledger, settings, Role.ADMIN)
    head = ChainReader.for_recorder(ledger.recorder).head()
    assert head is not None
    # A rolled-back insert consumes notification ids: the next event lands after a gap.
    sql(settings.database_url or "", "SELECT nextval('okrledger_events_notification_id_seq')")
    ledger.rename_team(org.team_id, "After the gap", ADMIN)
    assert (ledger.recorder.max_notification_id() or 0) == head.position + 2
    found = _verify(client, admin, position=head.position + 1, hash=head.hash.hex())
    assert found.status_code == 200, found.text
    assert found.json()["ok"] is True
    assert found.json()["answer"]["stored_hash"] == head.hash.hex()


def test_bad_questions_are_refused_naming_the_field(ledger: OkrLedger, settings: Settings) -> None:
    an_org(ledger)
    client, auditor = _client(ledger, settings, Role.AUDITOR)
    position, chain_hash = _saved_answer(client, auditor)
    head = ledger.recorder.max_notification_id() or 0
    cases = [
        ({"position": position, "hash": "3f2a"}, "hash", "chain_hash"),
        ({"position": position, "hash": "g" * 64}, "hash", "chain_hash"),
        ({"position": head + 1, "hash": chain_hash}, "position", "position_beyond_log"),
        ({"hash": chain_hash}, "position", "position_required"),
        ({"position": position, "to_position": position}, "position", "position_or_range"),
    ]
    for params, field, rule in cases:
        refused = _verify(client, auditor, **params)
        assert refused.status_code == 422, (params, refused.text)
        assert (refused.json()["field"], refused.json()["rule"]) == (field, rule), params

    alone = _verify(client, auditor, position=position).json()  # no hash: the stored one
    assert alone["ok"] is True and alone["answer"]["stored_hash"] == chain_hash
    assert alone["answer"]["matches"] is None

    member_client, member = _client(ledger, settings, Role.MEMBER)
    assert _verify(member_client, member, position=position, hash=chain_hash).status_code == 403


def test_the_cli_checks_a_saved_answer(
    ledger: OkrLedger, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    an_org(ledger)
    client, auditor = _client(ledger, settings, Role.AUDITOR)
    position, chain_hash = _saved_answer(client, auditor)

    def verify(*args: str) -> Any:
        return okr(settings, "audit", "verify", *args, monkeypatch=monkeypatch)

    match = verify("--position", str(position), "--hash", chain_hash)
    assert match.exit_code == 0, match.output
    assert "MATCH" in match.output and chain_hash in match.output

    mismatch = verify("--position", str(position), "--hash", _other(chain_hash))
    assert mismatch.exit_code == 1, mismatch.output
    assert "MISMATCH" in mismatch.output and "hash_mismatch" in mismatch.output

    malformed = verify("--position", str(position), "--hash", "not-a-hash")
    assert malformed.exit_code == 2 and "--hash" in malformed.output

    beyond = verify("--position", str(position + 1000), "--hash", chain_hash)
    assert beyond.exit_code == 2 and "--position" in beyond.output
