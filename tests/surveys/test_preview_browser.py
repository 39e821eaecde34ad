"""The preview in Chromium: axe-core on every page state in sv, en and ar (right to left),
keyboard-only completion of every question type, and a 320 px wide screen."""

import json
from types import SimpleNamespace

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from surveys.authoring import services
from tests.browser import assert_accessible, next_page

pytestmark = pytest.mark.browser


# The fixtures keep ids and emails, not rows: reading a row after commit would open a
# transaction that, idle on PostgreSQL, makes the live server wait behind other runs' TRUNCATE.


@pytest.fixture
def survey(session, example_text):
    survey = services.import_survey(session, text=example_text, format="yaml", title="Exempel", created_by=None)
    ids = SimpleNamespace(id=survey.id)
    session.commit()
    return ids


def click_button(browser, value):
    with next_page(browser):
        browser.find_element(By.CSS_SELECTOR, f'button[name="nav"][value="{value}"]').click()


def check(browser, element_id):
    browser.find_element(By.ID, element_id).click()


def html_attributes(browser):
    element = browser.find_element(By.TAG_NAME, "html")
    return element.get_attribute("lang"), element.get_attribute("dir")


@pytest.mark.parametrize("language, direction", [("sv", "ltr"), ("en", "ltr"), ("ar", "rtl")])
def test_every_preview_page_state_is_accessible(analyst_browser, live_server, survey, language, direction):
    browser = analyst_browser
    browser.get(f"{live_server.url}/staff/surveys/{survey.id}/preview/{language}")
    assert html_attributes(browser) == (language, direction)
    assert_accessible(browser, f"the preview intro ({language})")
    click_button(browser, "start")
    assert_accessible(browser, f"page 1: single choice with 'annat', scale with 'vet ej', yes/no ({language})")
    click_button(browser, "next")
    assert browser.find_element(By.CSS_SELECTOR, ".error-summary")
    assert html_attributes(browser) == (language, direction)
    assert_accessible(browser, f"page 1 with errors ({language})")
    check(browser, "q-transport-1")
    check(browser, "q-trygghet_kvall-4")
    check(browser, "q-bibliotek-0")
    click_button(browser, "next")
    assert browser.find_elements(By.ID, "q-bibliotek_nojdhet-utbud-0")
    assert_accessible(browser, f"page 2: matrix and number ({language})")
    browser.find_element(By.ID, "q-bibliotek_besok").send_keys("999")
    click_button(browser, "next")
    assert "q-bibliotek_besok-error" in browser.page_source
    assert_accessible(browser, f"page 2 with a number out of range ({language})")
    browser.find_element(By.ID, "q-bibliotek_besok").clear()
    click_button(browser, "next")
    assert browser.find_elements(By.ID, "q-prioriteringar-0")
    assert browser.find_elements(By.ID, "q-buss_forbattring")  # shown: goes by bus
    assert_accessible(browser, f"page 3: multiple choice, short and long text, 0-10 scale ({language})")
    for value in range(4):
        check(browser, f"q-prioriteringar-{value}")
    browser.find_element(By.ID, "q-synpunkter").send_keys("x" * 2001)
    click_button(browser, "next")
    assert "q-prioriteringar-error" in browser.page_source and "q-synpunkter-error" in browser.page_source
    assert_accessible(browser, f"page 3 with errors ({language})")
    check(browser, "q-prioriteringar-3")
    browser.find_element(By.ID, "q-synpunkter").clear()
    click_button(browser, "next")
    assert browser.find_elements(By.TAG_NAME, "table"), browser.find_element(By.TAG_NAME, "main").text
    assert "prioriteringar" in browser.find_element(By.TAG_NAME, "table").text
    assert_accessible(browser, f"the closing page ({language})")


def tab_until(browser, matches, limit=120):
    """Press TAB until the focused element matches; fail if it never does."""
    for _ in range(limit):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        focused = browser.switch_to.active_element
        if matches(focused):
            return focused
    raise AssertionError("never reached the element with the keyboard")


def tab_to(browser, element_id):
    return tab_until(browser, lambda element: element.get_attribute("id") == element_id)


def press(browser, *keys):
    for key in keys:
        browser.switch_to.active_element.send_keys(key)


def tab_to_button(browser, value):
    return tab_until(browser, lambda e: e.tag_name == "button" and e.get_attribute("value") == value)


