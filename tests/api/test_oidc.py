"""Single sign-on against a real OpenID provider (oidc-provider-mock, over HTTP in a thread).

Each test drives the authorization-code flow over HTTP as a browser would: our login route →
the provider's authorization form (posted with the subject to sign in as) → our callback with
the code and state → the signed-in pages. The negative cases that need a token the provider
would never issue live in test_oidc_tokens.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from oidc_provider_mock import run_server_in_thread

from api.app import create_app
from domain.access import Role
from domain.application import OkrLedger
from domain.base import CommandContext
from domain.person import Person
from infra.readmodels import ReadModels
from infra.settings import Settings
from tests.api.conftest import make_app
from tests.servers import free_port
from tests.servers import served as serve_app

ROLE_GROUPS = "admin=okr-admins;manager=okr-managers;auditor=okr-auditors"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real OpenID provider on a free loopback port; yields its issuer URL."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP on loopback
    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@dataclass
class Served:
    url: str
    issuer: str
    ledger: OkrLedger
    readmodels: ReadModels

    def user(self, sub: str, **claims: Any) -> None:
        """Set the provider's claims for `sub` (its `PUT /users/<sub>`)."""
        answer = httpx.put(f"{self.issuer}/users/{sub}", json=claims)
        assert answer.status_code in (200, 204), answer.text

    def settle(self) -> None:
        head = self.ledger.recorder.max_notification_id() or 0
        assert self.readmodels.wait_for(head, 30)


def serve(
    ledger: OkrLedger, readmodels: ReadModels, issuer: str, **options: Any
) -> Iterator[Served]:
    port = free_port()
    settings = Settings(
        environment="test",
        public_url=f"http://127.0.0.1:{port}",
        oidc_issuer=issuer,
        oidc_client_id="okrledger",
        oidc_client_secret="a-client-secret",
        oidc_role_groups=ROLE_GROUPS,
        **options,
    )
    app = make_app(ledger, readmodels, settings, wait_timeout=2.0)
    with serve_app(app, port=port) as url:
        yield Served(url, issuer, ledger, readmodels)


@pytest.fixture
def served(ledger: OkrLedger, readmodels: ReadModels, provider: str) -> Iterator[Served]:
    yield from serve(ledger, readmodels, provider)


@pytest.fixture
def closed(ledger: OkrLedger, readmodels: ReadModels, provider: str) -> Iterator[Served]:
    """The server with auto-provisioning off."""
    yield from serve(ledger, readmodels, provider, oidc_auto_provision=False)


