"""`okr token create/list/revoke`, `okr person change-email` and `okr serve`, as real processes against a fresh database."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import OKR, free_port, okr_env, run_okr, start_okr_serve


def _okr(*args: str, env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = run_okr(*args, env=env)
    if ok:
        assert done.returncode == 0, done.stderr or done.stdout
    return done


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return okr_env(database_url, tmp_path)


@pytest.fixture
def server(env: dict[str, str]) -> object:
    process, base = start_okr_serve(env, capture=True)
    yield process, f"{base}/api/v1"
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def test_token_create_prints_only_the_token_and_revoke_ends_it(
    env: dict[str, str], server: tuple[subprocess.Popen[str], str]
) -> None:
    _, base = server
    created = _okr(
        "token",
        "create",
        "--email",
        "Root@Acme.example",
        "--name",
        "Root",
        "--role",
        "admin",
        env=env,
    )
    token = created.stdout.strip()
    assert created.stdout == token + "\n"
    assert token.startswith("okr_") and " " not in token
    me = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["email"] == "root@acme.example" and me["role"] == "admin"

    # the same e-mail gets another token for the same person; no name needed
    again = _okr("token", "create", "--email", "root@acme.example", "--role", "auditor", env=env)
    auditor = again.stdout.strip()
    who = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {auditor}"}).json()
    assert who["person_id"] == me["person_id"] and who["role"] == "auditor"

    listed = _okr("token", "list", "--email", "root@acme.example", env=env).stdout
    assert listed.count("active") == 2 and listed.count("never") == 2  # no expiry; both used
    assert who["token_id"][:8] in listed
    _okr("token", "revoke", token, "--reason", "rotated", env=env)
    assert (
        _okr("token", "list", "--email", "root@acme.example", env=env).stdout.count("revoked") == 1
    )
    gone = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401
    _okr("token", "revoke", who["token_id"], env=env)
    assert (
        httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {auditor}"}).status_code == 401
    )

    unknown = _okr(
        "token", "create", "--email", "new@acme.example", "--role", "member", env=env, ok=False
    )
    assert unknown.returncode == 1 and unknown.stdout == ""
    bad_role = _okr(
        "token", "create", "--email", "x@acme.example", "--role", "king", env=env, ok=False
    )
    assert bad_role.returncode == 2


def test_serve_stops_gracefully_on_sigterm(server: tuple[subprocess.Popen[str], str]) -> None:
    process, base = server
    assert httpx.get(f"{base}/ready").json()["database"] is True
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    output = process.stdout.read() if process.stdout else ""
    assert "okrledger on http://127.0.0.1:" in output
    assert "API on http://127.0.0.1:" in output
    assert "Finished server process" in output
    # The runner stopped before the pools closed: nothing used a closed pool, nothing retried.
    for trouble in ("PoolClosed", "opened/closed", "retrying", "Traceback"):
        assert trouble not in output, output


def test_token_create_refuses_a_name_with_a_control_character(env: dict[str, str]) -> None:
    done = _okr(
        "token", "create", "--email", "ada@acme.example", "--name", "Ada\x1b[2J",
        "--role", "member", env=env, ok=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "name must not contain control characters" in done.stderr
    assert "U+001B" in done.stderr


def test_serve_verifies_the_chain_and_serves_metrics(
    env: dict[str, str], database_url: str
) -> None:
    """`okr serve` with OKR_AUDIT_VERIFY_INTERVAL_SECONDS: its /metrics soon reports a
    verification of the chain that the process ran on its own."""
    _okr("token", "create", "--email", "ada@acme.example", "--name", "Ada", "--role", "admin",
         env=env)  # fmt: skip
    port = free_port()
    process = subprocess.Popen(
        [str(OKR), "serve", "--host", "127.0.0.1", "--port", str(port)],
        # The database's figures must not fall to the scrape timeout on a loaded machine: this
        # test is about the verification, not about a slow database (test_metrics has that).
        env={
            **env,
            "OKR_AUDIT_VERIFY_INTERVAL_SECONDS": "0.5",
            "OKR_METRICS_SCRAPE_TIMEOUT_SECONDS": "60",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        text = ""
        while "okr_chain_verification_last_ok 1.0" not in text:
            assert process.poll() is None, "okr serve stopped"
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=60).text
            except httpx.TransportError:
                continue
        assert "okr_database_up 1.0" in text
        assert "okr_log_head_position 3.0" in text  # the person, their token and their role
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_a_changed_e_mail_is_the_same_person_for_the_token_commands(
    server: tuple[subprocess.Popen[str], str], env: dict[str, str]
) -> None:
    """`okr person change-email` records an e-mail change; the token commands find the person
    by the new address (the directory's e-mail index), and the old one is free."""
    _, base = server

    def person_of(email: str, *name: str) -> str:
        create = ("token", "create", "--email", email, *name, "--role", "member")
        token = _okr(*create, env=env).stdout.strip()
        me = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {token}"}).json()
        return str(me["person_id"])

    def change(email: str, new: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        return _okr("person", "change-email", email, new, "--reason", "wed", env=env, ok=ok)

    ada = person_of("ada@old.example", "--name", "Ada")
    change("ada@old.example", "ada@new.example")
    assert person_of("ada@new.example") == ada
    listed = _okr("token", "list", "--email", "ada@new.example", env=env).stdout
    assert listed.count("read-write") == 2
    gone = _okr("token", "list", "--email", "ada@old.example", env=env, ok=False)
    assert gone.returncode == 1 and "not registered" in gone.stderr
    assert change("ada@new.example", "ada@new.example", ok=False).returncode == 1
    assert person_of("ada@old.example", "--name", "Bo") != ada  # the old address is free
    clash = change("ada@old.example", "ada@new.example", ok=False)
    assert clash.returncode == 1 and "already registered" in clash.stderr
