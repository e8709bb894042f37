"""Every page: it renders its key content, keeps to the basics of accessibility (one h1, a
label on every control, a working skip link, keyboard focus), logs no script errors, and is
photographed into test-output/screenshots/."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Browser

pytestmark = pytest.mark.browser

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML.slice(0, 120))"""


def _pages(browser: Browser) -> list[tuple[str, str, str]]:
    """(name, path, text the page must show)."""
    site = browser.site
    objective_id = site.readmodels.objectives(site.active_cycle_id)[0]["objective_id"]
    q3 = site.demo.cycle_ids[1]
    return [
        ("page-home", "/", "The last seven days"),
        ("page-tree", "/tree", "Alignment tree: Q4 2026"),
        ("page-objective", f"/objectives/{objective_id}", "Change history"),
        ("page-new-objective", "/objectives/new", "Draft a new objective"),
        ("page-replay", f"/replay?cycle={q3}&frame=6", "What changed"),
        ("page-diff", f"/diff?cycle={q3}", "What changed in Q3 2026"),
        ("page-compare", "/compare", "Per team"),
        ("page-audit", "/audit", "Chain verification"),
        ("page-inbox", "/inbox", "Objectives to review"),
        ("page-stale", "/stale", "Stale key results"),
        ("page-integrations", "/admin/integrations", "Webhook endpoints"),
    ]


def test_every_page_renders_accessibly(browser: Browser) -> None:
    browser.sign_in("admin")
    for name, path, expected in _pages(browser):
        answer = browser.go(path)
        assert answer.status == 200, path
        assert expected in browser.page.locator("main").inner_text(), path
        assert browser.page.locator("h1").count() == 1, path
        assert browser.page.locator("html").get_attribute("lang") == "en"
        assert browser.page.evaluate(UNLABELLED) == [], path
        assert answer.headers["content-security-policy"].startswith("default-src 'self'")
        browser.shot(name, full_page=True)
    assert not browser.errors


def test_the_skip_link_and_the_keyboard(browser: Browser) -> None:
    browser.sign_in("admin")
    browser.go("/tree")
    browser.page.keyboard.press("Tab")
    focused = browser.page.evaluate("() => document.activeElement.textContent")
    assert focused == "Skip to content"
    browser.page.keyboard.press("Enter")
    assert browser.page.evaluate("() => document.activeElement.id") == "main"
    # The navigation is reachable by Tab, in order, and shows the current page.
    assert browser.page.locator("nav a[aria-current=page]").inner_text() == "Tree"


def test_an_unknown_page_or_objective_is_a_friendly_404(browser: Browser) -> None:
    browser.sign_in("kwame")
    answer = browser.go("/objectives/00000000-0000-4000-8000-000000000000")
    assert answer.status == 404
    assert "Not found" in browser.page.locator("h1").inner_text()
    answer = browser.go("/no-such-page")
    assert answer.status == 404
    assert browser.page.locator("nav").count() == 1  # still the site, with its navigation
    browser.shot("page-not-found")
    # The API keeps answering problem documents.
    api = browser.page.request.get(browser.site.url + "/api/v1/no-such-thing")
    assert api.status == 404 and api.headers["content-type"] == "application/problem+json"