def _authorize(browser: httpx.Client, served: Served, sub: str) -> str:
    """Start at our login route and sign in at the provider as `sub`: our callback URL."""
    start = browser.get(f"{served.url}/auth/oidc/login", params={"next": "/tree"})
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(served.issuer + "/oauth2/authorize")
    query = parse_qs(urlparse(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    form = browser.get(authorize)
    assert form.status_code == 200, form.text
    answer = browser.post(authorize, data={"sub": sub})
    assert answer.status_code in (302, 303), answer.text
    callback = answer.headers["location"]
    assert callback.startswith(served.url + "/auth/oidc/callback?")
    return callback


def _sign_in(browser: httpx.Client, served: Served, sub: str) -> httpx.Response:
    return browser.get(_authorize(browser, served, sub))


def _home(browser: httpx.Client, served: Served) -> tuple[str, str]:
    """(name, role) the signed-in page shows."""
    page = browser.get(f"{served.url}/")
    assert page.status_code == 200, page.text
    name = re.search(r'data-testid="signed-in-as">([^<]*)<', page.text)
    role = re.search(r'class="role badge">([^<]*)<', page.text)
    assert name and role, page.text[:500]
    return name.group(1), role.group(1)


def _events(served: Served, person_id: Any, kind: type) -> list[Any]:
    return [e for e in served.ledger.repository.event_store.get(person_id) if isinstance(e, kind)]


def test_a_new_person_signs_in_through_the_provider_with_the_role_their_groups_give(
    served: Served,
) -> None:
    served.user(
        "u-ana",
        email="ana@acme.example",
        email_verified=True,
        name="Ana Silva",
        groups=["staff", "okr-managers"],
    )
    with httpx.Client() as browser:
        back = _sign_in(browser, served, "u-ana")
        assert back.status_code == 303 and back.headers["location"] == "/tree"
        assert _home(browser, served) == ("Ana Silva", "manager")
    person = served.ledger.find_person_by_email("ana@acme.example")
    assert person is not None and person.role == "manager"
    (change,) = _events(served, person.id, Person.RoleChanged)
    assert (change.previous, change.role, change.reason) == ("", "manager", f"sso:{served.issuer}")
    (link,) = _events(served, person.id, Person.IdentityLinked)
    assert (link.issuer, link.subject) == (served.issuer, "u-ana")


def test_a_group_change_at_the_provider_changes_the_role_at_the_next_sign_in(
    served: Served,
) -> None:
    served.user("u-bo", email="bo@acme.example", email_verified=True, groups=["okr-admins"])
    with httpx.Client() as browser:
        _sign_in(browser, served, "u-bo")
        assert _home(browser, served)[1] == "admin"
    served.user("u-bo", email="bo@acme.example", email_verified=True, groups=["okr-auditors"])
    with httpx.Client() as browser:
        _sign_in(browser, served, "u-bo")
        assert _home(browser, served)[1] == "auditor"
    person = served.ledger.find_person_by_email("bo@acme.example")
    assert person is not None
    changes = [(c.previous, c.role) for c in _events(served, person.id, Person.RoleChanged)]
    assert changes == [("", "admin"), ("admin", "auditor")]
    # and the audit trail shows it
    served.settle()
    admin = served.ledger.register_person("Root", "root@acme.example", CommandContext.system())
    secret, _ = served.ledger.issue_token(admin.id, Role.ADMIN, CommandContext.system())
    served.settle()
    trail = httpx.get(
        f"{served.url}/api/v1/audit",
        params={"entity_id": str(person.id)},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert trail.status_code == 200, trail.text
    actions = [row["action"] for row in trail.json()["items"]]
    assert "role changed to auditor (was admin)" in actions


def test_a_renamed_e_mail_still_signs_in_the_same_person_by_the_providers_subject(
    served: Served,
) -> None:
    served.user("u-cy", email="cy@acme.example", email_verified=True)
    with httpx.Client() as browser:
        _sign_in(browser, served, "u-cy")
    served.user("u-cy", email="cy.young@acme.example", email_verified=True)
    with httpx.Client() as browser:
        _sign_in(browser, served, "u-cy")
        assert _home(browser, served)[0] == "cy@acme.example"  # the name it registered with
    person = served.ledger.find_person_by_email("cy@acme.example")
    assert person is None  # the address was left ...
    cy = served.ledger.get_person(served.ledger.person_id_for("cy@acme.example"))  # its id
    assert cy.email == "cy.young@acme.example"  # ... and the person's e-mail followed
    (change,) = _events(served, cy.id, Person.EmailChanged)
    assert (change.email, change.actor, change.reason) == (
        "cy.young@acme.example",
        f"sso:{served.issuer}",
        f"sso:{served.issuer}",
    )
    # Another subject of another provider account with the new address is the same person (the
    # directory's e-mail index follows the change); the old address is free for someone new.
    served.user("u-cy-2", email="cy.young@acme.example", email_verified=True)
    served.user("u-other", email="cy@acme.example", email_verified=True, name="Other Cy")
    with httpx.Client() as browser:
        _sign_in(browser, served, "u-cy-2")
        assert _home(browser, served)[0] == "cy@acme.example"
    with httpx.Client() as browser:
        _sign_in(browser, served, "u-other")
        assert _home(browser, served)[0] == "Other Cy"
    subjects = {e.subject for e in _events(served, cy.id, Person.IdentityLinked)}
    assert subjects == {"u-cy", "u-cy-2"}
    other = served.ledger.find_person_by_email("cy@acme.example")
    assert other is not None and other.id != cy.id


def test_a_callback_with_another_state_is_refused(served: Served) -> None:
    served.user("u-di", email="di@acme.example", email_verified=True)
    with httpx.Client() as browser:
        callback = _authorize(browser, served, "u-di")
        forged = re.sub(r"state=[^&]+", "state=forged", callback)
        refused = browser.get(forged)
        assert refused.status_code == 401
        assert "not started here" in refused.text
        assert browser.get(f"{served.url}/").status_code == 303  # still signed out
    assert served.ledger.find_person_by_email("di@acme.example") is None


def test_a_replayed_code_is_refused(served: Served) -> None:
    served.user("u-ed", email="ed@acme.example", email_verified=True)
    with httpx.Client() as browser:
        callback = _authorize(browser, served, "u-ed")
        login_cookie = browser.cookies.get("okr_oidc")
        assert browser.get(callback).status_code == 303
    with httpx.Client(cookies={"okr_oidc": login_cookie or ""}) as thief:
        replayed = thief.get(callback)
        assert replayed.status_code == 401
        assert "refused this sign-in" in replayed.text
        assert thief.get(f"{served.url}/").status_code == 303


def test_an_e_mail_the_provider_has_not_verified_is_refused(served: Served) -> None:
    served.user("u-fi", email="fi@acme.example", email_verified=False)
    with httpx.Client() as browser:
        refused = _sign_in(browser, served, "u-fi")
        assert refused.status_code == 403 and "not verified" in refused.text
    assert served.ledger.find_person_by_email("fi@acme.example") is None


def test_with_auto_provision_off_an_unknown_e_mail_is_refused_and_a_known_one_welcome(
    closed: Served,
) -> None:
    closed.user("u-gus", email="gus@acme.example", email_verified=True)
    with httpx.Client() as browser:
        refused = _sign_in(browser, closed, "u-gus")
        assert refused.status_code == 403 and "not registered" in refused.text
    assert closed.ledger.find_person_by_email("gus@acme.example") is None
    closed.ledger.register_person("Gus", "gus@acme.example", CommandContext.system())
    with httpx.Client() as browser:
        assert _sign_in(browser, closed, "u-gus").status_code == 303
        assert _home(browser, closed) == ("Gus", "member")


def test_a_deactivated_person_cannot_sign_in_and_their_open_session_ends(served: Served) -> None:
    served.user("u-hal", email="hal@acme.example", email_verified=True)
    with httpx.Client() as browser:
        _sign_in(browser, served, "u-hal")
        assert _home(browser, served)[0] == "hal@acme.example"
        person = served.ledger.find_person_by_email("hal@acme.example")
        assert person is not None
        served.ledger.deactivate_person(person.id, "left", CommandContext.system())
        assert browser.get(f"{served.url}/").status_code == 303  # the session is refused
    with httpx.Client() as browser:
        refused = _sign_in(browser, served, "u-hal")
        assert refused.status_code == 403 and "deactivated" in refused.text


def test_without_oidc_settings_there_is_no_sso(ledger: OkrLedger, readmodels: ReadModels) -> None:
    app = create_app(ledger, readmodels=readmodels, settings=Settings(environment="test"))
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        page = client.get("/sign-in")
        assert "Sign in with SSO" not in page.text and 'name="token"' in page.text
        assert client.get("/auth/oidc/login", follow_redirects=False).status_code == 404


def test_the_sign_in_page_offers_sso_and_can_hide_the_token_form(
    ledger: OkrLedger, readmodels: ReadModels, provider: str
) -> None:
    for server in serve(ledger, readmodels, provider, token_signin=False):
        page = httpx.get(f"{server.url}/sign-in")
        assert "Sign in with SSO" in page.text and 'name="token"' not in page.text


def test_signing_out_revokes_the_session_and_offers_the_providers_logout(served: Served) -> None:
    served.user("u-ivy", email="ivy@acme.example", email_verified=True)
    with httpx.Client() as browser:
        _sign_in(browser, served, "u-ivy")
        page = browser.get(f"{served.url}/")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        out = browser.post(f"{served.url}/sign-out", data={"csrf_token": csrf.group(1)})
        assert out.status_code == 200
        logout = re.search(r'id="provider-logout" href="([^"]+)"', out.text)
        assert logout and logout.group(1).startswith(served.issuer + "/oauth2/end_session?")
        assert browser.get(f"{served.url}/").status_code == 303
