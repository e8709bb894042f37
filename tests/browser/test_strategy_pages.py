"""The strategy pages in a real browser: the KPI dashboard (now and as of an instant, with a
measurement recorded by its owner), the strategy map, the strategy itself, initiatives under
their key results, and the quality coach's warnings while an objective is being drafted."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.browser.conftest import Browser

pytestmark = pytest.mark.browser

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML.slice(0, 120))"""


def _accessible(browser: Browser, path: str) -> None:
    assert browser.page.locator("h1").count() == 1, path
    assert browser.page.evaluate(UNLABELLED) == [], path


def test_the_kpi_dashboard(browser: Browser) -> None:
    browser.sign_in("elena")
    browser.go("/kpis")
    _accessible(browser, "/kpis")
    cards = browser.page.get_by_test_id("kpi-card")
    assert cards.count() == browser.site.demo.kpis
    first = cards.first
    assert first.get_by_test_id("north-star-badge").is_visible()
    assert first.locator("h2").inner_text().startswith("Annual recurring revenue")
    statuses = {cards.nth(i).get_attribute("data-status") for i in range(cards.count())}
    assert statuses <= {"green", "amber", "red"} and len(statuses) >= 2
    for i in range(cards.count()):
        chart = cards.nth(i).get_by_test_id("kpi-chart")
        assert int(chart.get_attribute("data-points") or 0) >= 6
        assert chart.locator("svg[role=img]").count() == 1
    browser.shot("strategy-kpis", full_page=True)

    # One KPI: its history, with the correction the demo made struck through.
    browser.page.get_by_role("link", name="Net Promoter Score").first.click()
    browser.page.wait_for_url(re.compile(r"/kpis/"))
    _accessible(browser, "kpi page")
    history = browser.page.get_by_test_id("kpi-history")
    assert history.locator("tr.superseded").count() == 1
    assert "The survey export counted the beta panel twice" in history.inner_text()
    before = browser.page.get_by_test_id("kpi-value").inner_text()

    # Elena owns it: she records this month's measurement.
    period = datetime.now(UTC).strftime("%Y-%m")
    browser.page.get_by_label("Period").fill(period)
    browser.page.get_by_label("Value (pts)").fill("47")
    browser.page.get_by_label("Note", exact=True).fill("survey closed early")
    browser.page.get_by_role("button", name="Record", exact=True).click()
    assert "Measurement recorded" in browser.flash()
    assert browser.page.get_by_test_id("kpi-value").inner_text() == "47 pts"
    assert browser.page.get_by_test_id("kpi-status").inner_text() == "green"
    browser.shot("strategy-kpi", full_page=True)

    # The same KPI as it was before: time travel.
    earlier = browser.site.demo  # the demo's history ends the day before "today"
    assert earlier.north_star_kpi_id is not None
    browser.page.get_by_label("As of (UTC)").fill("2026-09-01T00:00")
    browser.page.get_by_role("button", name="Show").click()
    assert browser.page.get_by_test_id("as-of-banner").is_visible()
    assert browser.page.get_by_test_id("kpi-value").inner_text() != "47 pts"
    assert before != ""
    assert not browser.errors


def test_a_member_cannot_record_a_kpi_she_does_not_own(browser: Browser) -> None:
    browser.sign_in("kwame")
    browser.go("/kpis")
    browser.page.get_by_role("link", name="Net Promoter Score").first.click()
    assert browser.page.get_by_role("button", name="Record", exact=True).count() == 0
    assert browser.page.get_by_text("Define a KPI").count() == 0


def test_the_strategy_map(browser: Browser) -> None:
    browser.sign_in("maya")
    browser.go("/strategy-map")
    _accessible(browser, "/strategy-map")
    figure = browser.page.get_by_test_id("strategy-map")
    assert figure.locator("svg[role=img]").count() == 1
    assert figure.locator("svg .theme").count() >= 4
    assert figure.locator("svg .link.drives").count() == 3
    assert figure.locator("svg .link.aligns").count() > 5
    rows = browser.page.get_by_test_id("map-row")
    assert [rows.nth(i).get_attribute("data-perspective") for i in range(rows.count())] == [
        "financial",
        "customer",
        "internal_process",
        "learning_growth",
    ]
    customer = rows.nth(1)
    assert "Customers who stay" in customer.inner_text()
    assert customer.get_by_test_id("map-objective").count() >= 3
    assert customer.get_by_test_id("map-kpi").count() >= 2
    browser.shot("strategy-map", full_page=True)

    # As of before the quarter started: the same map, no colours yet.
    browser.page.get_by_label("As of (UTC)").fill("2026-09-25T12:00")
    browser.page.get_by_role("button", name="Show").click()
    assert browser.page.get_by_test_id("as-of-banner").is_visible()
    assert "no signal" in browser.page.get_by_test_id("map-row").nth(1).inner_text()
    assert not browser.errors


