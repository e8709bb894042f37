"""The OKR cycle in the browser, by two people at two computers: draft → submit → request
changes → revise → approve; check in (the chart follows), correct a check-in; propose and
approve an amendment."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.browser.conftest import Browser
from tests.steps import draft, metric

pytestmark = pytest.mark.browser


def test_a_whole_negotiation_between_a_member_and_their_manager(
    browser: Browser, second_browser: Browser
) -> None:
    member, manager = browser, second_browser
    member.sign_in("kwame")

    # Draft.
    member.go("/tree")
    member.page.get_by_role("link", name="new objective").click()
    member.page.get_by_label("Title").fill("Make onboarding self-serve for small teams")
    member.page.get_by_label("Owner", exact=True).select_option(label="Me (Kwame Mensah)")
    member.page.get_by_label("aspirational").check()
    member.page.get_by_role("button", name="Save draft").click()
    assert "Draft saved" in member.flash()
    assert member.page.get_by_test_id("objective-state").inner_text() == "draft"
    objective_url = member.page.url.split("?")[0]

    member.page.locator("#ak-title").fill("Teams onboarded without a call")
    member.page.locator("#ak-baseline").fill("10")
    member.page.locator("#ak-target").fill("25")
    member.page.locator("#ak-unit").fill("%")
    member.page.get_by_role("button", name="Add key result").click()
    assert "Key result added" in member.flash()
    assert member.page.get_by_test_id("kr-panel").count() == 1
    member.shot("objective-draft")

    # Submit to the team's manager.
    member.page.get_by_label("Approver", exact=True).select_option(label="Elena Petrova")
    member.page.get_by_role("button", name="Submit for approval").click()
    assert "Submitted for approval" in member.flash()
    assert member.page.get_by_test_id("objective-state").inner_text() == "in review"

    # The manager finds it in the inbox and asks for changes.
    manager.sign_in("elena")
    manager.go("/inbox")
    manager.page.get_by_role("link", name="Make onboarding self-serve for small teams").click()
    manager.page.wait_for_url(re.compile(re.escape(objective_url)))
    manager.page.get_by_label("What should change").fill("25% is timid for a stretch: aim for 40%.")
    manager.page.get_by_role("button", name="Request changes").click()
    assert "Changes requested" in manager.flash()
    assert manager.page.get_by_test_id("objective-state").inner_text() == "changes requested"

    # The member revises the target and submits again.
    member.go(objective_url.removeprefix(member.site.url))
    assert "aim for 40%" in member.page.get_by_test_id("review-comment").inner_text()
    panel = member.page.get_by_test_id("kr-panel")
    panel.get_by_text("Edit this key result").click()
    panel.get_by_label("Target", exact=True).fill("40")
    panel.get_by_role("button", name="Save key result").click()
    assert "Key result saved" in member.flash()
    member.page.get_by_label("Approver", exact=True).select_option(label="Elena Petrova")
    member.page.get_by_role("button", name="Submit for approval").click()
    assert member.page.get_by_test_id("objective-state").inner_text() == "in review"

    # The manager approves.
    manager.page.reload()
    manager.page.get_by_role("button", name="Approve", exact=True).click()
    assert "Approved" in manager.flash()
    assert manager.page.get_by_test_id("objective-state").inner_text() == "approved"

    thread = manager.page.get_by_test_id("thread").inner_text()
    for step in (
        "Kwame Mensah submitted it for approval to Elena Petrova",
        "Elena Petrova requested changes",
        "aim for 40%",
        "Elena Petrova approved",
    ):
        assert step in thread
    history = manager.page.get_by_test_id("history").inner_text()
    assert "target" in history and "40" in history
    manager.shot("objective-negotiated", full_page=True)
    assert not member.errors and not manager.errors


def test_a_member_may_not_decide_and_sees_no_review_buttons(browser: Browser) -> None:
    site = browser.site
    objective_id, kr = site.approved_objective("Member cannot approve this")
    browser.sign_in("sofia")  # Growth member, not the owner
    browser.go(f"/objectives/{objective_id}")
    assert browser.page.get_by_role("button", name="Approve").count() == 0
    assert browser.page.get_by_role("button", name="Record check-in").count() == 0
    # The API's rules answer even a hand-made POST.
    csrf = browser.page.locator("input[name=csrf_token]").first.get_attribute("value")
    browser.page.request.post(
        f"{site.url}/objectives/{objective_id}/check-ins",
        form={"csrf_token": csrf or "", "key_result_id": str(kr), "value": "1", "confidence": "5"},
        max_redirects=0,
    )
    browser.go(f"/objectives/{objective_id}")
    assert "Only the objective's owners" in browser.flash()


def test_a_check_in_moves_the_chart_and_a_correction_strikes_the_old_point(
    browser: Browser,
) -> None:
    site = browser.site
    objective_id, _ = site.approved_objective("Win the first ten design partners", target=10)
    browser.sign_in("kwame")
    browser.go(f"/objectives/{objective_id}")
    chart = browser.page.get_by_test_id("kr-chart")
    assert chart.get_attribute("data-points") == "0"
    assert chart.locator("circle.point").count() == 0

    today = date.today()
    browser.page.get_by_label("Value (customers)").fill("3")
    browser.page.get_by_label("Confidence (0–10)").fill("7")
    browser.page.get_by_label("True on").fill((today - timedelta(days=14)).isoformat())
    browser.page.get_by_label("Note").fill("Three signed, two in legal review")
    browser.page.get_by_role("button", name="Record check-in").click()
    assert "Check-in recorded" in browser.flash()
    chart = browser.page.get_by_test_id("kr-chart")
    assert chart.locator("circle.point").count() == 1
    assert browser.page.get_by_test_id("kr-current").inner_text() == "3 customers"

    # A week later a typo, 30 for 3; the owner corrects it.
    browser.page.get_by_label("Value (customers)").fill("30")
    browser.page.get_by_label("True on").fill((today - timedelta(days=7)).isoformat())
    browser.page.get_by_role("button", name="Record check-in").click()
    assert browser.page.get_by_test_id("kr-current").inner_text() == "30 customers"
    browser.page.get_by_text("Correct a check-in").click()
    browser.page.get_by_label("Check-in", exact=True).select_option(index=0)  # the newest
    browser.page.get_by_label("Right value").fill("4")
    browser.page.get_by_label("Why (required)").fill("Typo: 4 signed, not 30")
    browser.page.get_by_role("button", name="Record correction").click()
    assert "Correction recorded" in browser.flash()
    chart = browser.page.get_by_test_id("kr-chart")
    assert chart.locator("g.superseded").count() == 1  # the 30, struck through
    assert chart.locator("circle.point").count() == 2
    assert browser.page.get_by_test_id("kr-current").inner_text() == "4 customers"
    assert "superseded" in (chart.locator("desc").text_content() or "")
    browser.shot("objective-check-ins")
    assert not browser.errors


def test_an_amendment_is_proposed_by_the_owner_and_approved_by_the_manager(
    browser: Browser, second_browser: Browser
) -> None:
    site = browser.site
    objective_id, kr = site.approved_objective("Grow the partner channel", target=20)
    member, manager = browser, second_browser
    member.sign_in("kwame")
    member.go(f"/objectives/{objective_id}")
    member.page.get_by_text("Propose an amendment").click()
    member.page.locator(f"#am-t-{kr}").fill("12")
    member.page.get_by_label("Reason (required)").fill("Two partners merged; 20 is out of reach.")
    member.page.get_by_role("button", name="Propose amendment").click()
    assert "Amendment proposed" in member.flash()
    assert member.page.get_by_test_id("objective-state").inner_text() == "amendment pending"
    assert member.page.get_by_role("button", name="Approve amendment").count() == 0  # not own

    manager.sign_in("elena")
    manager.go("/inbox")
    assert "Grow the partner channel" in manager.page.get_by_test_id("inbox-amendment").inner_text()
    manager.go(f"/objectives/{objective_id}")
    pending = manager.page.get_by_test_id("pending-amendment").inner_text()
    assert "20 is out of reach" in pending and "→ 12" in pending
    manager.page.get_by_label("Comment (optional)").fill("Agreed, the market moved.")
    manager.page.get_by_role("button", name="Approve amendment").click()
    assert "Amendment approved" in manager.flash()
    assert manager.page.get_by_test_id("objective-state").inner_text() == "approved"
    assert "target 12" in (manager.page.get_by_test_id("kr-chart").text_content() or "")
    thread = manager.page.get_by_test_id("thread").inner_text()
    assert "Kwame Mensah proposed an amendment" in thread
    assert "Elena Petrova approved the amendment" in thread
    manager.shot("objective-amended")


def test_a_counter_proposal_accepted_by_the_owner(
    browser: Browser, second_browser: Browser
) -> None:
    site = browser.site
    kwame, elena = site["kwame"], site["elena"]
    objective_id = draft(
        site.ledger,
        kwame.ctx,
        site.active_cycle_id,
        "Answer every support ticket within a day",
        owner_person_id=kwame.person_id,
    )
    kr = metric(
        site.ledger, kwame.ctx, objective_id, "Tickets answered within 24 h", 70, 80, unit="%"
    )
    site.ledger.submit_objective(objective_id, elena.person_id, kwame.ctx)
    site.settle()

    manager, member = second_browser, browser
    manager.sign_in("elena")
    manager.go(f"/objectives/{objective_id}")
    manager.page.get_by_text("Counter-propose concrete changes").click()
    manager.page.locator(f"#cp-t-{kr}").fill("90")
    manager.page.get_by_label("Comment", exact=True).fill("90% is what customers expect.")
    manager.page.get_by_role("button", name="Send counter-proposal").click()
    assert "Counter-proposal sent" in manager.flash()
    assert manager.page.get_by_test_id("objective-state").inner_text() == "counter-proposed"

    member.sign_in("kwame")
    member.go(f"/objectives/{objective_id}")
    counter = member.page.get_by_test_id("counter-proposal").inner_text()
    assert "90% is what customers expect." in counter and "→ 90" in counter
    member.page.get_by_role("button", name="Accept counter-proposal").click()
    assert "Counter-proposal accepted" in member.flash()
    assert member.page.get_by_test_id("objective-state").inner_text() == "approved"
    assert "to 90%" in member.page.get_by_test_id("kr-panel").inner_text()
    thread = member.page.get_by_test_id("thread").inner_text()
    assert "Elena Petrova counter-proposed" in thread
    assert "Kwame Mensah accepted the counter-proposal" in thread


def test_grading_and_reflecting_at_the_end_of_a_cycle(
    browser: Browser, second_browser: Browser
) -> None:
    site = browser.site
    ledger, kwame = site.ledger, site["kwame"]
    admin = site["admin"].ctx
    today = date.today()
    cycle_id = ledger.plan_cycle(
        "Grading drill", today - timedelta(days=60), today - timedelta(days=1), admin
    ).id
    ledger.start_cycle(cycle_id, admin)
    objective_id = draft(
        ledger, kwame.ctx, cycle_id, "Ship the partner API", owner_person_id=kwame.person_id
    )
    kr = metric(ledger, kwame.ctx, objective_id, "Partners live on the API", 0, 10)
    ledger.submit_objective(objective_id, site["elena"].person_id, kwame.ctx)
    ledger.approve_objective(objective_id, site["elena"].ctx)
    ledger.check_in(objective_id, kr, 7, 6, kwame.ctx, effective_on=today - timedelta(days=3))
    ledger.open_grading(cycle_id, admin)
    site.settle()

    browser.sign_in("kwame")
    browser.go(f"/objectives/{objective_id}")
    score = browser.page.locator(f"#gk-score-{kr}")
    assert score.input_value() == "0.7"  # suggested from progress
    browser.page.get_by_role("button", name="Grade", exact=True).click()
    assert "Key result graded" in browser.flash()
    browser.page.get_by_role("button", name="Grade objective").click()
    assert "Objective graded" in browser.flash()
    assert browser.page.get_by_test_id("objective-score").inner_text() == "0.70"
    assert browser.page.get_by_test_id("objective-state").inner_text() == "graded"
    browser.page.get_by_label("Reflection: what did we learn?").fill(
        "Three partners waited on legal; start contracts earlier."
    )
    browser.page.get_by_role("button", name="Save reflection").click()
    assert "Reflection saved" in browser.flash()
    assert "start contracts earlier" in browser.page.locator("main").inner_text()
    browser.shot("objective-graded", full_page=True)

    # The manager above adjusts the self-assessment, and must say why.
    manager = second_browser
    manager.sign_in("elena")
    manager.go(f"/objectives/{objective_id}")
    comment = manager.page.locator(f"#gk-comment-{kr}")
    assert comment.get_attribute("required") is not None
    manager.page.locator(f"#gk-score-{kr}").fill("0.6")
    comment.fill("Two of the seven are pilots, not live partners.")
    manager.page.get_by_role("button", name="Grade", exact=True).click()
    assert "Key result graded" in manager.flash()
    assert "graded 0.60" in manager.page.get_by_test_id("kr-panel").inner_text()
