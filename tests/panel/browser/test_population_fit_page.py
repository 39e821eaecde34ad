"""axe-core in Chromium on the population preview of a file that does not fit the panel, and its refusal."""

import pytest
from selenium.webdriver.common.by import By

from panel.demo_seed import seed_districts
from tests.browser import assert_accessible, click_through, log_in
from tests.factories import PASSWORD, make_staff
from tests.panel.population.conftest import SAMPLES, needs_samples

pytestmark = pytest.mark.browser


@needs_samples
def test_the_preview_of_a_file_for_another_municipality_is_accessible(browser, live_server, session):
    seed_districts(session)
    user = make_staff(session, "analyst")
    session.commit()
    log_in(browser, live_server.url, user.email, PASSWORD)
    browser.get(live_server.url + "/staff/population/")
    browser.find_element(By.ID, "population").send_keys(str(SAMPLES / "BE0101N1_TAB638_sv.px"))
    browser.find_element(By.ID, "name").send_keys("Upplands Väsby")
    browser.find_element(By.ID, "region").send_keys("0114")
    click_through(browser, By.CSS_SELECTOR, "main form button[type=submit].button")
    assert "Uppgifterna passar inte panelen" in browser.page_source
    assert_accessible(browser, "the population preview with serious problems")

    click_through(browser, By.CSS_SELECTOR, "main form button[type=submit].button")  # without the box ticked
    assert "Kryssa i rutan" in browser.page_source and "/staff/population/preview/" in browser.current_url
    assert_accessible(browser, "the population preview refusing to save without the confirmation")
    browser.find_element(By.ID, "accept").click()
    click_through(browser, By.CSS_SELECTOR, "main form button[type=submit].button")
    assert browser.current_url.endswith("/staff/population/") and "Används" in browser.page_source
