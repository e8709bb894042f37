"""The import page in the web UI: an admin uploads a filled template, sees the preview (what
would be created, with row numbers, nothing written), imports it, and finds each imported value's
source in the audit trail. A refused file lists its rows and rules; members see no import page."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from api.imports.plan import external_uuid
from api.imports.template import write_template
from tests.browser.conftest import Browser

pytestmark = pytest.mark.browser

START = date.today() - timedelta(days=300)


def filled(tmp_path: Path, *, bad: bool = False) -> Path:
    path = tmp_path / ("bad.xlsx" if bad else "okrs.xlsx")
    write_template(path)
    book = load_workbook(path)
    # A quarter that began (and ended) long before the demo's current one (START): the site is
    # shared by every browser test, and a later-starting active cycle would become everyone's
    # current.
    book["cycles"].append(["Imported from the sheet", START, START + timedelta(days=90)])
    owner = "demo-admin@acme.example" if not bad else "nobody@acme.example"
    book["objectives"].append(
        ["UI-1", "Imported from the sheet", "Move in", "", "committed", owner]
    )
    book["key_results"].append(["UI-KR-1", "UI-1", "Boxes unpacked", "metric", 0, 40])
    for week in range(3):
        book["check_ins"].append(["UI-KR-1", START + timedelta(days=7 * week), 5 * week, 7, ""])
    book.save(path)
    return path


def test_an_admin_previews_imports_and_finds_the_source_in_the_audit(
    browser: Browser, tmp_path: Path
) -> None:
    browser.sign_in("admin")
    browser.page.get_by_role("link", name="Import").click()
    browser.page.wait_for_url("**/import")

    browser.page.get_by_label("File (CSV or XLSX)").set_input_files(str(filled(tmp_path, bad=True)))
    browser.page.get_by_role("button", name="Preview").click()
    problems = browser.page.get_by_test_id("import-problem")
    assert problems.count() == 1
    assert "owner_not_found" in problems.first.inner_text()
    assert "objectives" in problems.first.inner_text()

    head = browser.site.ledger.recorder.max_notification_id()
    browser.page.get_by_label("File (CSV or XLSX)").set_input_files(str(filled(tmp_path)))
    browser.page.get_by_role("button", name="Preview").click()
    created = browser.page.get_by_test_id("import-created")
    assert "check_in UI-KR-1@" in created.inner_text()
    assert browser.site.ledger.recorder.max_notification_id() == head  # a preview writes nothing
    browser.shot("import-preview", full_page=True)

    browser.page.get_by_test_id("import-confirm").click()
    done = browser.page.get_by_test_id("import-done")
    assert "events written" in done.inner_text()
    assert (browser.site.ledger.recorder.max_notification_id() or 0) > (head or 0)

    browser.site.settle()
    browser.go(f"/audit?entity={external_uuid('objective', 'UI-1')}")
    sources = browser.page.locator("td.provenance").all_inner_texts()
    assert any("imported from okrs.xlsx, check_ins row 4" in s for s in sources), sources
    # The replay tells the quarter by its dates: the second week shows that week's check-in,
    # dated 17:00 UTC of its day and recorded today, with its file row.
    browser.go("/replay")
    option = browser.page.locator("#r-cycle option", has_text="Imported from the sheet")
    browser.go(f"/replay?cycle={option.get_attribute('value')}&step=week&frame=1")
    second_week = START + timedelta(days=7)
    dated = browser.page.get_by_test_id("event-dated").all_inner_texts()
    assert any(f"{second_week} 17:00 UTC, recorded {date.today()}" in d for d in dated), dated
    sources = browser.page.get_by_test_id("event-source").all_inner_texts()
    assert any("imported from okrs.xlsx, check_ins row 3" in s for s in sources), sources
    # The only error the console saw: the refused file's answer (422).
    assert all("422" in error for error in browser.errors), browser.errors


def test_members_have_no_import_page(browser: Browser) -> None:
    browser.sign_in("kwame")
    assert browser.page.get_by_role("link", name="Import").count() == 0
    assert browser.go("/import").status == 403
