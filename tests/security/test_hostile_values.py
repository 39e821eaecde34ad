"""Hostile values in every text field of every form (issue 6): NUL bytes, 10,000 characters,
invalid UTF-8, markup (XSS), SQL, and line breaks that would add mail headers.

Each case is one page × one kind of value: every POST form on the page is read, and each of
its text fields in turn gets the value while the others keep what the page offered. The
answer is never a server error, and markup comes back escaped, both at once (reflected)
and on the pages that list what was stored (stored XSS).
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import inspect, text

from tests.security.forms import forms_on, submit
from tests.surveys.answering.builders import TWO_PAGES, make_survey

XSS = '<script>alert("xss")</script>"><svg onload=alert(1)>'
PAYLOADS = {
    "nul": "ab\x00cd",
    "long": "x" * 10_000,
    "invalid-utf8": b"\xff\xfe\xc3(",
    "xss": XSS,
    "sql": "' OR '1'='1'; DROP TABLE member; --",
    "crlf": "a@example.se\r\nBcc: evil@example.com",
}
RAW_MARKUP = ("<script>alert(", "<svg onload")
_numbers = itertools.count(1)


def plausible(name: str) -> str | None:
    """A valid value for an empty field, so that the form gets as far as storing the hostile one."""
    n = next(_numbers)
    last = name.split("-")[-1]
    return {"email": f"person{n}@example.se", "password": "ett långt lösenord 123", "name": f"Namn {n}",
            "code": f"K{n:04d}", "birth_year": "1985", "title": f"Titel {n}", "internal_title": f"Titel {n}",
            "key": f"nyckel{n}", "text_sv": "Fråga?", "text_en": "Question?", "title_sv": "Rubrik",
            "title_en": "Title", "period": "", "region": ""}.get(last)

# (who, page); {survey} and {district} are filled in
PAGES = [
    ("anonymous", "/staff/login"),
    ("anonymous", "/panel/join"),
    ("anonymous", "/panel/me"),
    ("anonymous", "/join"),
    ("resident", "/panel/me/profile"),
    ("admin", "/staff/users"),
    ("admin", "/staff/districts/"),
    ("admin", "/staff/districts/{district}"),
    ("analyst", "/staff/recruitment/new"),
    ("analyst", "/staff/surveys/new"),
    ("analyst", "/staff/surveys/{survey}/source"),
    ("analyst", "/staff/surveys/{survey}/settings"),
    ("analyst", "/staff/surveys/{survey}/questions/new"),
    ("analyst", "/staff/surveys/{survey}/questions/farg/edit"),
    ("analyst", "/staff/surveys/{survey}/pages/new"),
    ("analyst", "/staff/surveys/{survey}/fielding/target"),
    ("analyst", "/staff/population/"),
    ("analyst", "/staff/surveys/{closed}/export"),
    ("analyst", "/staff/surveys/{closed}/report/settings"),
]
# pages that show what was stored
LISTINGS = ["/staff/users", "/staff/districts/", "/staff/recruitment/", "/staff/surveys/", "/staff/population/",
            "/staff/", "/staff/mail"]


def assert_escaped(body: str, where: str) -> None:
    for raw in RAW_MARKUP:
        assert raw not in body, f"unescaped markup on {where}"


@pytest.mark.parametrize("payload", list(PAYLOADS))
@pytest.mark.parametrize("who,page", PAGES, ids=[f"{who}:{page}" for who, page in PAGES])
def test_hostile_value_in_every_field(app, clients, session, who, page, payload):
    survey = make_survey(session, TWO_PAGES, status="draft")
    survey_id = survey.id
    closed_id = make_survey(session, TWO_PAGES, status="closed").id
    session.commit()
    url = page.format(survey=survey_id, closed=closed_id, district=inspect(clients.member).identity[0])
    client = clients[who]
    shown = client.get(url)
    assert shown.status_code == 200, (url, shown.status_code)
    forms = [form for form in forms_on(shown.get_data(as_text=True), url) if form.text_fields or form.choices]
    assert forms, f"no form on {url}"
    value = PAYLOADS[payload]
    tried = 0
    for form in forms:
        filled = {field: plausible(field) for field, shown_value in form.fields if not shown_value}
        filled = {field: v for field, v in filled.items() if v is not None}
        # text fields; a form of only choices (radio buttons, lists) gets the value as a choice
        for name in form.text_fields or list(form.choices):
            clients.log_in_again(who)
            response = submit(client, form, {**filled, name: value})
            tried += 1
            assert response.status_code < 500, f"{payload} in {name} on {url}: {response.status_code}"
            assert response.status_code != 200 or payload not in ("nul", "invalid-utf8") or \
                "\x00" not in response.get_data(as_text=True)
            assert_escaped(response.get_data(as_text=True), f"{url} after {payload} in {name}")
    assert tried
    if payload == "xss":
        for listing in LISTINGS:
            assert_escaped(clients["admin"].get(listing).get_data(as_text=True), listing)
    # the database took no harm (the SQL payload is data, never code)
    with app.app_context():
        from panel.extensions import db

        assert db.session.execute(text("SELECT count(*) FROM member")).scalar() >= 1
