"""Looking back: the tree as of an instant, the quarter replay, the diff between bookmarks."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import Browser

pytestmark = pytest.mark.browser


def _count(browser: Browser) -> int:
    text = browser.page.get_by_test_id("tree-count").inner_text()
    match = re.match(r"(\d+)", text)
    assert match, text
    return int(match.group(1))


def test_the_tree_filters_and_travels_back_in_time(browser: Browser) -> None:
    browser.sign_in("maya")
    browser.go("/tree")
    everything = _count(browser)
    assert everything > 20
    assert browser.page.locator(".tree-item").count() == everything
    browser.shot("tree")

    browser.page.get_by_label("Team", exact=True).select_option(str(browser.site.teams["Growth"]))
    browser.page.get_by_role("button", name="Show").click()
    growth = _count(browser)
    assert 0 < growth < everything

    browser.page.get_by_label("Team", exact=True).select_option("")
    browser.page.get_by_label("Kind", exact=True).select_option("aspirational")
    browser.page.get_by_role("button", name="Show").click()
    aspirational = _count(browser)
    assert 0 < aspirational < everything
    kinds = browser.page.locator(".tree-item:not(.context) > details > summary .kind-committed")
    assert kinds.count() == 0

    # As of the cycle's second day: the same objectives, with almost no progress yet.
    browser.go("/tree")
    cycle_start = browser.site.ledger.get_cycle(browser.site.active_cycle_id).starts_on
    browser.page.get_by_label("As of (UTC)").fill(f"{cycle_start.isoformat()}T12:00")
    browser.page.get_by_role("button", name="Show").click()
    assert "exactly as it stood" in browser.page.get_by_test_id("as-of-banner").inner_text()
    then = browser.page.locator(".tree-item .progress-text").all_inner_texts()
    assert then and all(text in ("0%", "no progress reported") for text in then[:5])
    browser.shot("tree-as-of")

    # Collapsing works from the keyboard too: focus a summary, press Enter.
    summary = browser.page.locator(".tree-item > details > summary").first
    summary.focus()
    browser.page.keyboard.press("Enter")
    assert browser.page.locator(".tree-item > details").first.get_attribute("open") is None
    assert not browser.errors


def test_scrubbing_the_replay_changes_the_tree(browser: Browser) -> None:
    site = browser.site
    q3 = site.demo.cycle_ids[1]
    browser.sign_in("maya")
    browser.go(f"/replay?cycle={q3}&step=week")
    slider = browser.page.get_by_test_id("replay-slider")
    last = int(slider.get_attribute("max") or 0)
    assert last >= 12
    end_label = browser.page.get_by_test_id("slider-label").inner_text()
    end_progress = browser.page.get_by_test_id("frame-progress").inner_text()
    assert "2026-09" in end_label or "2026-10" in end_label

    # Keyboard: Home jumps to the first week (the slider fetches that frame).
    slider.focus()
    browser.page.keyboard.press("Home")
    frame = browser.page.get_by_test_id("replay-frame")
    browser.page.wait_for_function(
        "() => document.querySelector('[data-testid=replay-frame]').dataset.index === '0'"
    )
    assert frame.get_attribute("data-index") == "0"
    start_label = browser.page.get_by_test_id("slider-label").inner_text()
    assert start_label != end_label and "2026-07" in start_label
    assert browser.page.get_by_test_id("frame-progress").inner_text() != end_progress
    assert int(browser.page.get_by_test_id("frame-events").inner_text()) > 0
    assert "frame=0" in browser.page.url
    browser.shot("replay-first-week")

    # Step with the arrow key, then play: the frame advances on its own.
    browser.page.keyboard.press("ArrowRight")
    browser.page.wait_for_function(
        "() => document.querySelector('[data-testid=replay-frame]').dataset.index === '1'"
    )
    browser.page.get_by_test_id("replay-play").click()
    browser.page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=replay-frame]').dataset.index) >= 3",
        timeout=8000,
    )
    browser.page.get_by_test_id("replay-play").click()  # pause
    assert browser.page.get_by_test_id("replay-play").inner_text() == "Play"
    browser.shot("replay")

    # Day by day, without JavaScript's help: the form's own Show button.
    browser.go(f"/replay?cycle={q3}&step=day&frame=20")
    assert int(browser.page.get_by_test_id("replay-frame").get_attribute("data-count") or 0) >= 90
    assert "Day 2026-07-21" in browser.page.get_by_test_id("frame-label").inner_text()
    assert not browser.errors


def test_the_diff_between_cycle_start_and_mid_cycle_review(browser: Browser) -> None:
    q3 = browser.site.demo.cycle_ids[1]
    browser.sign_in("maya")
    browser.go(f"/diff?cycle={q3}")
    assert browser.page.get_by_label("From bookmark").input_value() == "start"
    assert browser.page.get_by_label("To bookmark").input_value() == "mid"
    browser.page.get_by_label("To bookmark").select_option("end")
    browser.page.get_by_role("button", name="Compare moments").click()
    assert "2026-07-01 00:00 UTC" in browser.page.get_by_test_id("diff-range").inner_text()
    rows = browser.page.get_by_test_id("diff-table").locator("tbody tr")
    assert rows.count() > 0
    table = browser.page.get_by_test_id("diff-table").inner_text()
    assert "TARGET CHANGED" in table.upper()
    browser.shot("diff")
