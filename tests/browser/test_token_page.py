"""A person's own personal access tokens in the web UI: create one (expiry, read-only), see
the secret once, find it listed with its last use after it was used, and revoke it."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import Browser

pytestmark = pytest.mark.browser


def test_a_person_creates_uses_sees_last_use_and_revokes_their_token(browser: Browser) -> None:
    browser.sign_in("kwame")
    browser.page.get_by_role("link", name="Tokens").click()
    browser.page.wait_for_url("**/tokens")
    browser.page.get_by_label("Label").fill("reporting script")
    browser.page.get_by_label("Expires in (days)").fill("30")
    browser.page.get_by_label("Read-only").check()
    browser.page.get_by_role("button", name="Create token").click()
    secret = browser.page.get_by_test_id("new-token-secret").inner_text().strip()
    assert secret.startswith("okr_")
    browser.shot("tokens-created")

    row = browser.page.get_by_test_id("token-row").filter(has_text="reporting script")
    assert "read-only" in row.inner_text() and "never" in row.inner_text()
    api = f"{browser.site.url}/api/v1"
    bearer = {"Authorization": f"Bearer {secret}"}
    me = httpx.get(f"{api}/me", headers=bearer)
    assert me.status_code == 200 and me.json()["person_id"] == str(browser.site["kwame"].person_id)
    refused = httpx.post(f"{api}/teams", json={"name": "Skunkworks"}, headers=bearer)
    assert refused.status_code == 403  # read-only

    browser.go("/tokens")  # the secret is not shown again; the use is
    assert browser.page.get_by_test_id("new-token-secret").count() == 0
    row = browser.page.get_by_test_id("token-row").filter(has_text="reporting script")
    assert row.get_by_test_id("token-last-used").inner_text() != "never"
    row.get_by_role("button", name="Revoke").click()
    assert "revoked" in browser.flash().lower()
    row = browser.page.get_by_test_id("token-row").filter(has_text="reporting script")
    assert "revoked" in row.inner_text()
    assert httpx.get(f"{api}/me", headers=bearer).status_code == 401
    assert not browser.errors, browser.errors
