"""In Chromium, with axe-core: the dev mailbox (a newcomer clicks the confirmation link
there) and the staff page for failed mail."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from panel.mail import devserver, dispatcher
from tests.browser import LiveServer, assert_accessible, click_through, log_in, next_page
from tests.factories import PASSWORD, make_staff
from tests.panel.mail.conftest import make_row

pytestmark = pytest.mark.browser


def test_newcomer_finds_the_mail_and_follows_its_link(_driver, dev_app, session):
    browser = _driver
    browser.delete_all_cookies()
    with LiveServer(dev_app) as server, devserver.DevSMTPServer(dev_app.config["PANEL_DEV_MAILBOX"]) as catcher:
        dev_app.config["MAIL_PORT"] = catcher.port
        make_row(session, to="asa@example.se", subject="Bekräfta att du vill vara med",
                 text=f"Hej!\n\nBekräfta här:\n{server.url}/dev/mail\n",
                 html=f'<!doctype html><html lang="sv"><head><title>Bekräfta</title></head><body>'
                      f'<p><a href="{server.url}/dev/mail">Bekräfta</a></p></body></html>')
        session.commit()
        assert dispatcher.dispatch_due(dev_app).sent == 1

        browser.set_window_size(1280, 900)
        browser.get(server.url + "/dev/mail?lang=sv")  # Chromium asks for English otherwise
        assert_accessible(browser, "the dev mailbox list")
        click_through(browser, By.LINK_TEXT, "Bekräfta att du vill vara med")
        assert "Textversionen" in browser.page_source
        assert_accessible(browser, "one caught message")

        browser.set_window_size(320, 800)  # reflow: nothing wider than the screen
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 320 + 1, f"the message page is {width}px wide at 320px"

        iframe = browser.find_element(By.CSS_SELECTOR, "iframe")
        with next_page(browser):  # marks the top window, where the link opens
            browser.switch_to.frame(iframe)
            browser.find_element(By.LINK_TEXT, "Bekräfta").click()
            browser.switch_to.default_content()
        assert browser.current_url == server.url + "/dev/mail"


def test_staff_mail_page_is_accessible(browser, live_server, session):
    user = make_staff(session, "analyst")
    make_row(session, 1, to="anna.svensson@example.se", status="failed", attempts=8,
             last_error="gave up after 8 attempts: 451 4.7.1 try later")
    session.commit()
    log_in(browser, live_server.url, user.email, PASSWORD)
    browser.get(live_server.url + "/staff/mail?lang=sv")
    assert "a…n@example.se" in browser.page_source
    assert_accessible(browser, "the staff mail page")
    click_through(browser, By.XPATH, "//button[starts-with(normalize-space(.), 'Skicka igen')]")
    assert "skickas igen" in browser.page_source
    assert_accessible(browser, "the staff mail page after a retry")
