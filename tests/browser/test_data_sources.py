"""A key result that follows a data source, in the browser: the objective page says what it
follows and how it fares, "Sync now" moves it, a failing source shows its error there and in
/stale, and detaching it takes it off /stale."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.browser.conftest import Browser, Site
from tests.steps import kpi

pytestmark = pytest.mark.browser


def attach_source(site: Site, path: str, source: dict[str, Any]) -> None:
    """Kwame attaches `source` through the API to what `path` (below /api/v1) names."""
    attached = httpx.put(
        f"{site.url}/api/v1/{path}/source",
        json=source,
        headers={"Authorization": f"Bearer {site['kwame'].token}"},
    )
    assert attached.status_code == 200, attached.text


def test_sync_now_moves_a_key_result_and_a_failing_source_shows_in_stale(
    browser: Browser, httpserver: HTTPServer
) -> None:
    site = browser.site
    objective_id, kr = site.approved_objective("Grow revenue from data")
    httpserver.expect_request("/revenue").respond_with_json({"customers": {"signed": 12}})
    api = f"{site.url}/api/v1/objectives/{objective_id}/key-results/{kr}"
    attach_source(
        site,
        f"objectives/{objective_id}/key-results/{kr}",
        {
            "kind": "http_json",
            "url": httpserver.url_for("/revenue"),
            "expression": "customers.signed",
            "reason": "the CRM counts them",
        },
    )

    browser.sign_in("kwame")
    browser.go(f"/objectives/{objective_id}")
    panel = browser.page.get_by_test_id("kr-source")
    assert "JSON at" in panel.inner_text() and "every hour" in panel.inner_text()
    assert panel.get_by_test_id("source-health").inner_text() == "never"
    panel.get_by_role("button", name="Sync now").click()
    assert "synced" in browser.flash().lower()
    panel = browser.page.get_by_test_id("kr-source")
    assert panel.get_by_test_id("source-health").inner_text() == "ok"
    history = browser.page.locator("details.check-ins").first
    history.locator("summary").click()
    assert "data source" in history.inner_text() and "12" in history.inner_text()
    browser.shot("data-source-synced")

    httpserver.clear()
    httpserver.expect_request("/revenue").respond_with_data("down", status=500)
    browser.page.get_by_test_id("kr-source").get_by_role("button", name="Sync now").click()
    assert "HTTP 500" in browser.flash()
    panel = browser.page.get_by_test_id("kr-source")
    assert panel.get_by_test_id("source-health").inner_text() == "failing"
    assert "HTTP 500" in panel.get_by_test_id("source-error").inner_text()

    browser.go("/stale")
    failing = browser.page.get_by_test_id("failing-sources")
    assert "Grow revenue from data" in failing.inner_text()
    assert "source_http_status" in failing.inner_text()
    browser.shot("data-source-failing-in-stale")

    kwame = {"Authorization": f"Bearer {site['kwame'].token}"}
    detached = httpx.post(f"{api}/source/detach", json={"reason": "CRM retired"}, headers=kwame)
    assert detached.status_code == 200, detached.text
    browser.go("/stale")
    assert browser.page.get_by_test_id("failing-sources").count() == 0
    assert not browser.errors, browser.errors


def test_a_kpi_measured_from_a_source_syncs_from_its_page(
    browser: Browser, httpserver: HTTPServer
) -> None:
    site = browser.site
    kwame = site["kwame"]
    kpi_id = kpi(
        site.ledger,
        kwame.ctx,
        "Signed customers (from the CRM)",
        "customers",
        "increase",
        kwame.person_id,
        (30, 20),
    )
    try:
        httpserver.expect_request("/crm.csv").respond_with_data(
            "region,signed\nnorth,17\nsouth,23\n", content_type="text/csv"
        )
        attach_source(
            site,
            f"kpis/{kpi_id}",
            {
                "kind": "csv",
                "url": httpserver.url_for("/crm.csv"),
                "column": "signed",
                "filter": {"region": "south"},
                "schedule": {"every": "day", "at": "07:00", "time_zone": "Europe/London"},
                "reason": "the CRM exports it",
            },
        )
        site.settle()

        browser.sign_in("kwame")
        browser.go(f"/kpis/{kpi_id}")
        panel = browser.page.get_by_test_id("kpi-source")
        assert "every day at 07:00 (Europe/London)" in panel.inner_text()
        panel.get_by_role("button", name="Sync now").click()
        assert "synced" in browser.flash().lower()
        assert (
            browser.page.get_by_test_id("kpi-source").get_by_test_id("source-health").inner_text()
            == "ok"
        )
        assert "23 customers" in browser.page.locator("main").inner_text()
        assert not browser.errors, browser.errors
    finally:
        # The site is shared by every browser test: the KPI dashboard's count is the demo's.
        site.ledger.retire_kpi(kpi_id, "the test is over", kwame.ctx)
        site.settle()
