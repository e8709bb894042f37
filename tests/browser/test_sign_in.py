"""Signing in with a token, the session cookie, CSRF on forms, signing out."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Browser

pytestmark = pytest.mark.browser


def test_a_page_asks_for_sign_in_and_comes_back_after_it(browser: Browser) -> None:
    browser.go("/tree")
    assert "/sign-in" in browser.page.url
    browser.shot("sign-in")
    browser.page.get_by_label("Access token").fill("okr_not-a-real-token")
    browser.page.get_by_role("button", name="Sign in").click()
    assert "unknown, revoked" in browser.page.locator(".field-error").inner_text()

    browser.page.get_by_label("Access token").fill(browser.site["admin"].token)
    browser.page.get_by_role("button", name="Sign in").click()
    browser.page.wait_for_url("**/tree")
    assert browser.page.get_by_test_id("signed-in-as").inner_text() == "Dana Whitfield"


def test_the_session_cookie_is_signed_httponly_and_samesite(browser: Browser) -> None:
    browser.sign_in("kwame")
    cookies = {c["name"]: c for c in browser.context.cookies()}
    session = cookies["okr_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert browser.site["kwame"].token not in session["value"]  # the secret is never stored

    # A tampered cookie is no session at all.
    forged = {**session, "value": session["value"][:-2] + "xx"}
    browser.context.clear_cookies()
    browser.context.add_cookies([forged])
    browser.go("/")
    assert "/sign-in" in browser.page.url


def test_forms_without_the_csrf_token_are_refused(browser: Browser) -> None:
    browser.sign_in("kwame")
    answer = browser.page.request.post(
        browser.site.url + "/sign-out", form={"csrf_token": "guessed"}
    )
    assert answer.status == 403
    assert "expired" in answer.text()
    browser.go("/")
    assert browser.page.get_by_test_id("signed-in-as").inner_text() == "Kwame Mensah"


def test_signing_out_ends_the_session(browser: Browser) -> None:
    browser.sign_in("kwame")
    browser.go("/")
    browser.page.get_by_role("button", name="Sign out").click()
    browser.page.wait_for_url("**/sign-in")
    assert "signed out" in browser.flash()
    browser.go("/inbox")
    assert "/sign-in" in browser.page.url


def test_a_revoked_token_ends_the_session_at_once(browser: Browser) -> None:
    site = browser.site
    from domain.access import Role
    from domain.base import CommandContext

    person = site["sofia"]
    secret, issued = site.ledger.issue_token(person.person_id, Role.MEMBER, CommandContext.system())
    browser.go("/sign-in")
    browser.page.get_by_label("Access token").fill(secret)
    browser.page.get_by_role("button", name="Sign in").click()
    browser.page.wait_for_url(site.url + "/")
    site.ledger.revoke_token(issued.id, "laptop lost", CommandContext.system())
    site.settle()
    browser.go("/tree")
    assert "/sign-in" in browser.page.url
    assert "session ended" in browser.flash()
