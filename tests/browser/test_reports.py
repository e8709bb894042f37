"""For managers and auditors: comparing cycles, the audit trail with its exports and the chain
verification, the inbox, the stale list, the home page."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.browser.conftest import Browser

pytestmark = pytest.mark.browser


def test_comparing_two_demo_cycles(browser: Browser) -> None:
    q2, q3 = browser.site.demo.cycle_ids[:2]
    browser.sign_in("maya")
    browser.go("/compare")
    for box in browser.page.locator("input[name=cycles]").all():
        box.uncheck()
    browser.page.locator(f"input[name=cycles][value='{q2}']").check()
    browser.page.locator(f"input[name=cycles][value='{q3}']").check()
    browser.page.get_by_role("button", name="Compare").click()

    table = browser.page.get_by_test_id("compare-table")
    headers = table.locator("thead th").all_inner_texts()
    assert headers == ["Measure", "Q2 2026", "Q3 2026"]
    mean_score = table.locator("tr", has_text="Mean score").first.locator("td").all_inner_texts()
    assert len(mean_score) == 2 and all(v != "–" for v in mean_score)
    assert browser.page.locator("figure svg.bars").count() >= 8
    teams = browser.page.get_by_test_id("team-table").locator("tbody th").all_inner_texts()
    assert {"Growth", "Platform", "Sales"} <= set(teams)
    browser.shot("compare")

    # One team (and the teams below it).
    browser.page.get_by_label("Team", exact=True).select_option(str(browser.site.teams["Sales"]))
    browser.page.get_by_role("button", name="Compare").click()
    assert "Sales and the teams below it" in table.locator("caption").inner_text()
    assert not browser.errors


def test_the_audit_trail_filters_exports_and_verifies_the_chain(browser: Browser) -> None:
    browser.sign_in("auditor")
    browser.go("/audit")
    table = browser.page.get_by_test_id("audit-table")
    assert table.locator("tbody tr").count() == 50
    browser.page.get_by_label("Event type").fill("Objective.AmendmentApproved")
    browser.page.get_by_role("button", name="Filter").click()
    types = table.locator("tbody td:nth-child(4)").all_inner_texts()
    assert types and set(types) == {"Objective.AmendmentApproved"}
    approvers = table.locator("tbody td:nth-child(9)").all_inner_texts()
    assert all(a and a != "–" for a in approvers)

    # The export links keep the filter.
    with browser.page.expect_download() as download:
        browser.page.get_by_test_id("export-jsonl").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(types)
    assert {json.loads(line)["event_type"] for line in lines} == {"Objective.AmendmentApproved"}
    csv = browser.page.request.get(
        browser.site.url + browser.page.get_by_test_id("export-csv").get_attribute("href")
    )
    assert csv.ok and csv.text().startswith("position,recorded_at,actor")

    browser.page.get_by_test_id("verify-chain").click()
    result = browser.page.get_by_test_id("verify-result").inner_text()
    assert result.startswith("OK")
    head_hash = browser.page.get_by_test_id("head-hash").inner_text()
    assert len(head_hash) == 64 and int(head_hash, 16) >= 0
    # Verification kept the filter.
    assert browser.page.get_by_label("Event type").input_value() == "Objective.AmendmentApproved"
    browser.shot("audit")
    assert not browser.errors


def test_a_tampered_event_shows_where_the_chain_breaks(browser: Browser) -> None:
    flip = (
        "UPDATE okrledger_events SET state = set_byte(state, 40, get_byte(state, 40) # 1) "
        "WHERE notification_id = 7"
    )
    browser.sign_in("admin")
    with psycopg.connect(browser.site.database_url, autocommit=True) as conn:
        conn.execute(flip)
        try:
            browser.go("/audit?verify=1")
            result = browser.page.get_by_test_id("verify-result").inner_text()
        finally:
            conn.execute(flip)  # flipped back: the chain verifies again
    assert result.startswith("Broken at position 7")
    browser.shot("audit-broken-chain")
    browser.go("/audit?verify=1")
    assert browser.page.get_by_test_id("verify-result").inner_text().startswith("OK")


def test_members_do_not_see_the_audit_trail(browser: Browser) -> None:
    browser.sign_in("kwame")
    browser.go("/")
    assert browser.page.get_by_role("link", name="Audit").count() == 0
    answer = browser.go("/audit")
    assert answer.status == 403
    assert "auditors and admins" in browser.page.locator("main").inner_text()


def test_the_inbox_lists_what_waits_on_a_manager(browser: Browser) -> None:
    site = browser.site
    kwame = site["kwame"]
    objective_id, _ = site.approved_objective("Inbox: an objective to review")
    site.ledger.propose_amendment(
        objective_id,
        {"title": "Inbox: an objective, amended"},
        "Clearer wording",
        kwame.ctx,
    )
    site.settle()
    browser.sign_in("elena")
    browser.go("/")
    assert browser.page.locator("nav .count").count() == 1  # the inbox badge
    browser.go("/inbox")
    amendments = browser.page.get_by_test_id("inbox-amendment").inner_text()
    assert "Inbox: an objective to review" in amendments and "Kwame Mensah" in amendments
    browser.shot("inbox")


def test_stale_key_results_and_the_home_page(browser: Browser) -> None:
    browser.sign_in("maya")
    browser.go("/stale")
    count = int(browser.page.get_by_test_id("stale-count").inner_text().split()[0])
    assert count > 0
    assert browser.page.get_by_test_id("stale-table").locator("tbody tr").count() == count
    browser.shot("stale")

    browser.go("/")
    assert "Q4 2026" in browser.page.locator("h1").inner_text()
    assert browser.page.get_by_test_id("mean-progress").inner_text().endswith("%")
    assert browser.page.locator(".tile svg.stacked").count() == 1
    browser.shot("home")
