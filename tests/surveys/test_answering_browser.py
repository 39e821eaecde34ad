"""Answering in Chromium: axe-core (WCAG 2.1 A/AA) on every respondent page state, 320 px
without sideways scrolling, and every question type answered with the keyboard only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from panel.db import utcnow
from surveys.answering.models import SurveyResponse
from tests.browser import assert_accessible
from tests.factories import PASSWORD, make_district, make_member, make_staff
from tests.surveys.answering.builders import EXAMPLE, invite, make_survey

pytestmark = pytest.mark.browser
MAX_TABS = 80


def shows(browser, text: str) -> bool:
    try:
        WebDriverWait(browser, 10).until(lambda driver: text in driver.page_source)
    except Exception:
        raise AssertionError(f"{text!r} not on {browser.current_url}:\n{browser.find_element(By.TAG_NAME, 'main').text}")
    return True


def check(browser, what: str) -> None:
    """axe-core finds nothing, also 320 px wide, where the page does not scroll sideways."""
    assert_accessible(browser, what)
    browser.set_window_size(320, 800)
    try:
        assert_no_sideways_scrolling(browser, what)
        assert_accessible(browser, f"{what} at 320 px")
    finally:
        browser.set_window_size(1280, 900)


def assert_no_sideways_scrolling(browser, what: str) -> None:
    """WCAG 1.4.10 Reflow: nothing wider than the 320 px window."""
    width = browser.execute_script("return document.documentElement.clientWidth")
    scroll = browser.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width, f"{what} scrolls sideways at 320 px ({scroll} > {width})"


def active(browser, attribute: str) -> str:
    return browser.execute_script(f"return document.activeElement.getAttribute('{attribute}') || ''")


def press(browser, *keys: str) -> None:
    browser.switch_to.active_element.send_keys(*keys)


def tab_to(browser, name: str, value: str | None = None) -> None:
    """Press Tab until the focus is on the input ``name`` (with ``value``, if given)."""
    for _ in range(MAX_TABS):
        if active(browser, "name") == name and (value is None or active(browser, "value") == value):
            return
        press(browser, Keys.TAB)
    raise AssertionError(f"Tab never reached {name}={value}")


def choose(browser, name: str, value: str) -> None:
    """Pick a radio button with the keyboard: Tab into the group, arrow keys to the value."""
    tab_to(browser, name)
    if active(browser, "value") == value:
        press(browser, Keys.SPACE)
        return
    for _ in range(25):
        press(browser, Keys.ARROW_DOWN)  # moves and checks, in left-to-right and right-to-left pages
        if active(browser, "value") == value:
            return
    raise AssertionError(f"arrow keys never reached {name}={value}")


def tick(browser, name: str, value: str) -> None:
    tab_to(browser, name, value)
    press(browser, Keys.SPACE)


def type_into(browser, name: str, text: str) -> None:
    tab_to(browser, name)
    press(browser, text)


def send_with_keyboard(browser, button_value: str = "next") -> None:
    """Tab to the page's submit button and press Enter."""
    for _ in range(MAX_TABS):
        if active(browser, "type") == "submit" and active(browser, "value") in (button_value, ""):
            press(browser, Keys.ENTER)
            return
        press(browser, Keys.TAB)
    raise AssertionError("Tab never reached the submit button")


def test_every_respondent_page_is_accessible_and_answerable_with_the_keyboard(app, browser, live_server, session):
    survey = make_survey(session)
    _invitation, token = invite(session, survey)
    session.commit()
    link = f"{live_server.url}/s/{token}"

    browser.get(link)
    check(browser, "the survey's landing page")
    send_with_keyboard(browser)
    assert shows(browser, "Hur tar du dig oftast till arbete eller skola?")
    check(browser, "the first page (single choice with 'other', scale with 'don't know', yes/no)")

    send_with_keyboard(browser)  # nothing answered: required questions
    assert shows(browser, "Det finns fel i formuläret")
    check(browser, "the first page with errors")
    summary_link = browser.execute_script(
        "return document.querySelector('.error-summary a').getAttribute('href')")
    assert summary_link == "#q-transport-0"

    browser.get(link)  # open the link again: the start button resumes
    send_with_keyboard(browser)
    assert shows(browser, "Hur tar du dig oftast")
    choose(browser, "transport", "buss")
    choose(browser, "trygghet_kvall", "dont_know")
    choose(browser, "bibliotek", "yes")
    send_with_keyboard(browser)
    assert shows(browser, "Hur nöjd är du med följande på biblioteket?")
    check(browser, "the library page (matrix, number)")

    # Leave, and come back from another browser session with the same link.
    browser.delete_all_cookies()
    browser.get(link)
    assert shows(browser, "Fortsätt svara")
    send_with_keyboard(browser)
    assert shows(browser, "Hur nöjd är du med följande på biblioteket?")
    choose(browser, "bibliotek_nojdhet-oppettider", "4")
    choose(browser, "bibliotek_nojdhet-utbud", "dont_know")
    choose(browser, "bibliotek_nojdhet-personal", "1")
    type_into(browser, "bibliotek_besok", "400")
    send_with_keyboard(browser)
    assert shows(browser, "Skriv ett heltal mellan 1 och 365.")
    check(browser, "the number question with an error")
    tab_to(browser, "bibliotek_besok")
    press(browser, Keys.CONTROL, "a")
    press(browser, "12")
    send_with_keyboard(browser)

    assert shows(browser, "Vilka områden bör kommunen prioritera")
    check(browser, "the last page (multiple choice, short text, 0-10 scale, long text)")
    tick(browser, "prioriteringar", "skola")
    tick(browser, "prioriteringar", "miljo")
    type_into(browser, "prioriteringar-other", "Gatubelysning")  # typing in 'other' ticks it
    type_into(browser, "buss_forbattring", "Fler turer")
    choose(browser, "rekommendera", "9")
    type_into(browser, "synpunkter", "Tack!")
    send_with_keyboard(browser)
    assert shows(browser, "Tack för dina svar")
    check(browser, "the thanks page")

    answers = session.scalars(select(SurveyResponse.answers)).one()
    assert answers["prioriteringar"] == ["skola", "miljo", "other"]
    assert answers["prioriteringar-other"] == "Gatubelysning"
    assert answers["bibliotek_nojdhet"] == {"oppettider": 4, "utbud": "dont_know", "personal": 1}
    assert (answers["trygghet_kvall"], answers["rekommendera"], answers["bibliotek_besok"]) == ("dont_know", 9, 12)

    browser.get(link)
    assert shows(browser, "Du har redan svarat")
    check(browser, "the already-answered page")


