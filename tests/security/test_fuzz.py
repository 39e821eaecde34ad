"""Fuzzing the public forms and the token endpoints with hypothesis (issue 6): zero server errors.

Derandomized (the same examples on every run, so CI is repeatable) and bounded: each test
tries EXAMPLES inputs against one application and database. The forms get a valid CSRF
token, so what is fuzzed reaches the form's validation and the services behind it; the
rate limits are lifted so that they do not hide anything.
"""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panel.members import terms
from tests.factories import make_district, make_member
from tests.security.conftest import csrf_of
from tests.surveys.answering.builders import TWO_PAGES, invite, make_survey, start, token_on

EXAMPLES = 40
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SPECIAL = st.sampled_from([
    "", " ", "\x00", "\r\nBcc: x@example.com", "<script>alert(1)</script>", "' OR 1=1 --", "%00", "../../etc",
    "\ufeff", "\u202e", "x" * 5000, "1985", "kvinna", "sv", "y", "ACDE-3479", "a@example.se", "9" * 40, "-1",
    "NaN", "1e309", "٣٤", "𝟙𝟡𝟠𝟝",
])
TEXT = st.one_of(SPECIAL, st.text(st.characters(exclude_categories=("Cs",)), max_size=200))
FIELDS = st.dictionaries(st.sampled_from(["email", "birth_year", "gender", "district", "postcode", "language",
                                          "accept_terms", "terms_version", "code", "nav", "farg", "namn",
                                          "tycker", "List-Unsubscribe", "x", "csrf_token"]),
                         TEXT, max_size=8)
TOKEN = st.one_of(SPECIAL, st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=120),
                  st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=20,
                          max_size=100))


@pytest.fixture
def fuzz_app(app, session):
    for key in ("PANEL_LOGIN_MAX_FAILURES", "PANEL_CODE_MAX_FAILURES", "SURVEY_LINK_MAX_FAILURES",
                "PANEL_SIGNUP_MAX", "PANEL_LINK_REQUEST_MAX", "PANEL_BAD_LINK_MAX"):
        app.config[key] = 10**9
    district = make_district(session)
    make_member(session, district=district, email="finns@example.se")
    session.commit()
    app.district_id = district.id
    return app


def no_server_error(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"


def path_with(prefix: str, token: str) -> str:
    return prefix + urllib.parse.quote(token, safe="")


@pytest.mark.parametrize("path", ["/panel/join", "/panel/me", "/join"])
def test_fuzz_public_forms(fuzz_app, path):
    client = fuzz_app.test_client()
    token = csrf_of(client, path)
    base = {"email": "ny@example.se", "birth_year": "1985", "gender": "kvinna", "district": str(fuzz_app.district_id),
            "language": "sv", "accept_terms": "y", "terms_version": terms.CURRENT, "code": "ACDE-3479"}

    @FUZZ
    @given(fields=FIELDS)
    def run(fields):
        data = {**base, "csrf_token": token, **fields}
        no_server_error(client.post(path, data=data), f"POST {path} {fields!r}")

    run()


@pytest.mark.parametrize("prefix", ["/s/", "/panel/confirm/", "/panel/me/", "/panel/email/", "/panel/unsubscribe/"])
def test_fuzz_token_endpoints(fuzz_app, prefix):
    client = fuzz_app.test_client()
    csrf = csrf_of(client, "/panel/me")

    @FUZZ
    @given(token=TOKEN, fields=FIELDS)
    def run(token, fields):
        path = path_with(prefix, token)
        no_server_error(client.get(path), f"GET {path}")
        no_server_error(client.post(path, data={"csrf_token": csrf, **fields}), f"POST {path} {fields!r}")

    run()


def test_fuzz_the_join_details_after_a_real_code(fuzz_app, session):
    """/join/details is reached only with an accepted code: fuzz it from there."""
    from tests.panel.recruitment.conftest import SAMPLE
    from tests.panel.recruitment.helpers import make_wave

    from sqlalchemy import select

    from panel.models import RecruitmentInvite

    make_district(session, code="01", name="Visby")
    make_district(session, code="02", name="Slite")
    session.commit()
    wave = make_wave(fuzz_app, session, SAMPLE.replace(";Slite;", ";02;"))
    code = session.scalar(select(RecruitmentInvite.code).where(RecruitmentInvite.wave_id == wave.id).limit(1))
    session.commit()
    client = fuzz_app.test_client()
    response = client.post("/join", data={"code": code, "csrf_token": csrf_of(client, "/join")})
    assert response.status_code == 302 and response.headers["Location"] == "/join/details"
    token = csrf_of(client, "/join/details")

    @FUZZ
    @given(fields=FIELDS)
    def run(fields):
        no_server_error(client.post("/join/details", data={"csrf_token": token, **fields}), f"{fields!r}")

    run()


def test_fuzz_the_answering_pages(fuzz_app, session):
    survey = make_survey(session, TWO_PAGES)
    _invitation, link = invite(session, survey)
    session.commit()
    client = fuzz_app.test_client()
    first = start(client, link)
    csrf = token_on(client.get(first).get_data(as_text=True))

    @FUZZ
    @given(fields=FIELDS, page=st.sampled_from([first, "/s/answer/p2", "/s/answer/finns-inte", "/s/answer/%00"]))
    def run(fields, page):
        no_server_error(client.post(page, data={"csrf_token": csrf, **fields}), f"POST {page} {fields!r}")
        no_server_error(client.get(page), f"GET {page}")

    run()
    no_server_error(client.get("/s/thanks"), "thanks")
