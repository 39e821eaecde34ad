"""axe-core in Chromium on the public privacy page, the audit log and the DPO page."""

import pytest
from selenium.webdriver.common.by import By

from panel import audit
from tests.browser import assert_accessible, click_through, log_in
from tests.factories import PASSWORD, make_staff

pytestmark = pytest.mark.browser


def test_privacy_audit_log_and_dpo_pages_are_accessible(browser, live_server, session):
    admin = make_staff(session, "admin")
    for n in range(60):  # two pages
        audit.record(session, actor=admin, action="export.download", target=("survey", n), detail={"format": "csv"})
    session.commit()
    browser.get(live_server.url + "/panel/privacy")
    assert "Så hanterar vi dina personuppgifter" in browser.page_source
    assert_accessible(browser, "the public privacy page")
    log_in(browser, live_server.url, admin.email, PASSWORD)

    browser.get(live_server.url + "/staff/audit")
    assert "Sida 1 av 2" in browser.page_source
    assert_accessible(browser, "the audit log")
    browser.get(live_server.url + "/staff/audit?since=fel")
    assert "Det finns fel i formuläret" in browser.page_source
    assert_accessible(browser, "the audit log with a bad filter")

    browser.get(live_server.url + "/staff/privacy")
    assert_accessible(browser, "the DPO page")
    browser.find_element(By.ID, "email").send_keys("ingen@example.se")
    click_through(browser, By.CSS_SELECTOR, "main form button[type=submit].button")
    assert "Det finns ingen medlem" in browser.page_source
    assert_accessible(browser, "the DPO page with an unknown address")