def test_the_strategy_page_and_a_revision(browser: Browser) -> None:
    browser.sign_in("maya")
    browser.go("/strategy")
    _accessible(browser, "/strategy")
    assert "Help every team see why its work matters" in browser.page.locator("main").inner_text()
    assert "Annual recurring revenue" in browser.page.get_by_test_id("north-star").inner_text()
    assert browser.page.get_by_test_id("perspectives").locator(".perspective").count() == 4
    browser.page.get_by_text("Revise the strategy").click()
    browser.page.get_by_label("Vision").fill(
        "Every mid-sized company's goals, honest and in one place."
    )
    browser.page.get_by_label("Why (required)").fill("Sharper after the board offsite")
    browser.page.get_by_role("button", name="Save the strategy").click()
    assert "Strategy saved" in browser.flash()
    assert "honest and in one place" in browser.page.get_by_test_id("statements").inner_text()
    browser.shot("strategy-page", full_page=True)
    assert not browser.errors


def test_initiatives_show_under_their_key_results(browser: Browser) -> None:
    browser.sign_in("sofia")
    browser.go("/initiatives")
    _accessible(browser, "/initiatives")
    rows = browser.page.get_by_test_id("initiative-row")
    assert rows.count() >= 4
    row = rows.filter(has_text="Self-serve checkout rebuild")
    row.get_by_role("link").first.click()
    browser.page.wait_for_url(re.compile(r"/objectives/"))
    under = browser.page.get_by_test_id("kr-initiatives").first
    assert "Self-serve checkout rebuild" in under.inner_text()
    assert "in progress" in under.inner_text()
    assert "Customers who stay" in browser.page.get_by_test_id("objective-theme").inner_text()
    assert not browser.errors


def test_the_coach_warns_while_drafting(browser: Browser) -> None:
    browser.sign_in("kwame")
    browser.go("/objectives/new")
    coach = browser.page.get_by_test_id("coach-draft")
    browser.page.get_by_label("Title").fill("Do better at growth")
    finding = coach.locator("[data-check=vague_wording]")
    finding.wait_for()
    assert "vague" in finding.inner_text()
    browser.page.get_by_label("Title").fill("Turn more trials into paying customers")
    browser.page.wait_for_function(
        "() => !document.querySelector('#coach-draft [data-check=vague_wording]')"
    )
    browser.page.get_by_label("Title").fill("Do better at growth")
    finding.wait_for()
    browser.shot("strategy-coach-new-objective")
    browser.page.get_by_role("button", name="Save draft").click()
    browser.page.wait_for_url(re.compile(r"/objectives/[0-9a-f-]+"))

    # The saved draft: the coach's warnings on the page, and again as a key result is typed.
    panel = browser.page.get_by_test_id("objective-strategy")
    checks = {
        panel.locator("[data-testid=coach-finding]").nth(i).get_attribute("data-check")
        for i in range(panel.locator("[data-testid=coach-finding]").count())
    }
    assert {"vague_wording", "kr_count"} <= checks
    if not browser.page.locator("#ak-title").is_visible():  # open while there is none
        browser.page.get_by_text("Add a key result").click()
    browser.page.locator("#ak-title").fill("Hold a weekly growth meeting")
    browser.page.get_by_test_id("coach-draft").locator("[data-check=kr_is_task]").wait_for()
    browser.shot("strategy-coach-key-result", full_page=True)
    assert not browser.errors


def test_the_comparison_covers_the_strategy_layer(browser: Browser) -> None:
    browser.sign_in("maya")
    browser.go("/compare")
    section = browser.page.get_by_test_id("compare-strategy")
    text = section.inner_text()
    assert "KPI Annual recurring revenue" in text
    assert "Initiatives (done · in progress · planned · cancelled)" in text
    assert section.locator("th[scope=col]").count() >= 3  # the measure and two or more cycles
    assert not browser.errors


def test_an_initiative_moves_on_from_the_initiatives_page(browser: Browser) -> None:
    browser.sign_in("kwame")
    browser.go("/initiatives")
    row = browser.page.get_by_test_id("initiative-row").filter(has_text="Pricing page redesign")
    assert "planned" in row.inner_text()
    row.get_by_text("Update").click()
    row.get_by_label("Status").select_option("in_progress")
    row.get_by_label("Note (why, to cancel or reopen)").fill("Design sprint booked")
    row.get_by_role("button", name="Save").click()
    assert "Initiative updated" in browser.flash()
    row = browser.page.get_by_test_id("initiative-row").filter(has_text="Pricing page redesign")
    assert "in progress" in row.inner_text() and "Design sprint booked" in row.inner_text()
    assert not browser.errors
