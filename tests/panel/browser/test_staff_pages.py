import pytest
from selenium.webdriver.common.by import By

from tests.browser import assert_accessible, click_through
from tests.factories import PASSWORD, make_staff

pytestmark = pytest.mark.browser


def test_staff_login_page_is_accessible_in_normal_and_error_state(browser, live_server, session):
    user = make_staff(session)
    session.commit()
    browser.get(live_server.url + "/staff/login")
    assert_accessible(browser, "the staff login page")
    browser.find_element(By.ID, "email").send_keys(user.email)
    browser.find_element(By.ID, "password").send_keys("wrong password")
    click_through(browser, By.CSS_SELECTOR, "button[type=submit].button")
    assert "Fel e-postadress eller lösenord" in browser.page_source
    assert_accessible(browser, "the staff login page with an error")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    click_through(browser, By.CSS_SELECTOR, "button[type=submit].button")
    assert browser.current_url.endswith("/staff/")
