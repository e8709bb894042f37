"""Every page says which moment it shows ("as of position N · chain 3f2a…"), and its link
opens the page at exactly that moment, later changes notwithstanding."""

from __future__ import annotations

import re
from datetime import date

import pytest

from infra.chain import ChainReader
from tests.browser.conftest import Browser

pytestmark = pytest.mark.browser


def _moment(browser: Browser) -> tuple[int, str, str]:
    """The footer's position, full chain hash (its title) and link."""
    footer = browser.page.get_by_test_id("moment")
    assert footer.is_visible()
    text = footer.inner_text()
    position = int(browser.page.get_by_test_id("moment-position").inner_text())
    chain_hash = browser.page.get_by_test_id("moment-hash").get_attribute("title") or ""
    link = browser.page.get_by_test_id("moment-link").get_attribute("href") or ""
    assert text.startswith(f"as of position {position} · chain {chain_hash[:4]}…"), text
    return position, chain_hash, link


def _progress(browser: Browser, title: str) -> str:
    item = browser.page.locator(".tree-item", has_text=title).first
    return str(item.locator(".progress-text").first.inner_text())


def test_the_footer_shows_the_position_and_its_link_opens_that_moment(browser: Browser) -> None:
    site = browser.site
    objective_id, kr = site.approved_objective("Open the Lisbon office", target=40)
    browser.sign_in("maya")

    browser.go(f"/tree?cycle={site.active_cycle_id}")
    position, chain_hash, link = _moment(browser)
    chain = ChainReader.for_recorder(site.ledger.recorder)
    assert chain_hash == chain.hash_at(position).hex()
    assert position >= (site.ledger.recorder.max_notification_id() or 0) - 1
    assert re.search(rf"[?&]position={position}(&|$)", link), link
    assert f"cycle={site.active_cycle_id}" in link  # the same page, at that position
    before = _progress(browser, "Open the Lisbon office")

    site.ledger.check_in(objective_id, kr, 30, 7, site["kwame"].ctx, effective_on=date.today())
    site.settle()
    browser.go(f"/tree?cycle={site.active_cycle_id}")
    now, _, _ = _moment(browser)
    assert now > position
    assert _progress(browser, "Open the Lisbon office") != before

    # The saved link (a screenshot's, say) opens the tree exactly as it was then.
    browser.go(link)
    assert f"log position {position}" in browser.page.get_by_test_id("as-of-banner").inner_text()
    assert _progress(browser, "Open the Lisbon office") == before
    assert _moment(browser)[:2] == (position, chain_hash)
    browser.shot("tree-at-position")

    # Pages without time travel link to the tree at the position they showed.
    browser.go("/inbox")
    position, _, link = _moment(browser)
    browser.page.get_by_test_id("moment-link").click()
    browser.page.wait_for_url(re.compile(rf"/tree\?position={position}$"))
    assert f"log position {position}" in browser.page.get_by_test_id("as-of-banner").inner_text()
    assert not browser.errors


def test_an_auditor_checks_a_saved_footer_on_the_audit_page(browser: Browser) -> None:
    browser.sign_in("admin")
    browser.go(f"/tree?cycle={browser.site.active_cycle_id}")
    position, chain_hash, _ = _moment(browser)

    browser.go("/audit")
    browser.page.get_by_label("Position", exact=True).fill(str(position))
    browser.page.get_by_label("Chain hash").fill(chain_hash)
    browser.page.get_by_test_id("check-answer").click()
    result = browser.page.get_by_test_id("check-result").inner_text()
    assert result.startswith("Matches"), result
    assert chain_hash in result

    other = ("1" if chain_hash[0] != "1" else "2") + chain_hash[1:]
    browser.page.get_by_label("Chain hash").fill(other)
    browser.page.get_by_test_id("check-answer").click()
    result = browser.page.get_by_test_id("check-result").inner_text()
    assert result.startswith("Does not match") and "hash_mismatch" in result, result

    browser.page.get_by_label("Chain hash").fill("3f2a")
    browser.page.get_by_test_id("check-answer").click()
    assert "64 hexadecimal digits" in browser.page.get_by_test_id("check-result").inner_text()
    browser.shot("audit-check-answer")
    assert not browser.errors