def test_closed_not_yet_open_invalid_and_no_session_pages_are_accessible(browser, live_server, session):
    closed = make_survey(session, status="closed", closes_at=utcnow() - timedelta(days=1))
    later = make_survey(session, status="scheduled", opens_at=utcnow() + timedelta(days=3))
    _i, closed_token = invite(session, closed)
    _i, later_token = invite(session, later)
    session.commit()
    browser.get(live_server.url + "/?lang=sv")  # pages without a survey follow the visitor's language
    for path, text, what in ((f"/s/{closed_token}", "Enkäten är stängd", "the closed-survey page"),
                             (f"/s/{later_token}", "Enkäten har inte öppnat än", "the not-yet-open page"),
                             ("/s/" + "x" * 43, "Länken fungerar inte", "the link-not-valid page"),
                             ("/s/answer", "Öppna enkäten med länken i mejlet", "the no-session page")):
        browser.get(live_server.url + path)
        assert shows(browser, text)
        check(browser, what)


def test_a_right_to_left_survey_page_is_accessible(browser, live_server, session):
    survey = make_survey(session)
    _invitation, token = invite(session, survey, language="ar")
    session.commit()
    browser.get(f"{live_server.url}/s/{token}")
    assert browser.find_element("css selector", "html").get_attribute("dir") == "rtl"
    check(browser, "the Arabic landing page")
    send_with_keyboard(browser)
    assert shows(browser, "كيف تذهب عادةً إلى العمل أو المدرسة؟")
    choose(browser, "transport", "cykel")
    check(browser, "an Arabic question page")


def test_the_whole_way_in_chromium(app, browser, live_server, session, smtp_server):
    """Analyst: log in, import the survey, target a stratified sample, send. Resident: the
    emailed link (real SMTP), answered in English."""
    from panel.mail.dispatcher import dispatch_due

    year = utcnow().year
    members = []
    for code, language in (("0101", "sv"), ("0102", "en")):
        district = make_district(session, code=code)
        members += [make_member(session, district=district, gender=gender, birth_year=year - age, language=language)
                    for gender in ("kvinna", "man") for age in (30, 70)]
    analyst = make_staff(session, role="analyst")
    session.commit()

    browser.get(live_server.url + "/staff/login?lang=sv")  # Chromium asks for English; the session remembers
    browser.find_element(By.ID, "email").send_keys(analyst.email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit].button").click()
    WebDriverWait(browser, 10).until(lambda driver: driver.current_url.endswith("/staff/"))
    browser.get(live_server.url + "/staff/surveys/new")
    browser.execute_script("document.getElementById('text').value = arguments[0]", EXAMPLE.read_text("utf-8"))
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit].button").click()
    WebDriverWait(browser, 10).until(lambda driver: re.search(r"/staff/surveys/\d+$", driver.current_url))
    survey_id = int(browser.current_url.rsplit("/", 1)[1])

    browser.get(f"{live_server.url}/staff/surveys/{survey_id}/fielding/target")
    browser.find_element(By.CSS_SELECTOR, "label[for=mode-1]").click()  # a stratified sample
    browser.find_element(By.ID, "sample_size").send_keys("8")
    browser.find_element(By.CSS_SELECTOR, "label[for=allocation-1]").click()  # equal: one per stratum
    browser.find_element(By.ID, "seed").send_keys("7")
    closes = (utcnow() + timedelta(days=10)).strftime("%Y-%m-%dT12:00")
    browser.execute_script("document.getElementById('closes_at').value = arguments[0]", closes)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit].button").click()
    assert shows(browser, "Skicka 8 inbjudningar")
    browser.find_element(By.XPATH, "//button[contains(., 'Skicka 8 inbjudningar')]").click()
    assert shows(browser, "inbjudningar är köade")
    assert dispatch_due(app).sent == 8

    english = {m.email for m in members if m.language == "en"}
    message = next(m for m in smtp_server.messages if str(m["To"]) in english)
    link = re.search(r"https?://\S+/s/[A-Za-z0-9_-]+", message.get_body(("plain",)).get_content()).group(0)
    browser.delete_all_cookies()  # from here on, a resident
    browser.get(link)
    assert shows(browser, "Safety and services in the municipality")
    assert browser.find_element(By.CSS_SELECTOR, "html").get_attribute("lang") == "en"
    send_with_keyboard(browser)
    assert shows(browser, "How do you usually get to work or school?")
    choose(browser, "transport", "till_fots")
    choose(browser, "trygghet_kvall", "5")
    choose(browser, "bibliotek", "no")
    send_with_keyboard(browser)
    assert shows(browser, "Which areas should the municipality prioritise")
    tick(browser, "prioriteringar", "kultur")
    send_with_keyboard(browser)
    assert shows(browser, "Thank you for your answers!")

    response = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)).one()
    assert response.language == "en" and response.answers["transport"] == "till_fots"
