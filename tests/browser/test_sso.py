"""Single sign-on in Chromium against a real OpenID provider (oidc-provider-mock): the sign-in
page → the provider's form → back signed in with the right name and role; a group change at the
provider changes the role at the next sign-in and shows in the audit trail, as does a new e-mail
at the provider (the same person, matched by the provider's subject); a deprovisioned
person's open session and token are refused on the next request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from domain.access import Role
from domain.application import OkrLedger
from domain.base import CommandContext
from infra.readmodels import ReadModels
from tests.api.conftest import readmodels  # noqa: F401  (a fixture)
from tests.api.test_oidc import Served, provider, serve  # noqa: F401  (fixtures)
from tests.browser.conftest import CHROMIUM_FLAGS, SCREENSHOTS, VIEWPORT  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def sso_site(ledger: OkrLedger, readmodels: ReadModels, provider: str) -> Iterator[Served]:  # noqa: F811
    yield from serve(ledger, readmodels, provider)


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="UTC")
    try:
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        yield tab
    finally:
        context.close()


def _sign_in_with_sso(page: Any, site: Served, sub: str) -> None:
    page.goto(site.url + "/tree")
    assert "/sign-in" in page.url
    page.get_by_role("link", name="Sign in with SSO").click()
    page.wait_for_url(site.issuer + "/**")
    page.locator('input[name="sub"]').fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(site.url + "/tree")


def _nia(site: Served, email: str, group: str) -> None:
    """Nia's claims at the provider: her e-mail and one group."""
    site.user("u-nia", email=email, email_verified=True, name="Nia Okoro", groups=[group])


def _who(page: Any) -> tuple[str, str]:
    name = page.get_by_test_id("signed-in-as").inner_text()
    return name, page.locator(".who .role").inner_text()


def test_sign_in_through_the_provider_and_the_role_follows_the_groups(
    page: Any, sso_site: Served
) -> None:
    _nia(sso_site, "nia@acme.example", "okr-managers")
    _sign_in_with_sso(page, sso_site, "u-nia")
    assert _who(page) == ("Nia Okoro", "manager")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sso-signed-in.png"))

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Back to sign-in").wait_for()
    assert page.locator("#provider-logout").get_attribute("href").startswith(sso_site.issuer)

    _nia(sso_site, "nia@acme.example", "okr-admins")
    _sign_in_with_sso(page, sso_site, "u-nia")
    assert _who(page) == ("Nia Okoro", "admin")

    person = sso_site.ledger.find_person_by_email("nia@acme.example")
    assert person is not None
    sso_site.settle()
    page.goto(f"{sso_site.url}/audit?entity={person.id}")
    assert "role changed to admin (was manager)" in page.locator("main").inner_text()

    # A new e-mail at the provider: the same person (matched by `sub`), whose e-mail follows.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Back to sign-in").wait_for()
    _nia(sso_site, "nia@okoro.example", "okr-admins")
    _sign_in_with_sso(page, sso_site, "u-nia")
    assert _who(page) == ("Nia Okoro", "admin")
    assert sso_site.ledger.get_person(person.id).email == "nia@okoro.example"
    sso_site.settle()
    page.goto(f"{sso_site.url}/audit?entity={person.id}")
    assert "e-mail changed" in page.locator("main").inner_text()


def test_a_deprovisioned_persons_session_and_token_are_refused_on_the_next_request(
    page: Any, sso_site: Served
) -> None:
    sso_site.user("u-lev", email="lev@acme.example", email_verified=True, name="Lev")
    _sign_in_with_sso(page, sso_site, "u-lev")
    person = sso_site.ledger.find_person_by_email("lev@acme.example")
    assert person is not None
    secret, _ = sso_site.ledger.issue_token(person.id, Role.MEMBER, CommandContext.system())
    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{sso_site.url}/api/v1/me", headers=bearer).status_code == 200

    sso_site.ledger.deactivate_person(person.id, "left the company", CommandContext("scim"))

    page.goto(sso_site.url + "/tree")
    assert "/sign-in" in page.url
    assert httpx.get(f"{sso_site.url}/api/v1/me", headers=bearer).status_code == 401