def test_every_question_type_can_be_answered_with_the_keyboard_only(analyst_browser, live_server, survey):
    browser = analyst_browser
    browser.get(f"{live_server.url}/staff/surveys/{survey.id}/preview/sv")
    tab_to_button(browser, "start")
    with next_page(browser):
        press(browser, Keys.ENTER)
    # page 1: single choice (arrow keys move and select), scale with "vet ej", yes/no
    tab_to(browser, "q-transport-0")
    press(browser, Keys.ARROW_DOWN)  # Buss
    url = browser.current_url
    tab_to(browser, "q-trygghet_kvall-0")
    press(browser, Keys.SPACE, Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_DOWN)  # 4
    tab_to(browser, "q-bibliotek-0")
    press(browser, Keys.SPACE)  # Ja
    assert browser.current_url == url and browser.find_element(By.ID, "q-transport-1").is_selected()  # no auto-submit
    tab_to_button(browser, "next")
    with next_page(browser):
        press(browser, Keys.ENTER)
    # page 2: matrix, one radio group per item; number
    tab_to(browser, "q-bibliotek_nojdhet-oppettider-0")
    press(browser, Keys.SPACE, Keys.ARROW_DOWN)  # 2
    tab_to(browser, "q-bibliotek_nojdhet-utbud-0")
    press(browser, Keys.ARROW_UP)  # wraps to the last choice: vet ej
    tab_to(browser, "q-bibliotek_nojdhet-personal-0")
    press(browser, Keys.SPACE)  # 1
    tab_to(browser, "q-bibliotek_besok")
    with next_page(browser):
        press(browser, "12", Keys.ENTER)  # Enter in a text field submits: "next" is the first button
    # page 3: checkboxes with "annat", short text, 0-10 scale, long text
    tab_to(browser, "q-prioriteringar-0")
    press(browser, Keys.SPACE)  # skola
    tab_to(browser, "q-prioriteringar-4")
    press(browser, Keys.SPACE)  # miljo
    tab_to(browser, "q-prioriteringar-other")
    press(browser, "Badhus")
    tab_to(browser, "q-buss_forbattring")
    press(browser, "Fler turer")
    tab_to(browser, "q-rekommendera-0")
    press(browser, Keys.SPACE, *[Keys.ARROW_DOWN] * 7)  # 7
    tab_to(browser, "q-synpunkter")
    press(browser, "Bra", Keys.ENTER, "men dyrt")
    tab_to_button(browser, "next")
    with next_page(browser):
        press(browser, Keys.SPACE)
    stored = {row.find_element(By.CSS_SELECTOR, "td.code").text: json.loads(row.find_elements(By.TAG_NAME, "td")[1].text)
              for row in browser.find_elements(By.CSS_SELECTOR, "tbody tr")}
    assert stored == {
        "transport": "buss", "trygghet_kvall": 4, "bibliotek": "yes",
        "bibliotek_nojdhet": {"oppettider": 2, "utbud": "dont_know", "personal": 1}, "bibliotek_besok": 12,
        "prioriteringar": ["skola", "miljo", "other"], "prioriteringar-other": "Badhus",
        "buss_forbattring": "Fler turer", "rekommendera": 7, "synpunkter": "Bra\nmen dyrt",
    }


@pytest.mark.parametrize("language", ["sv", "ar"])
def test_the_preview_fits_a_320_pixel_screen(analyst_browser, live_server, survey, language):
    browser = analyst_browser
    browser.set_window_size(320, 700)
    browser.get(f"{live_server.url}/staff/surveys/{survey.id}/preview/{language}")
    click_button(browser, "start")
    click_button(browser, "next")  # with errors: the longest version of the page
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    wide = browser.execute_script(
        "return [...document.querySelectorAll('body *')].filter(e => {const r = e.getBoundingClientRect();"
        " return r.width && (r.left < -1 || r.right > window.innerWidth + 1);}).slice(0, 5)"
        ".map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().left)"
        " + '..' + Math.round(e.getBoundingClientRect().right));")
    assert width[0] <= width[1], f"the page scrolls sideways at 320 px: {width}, {wide}"
    assert_accessible(browser, f"page 1 with errors at 320 px ({language})")


def test_authoring_pages_are_accessible(analyst_browser, live_server, survey):
    browser = analyst_browser
    base = f"{live_server.url}/staff/surveys"
    for path, what in [("/", "the survey list"), (f"/{survey.id}", "the survey overview"),
                       (f"/{survey.id}/source", "the YAML editor"), (f"/{survey.id}/settings", "the settings"),
                       (f"/{survey.id}/questions/transport/edit", "the question form"),
                       (f"/{survey.id}/pages/vardag/edit", "the page form"), ("/new", "the new survey form")]:
        browser.get(base + path)
        assert_accessible(browser, what)
    browser.get(f"{base}/{survey.id}/questions/transport/edit")
    browser.find_element(By.ID, "text_sv").clear()
    with next_page(browser):
        browser.find_element(By.CSS_SELECTOR, "form[novalidate] button[type=submit].button").click()
    main = browser.find_element(By.TAG_NAME, "main").text
    assert 'fältet "text" saknar text på svenska' in main, main[:500]
    assert_accessible(browser, "the question form with errors")
