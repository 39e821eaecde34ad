"""Hostile input, case by case (issue 6): open redirects, enumeration, CSRF, header injection
in mail (checked on what a real SMTP server receives), oversized bodies, zip bombs and path
tricks in uploads, role escalation by changing ids or cookies, tampered links, reflected
markup. Every case asserts the safe behaviour, and none may answer with a server error.

Hostile values in every form field are in test_hostile_values.py, rate limits in
test_rate_limits.py, the route × role matrix in test_route_matrix.py.
"""

from __future__ import annotations

import io
import re
import secrets
import zipfile
from urllib.parse import urlsplit

import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from panel.members import terms
from panel.models import Member, MemberToken, OutboxMessage, StaffUser
from panel.models.member import MemberStatus, TokenPurpose
from surveys.answering.models import AnswerDraft
from tests.factories import PASSWORD, make_member
from tests.panel.members.support import deliver, link_to
from tests.security.conftest import add_staff, csrf_of, log_in_member
from tests.surveys.answering.builders import EXAMPLE, TWO_PAGES, invite, make_survey, start, token_on

XSS = '<script>alert("xss")</script>'


def body(response) -> str:
    return response.get_data(as_text=True)


def sign_up_data(client, district_id, **fields):
    data = {"email": "ny@example.se", "birth_year": "1985", "gender": "kvinna", "district": str(district_id),
            "language": "sv", "accept_terms": "y", "terms_version": terms.CURRENT,
            "csrf_token": csrf_of(client, "/panel/join")}
    data.update(fields)
    return data


# ---------------------------------------------------------------- open redirect via next


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "///evil.example/", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "http:/evil.example", " //evil.example", "/%2F%2Fevil.example",
    "\t//evil.example", "https:evil.example", "/\t/evil.example", "/\n/evil.example", "/\r/evil.example",
    "/ /evil.example",
])
def test_login_never_redirects_off_site(app, client, session, target):
    user = add_staff(session, "analyst")
    session.commit()
    response = client.post("/staff/login", query_string={"next": target},
                           data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(client)})
    assert response.status_code == 302
    location = response.headers["Location"]
    # what a browser follows: it drops tabs and line breaks and reads a backslash as a slash
    followed = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
    assert followed.startswith("/") and not followed.startswith("//"), location
    assert urlsplit(followed).netloc == ""


def test_login_follows_a_local_next(client, session):
    user = add_staff(session, "analyst")
    session.commit()
    response = client.post("/staff/login", query_string={"next": "/staff/surveys/"},
                           data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(client)})
    assert response.headers["Location"] == "/staff/surveys/"


# ---------------------------------------------------------------- enumeration


def test_magic_link_request_looks_the_same_for_members_and_strangers(client, session):
    make_member(session, email="finns@example.se")
    session.commit()
    answers = []
    for email in ("finns@example.se", "finns-inte@example.se"):
        response = client.post("/panel/me", data={"email": email, "csrf_token": csrf_of(client, "/panel/me")})
        answers.append((response.status_code, response.headers.get("Location"), body(client.get("/panel/me/sent"))))
    assert answers[0] == answers[1]


def test_sign_up_looks_the_same_for_a_new_and_a_taken_address(client, session):
    home = make_member(session, email="redan@example.se").district_id
    session.commit()
    taken = client.post("/panel/join", data=sign_up_data(client, home, email="redan@example.se"))
    new = client.post("/panel/join", data=sign_up_data(client, home, email="helt.ny@example.se"))
    assert (taken.status_code, taken.headers.get("Location")) == (new.status_code, new.headers.get("Location"))


def test_staff_login_says_the_same_for_unknown_account_and_wrong_password(client, session):
    user = add_staff(session, "admin")
    session.commit()
    pages = []
    for email in (user.email, "ingen@kommun.test"):
        response = client.post("/staff/login", data={"email": email, "password": "fel lösenord 123",
                                                     "csrf_token": csrf_of(client)})
        pages.append((response.status_code, re.sub(r'value="[^"]*"', "", body(response))))
    assert pages[0] == pages[1]


def test_email_change_to_a_taken_address_is_not_told_to_the_asker(app, clients, session, smtp_server):
    make_member(session, email="upptagen@example.se")
    session.commit()
    resident = clients["resident"]
    answers = []
    for email in ("upptagen@example.se", "ledig@example.se"):
        response = resident.post("/panel/me/email", data={"email-email": email,
                                                          "email-csrf_token": csrf_of(resident, "/panel/me/profile")})
        answers.append((response.status_code, response.headers.get("Location")))
    assert answers[0] == answers[1] == (302, "/panel/me/profile")


# ---------------------------------------------------------------- CSRF beyond the matrix


def test_csrf_token_of_another_session_is_refused(app, client, session):
    user = add_staff(session, "admin")
    session.commit()
    other = app.test_client()
    response = client.post("/staff/login", data={"email": user.email, "password": PASSWORD,
                                                 "csrf_token": csrf_of(other)})
    assert response.status_code == 400
    with client.session_transaction() as cookie:
        assert "_user_id" not in cookie


def test_survey_start_without_csrf_token_starts_nothing(client, session):
    survey = make_survey(session, TWO_PAGES)
    _invitation, token = invite(session, survey)
    session.commit()
    client.get(f"/s/{token}")
    response = client.post(f"/s/{token}", data={"language": "sv"})
    assert response.status_code == 400
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AnswerDraft)) == 0


def test_answer_page_without_csrf_token_saves_nothing_but_keeps_what_was_typed(client, session):
    survey = make_survey(session, TWO_PAGES)
    _invitation, token = invite(session, survey)
    session.commit()
    first = start(client, token)
    response = client.post(first, data={"farg": "rod", "namn": "Kvarhållen", "nav": "next"})
    assert response.status_code == 400 and "Kvarhållen" in body(response)
    session.expire_all()
    assert all(not draft.answers for draft in session.scalars(select(AnswerDraft)))


def test_a_cross_site_get_changes_nothing(app, client, session):
    """GET never confirms a sign-up, logs in, or unsubscribes (mail scanners and <img> tags fetch links)."""
    member = make_member(session, status=MemberStatus.PENDING, email="vantar@example.se")
    from datetime import timedelta

    from panel.db import utcnow
    from panel.members import tokens

    with app.test_request_context():
        token = tokens.issue(session, member, TokenPurpose.CONFIRM, timedelta(hours=1), now=utcnow())
    session.commit()
    assert client.get(f"/panel/confirm/{token}").status_code == 200
    session.expire_all()
    assert session.get(Member, member.id).status == MemberStatus.PENDING
    with client.session_transaction() as cookie:
        assert "member" not in cookie


def test_one_click_unsubscribe_needs_the_rfc_8058_body(app, client, session):
    member = make_member(session)
    session.commit()
    from panel.members.tokens import unsubscribe_token

    with app.test_request_context():
        token = unsubscribe_token(member)
    assert client.post(f"/panel/unsubscribe/{token}", data={}).status_code == 400
    assert client.post(f"/panel/unsubscribe/{token}", data={"List-Unsubscribe": "Yes"}).status_code == 400
    session.expire_all()
    assert session.get(Member, member.id).unsubscribed_at is None if hasattr(Member, "unsubscribed_at") else True
    assert client.post(f"/panel/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200


# ---------------------------------------------------------------- mail: header injection, Host header


@pytest.mark.parametrize("email", [
    "a@example.se\r\nBcc: evil@example.com",
    "a@example.se\nCc: evil@example.com",
    "a@example.se%0D%0ABcc:evil@example.com",
    '"x\r\nBcc: evil@example.com" <a@example.se>',
    "a@example.se, evil@example.com",
])
def test_header_injection_in_the_sign_up_address_is_refused(app, client, session, smtp_server, email):
    district = make_member(session).district_id
    session.commit()
    before = session.scalar(select(func.count(OutboxMessage.id)))
    response = client.post("/panel/join", data=sign_up_data(client, district, email=email))
    assert response.status_code == 400
    deliver(app)
    session.expire_all()
    assert session.scalar(select(func.count(OutboxMessage.id))) == before
    assert not any("evil@example.com" in rcpt for _sender, rcpts in smtp_server.handler.envelopes for rcpt in rcpts)


def test_markup_and_line_breaks_in_a_survey_title_reach_no_mail_header(app, session, smtp_server):
    """The analyst's survey title goes into the invitation's subject and body: a line break
    there must not add a header (Bcc) and markup must be escaped in the HTML part."""
    from tests.surveys.fielding.support import configure, send_now
    from tests.surveys.fielding.support import make_survey as import_survey

    member = make_member(session, email="mottagare@example.se")
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "title:\n  sv: Trygghet och service i kommunen",
        f"title:\n  sv: \"Hej\\r\\nBcc: evil@example.com <script>alert(1)</script>\"", 1)
    assert "evil@example.com" in text
    with app.test_request_context():
        survey = import_survey(session, text)
        configure(session, survey)
    session.commit()
    send_now(app, survey.id)
    deliver(app)
    messages = smtp_server.to(member.email)
    assert messages, "the invitation did not arrive"
    message = messages[-1]
    assert "Bcc: evil@example.com" in message.as_string(), "the hostile title did not reach the email"
    assert message["Bcc"] is None and message["Cc"] is None
    assert all(rcpts == [member.email] for _sender, rcpts in smtp_server.handler.envelopes)
    html = message.get_body(("html",)).get_content()
    assert "<script>alert(" not in html


def test_links_in_mail_come_from_the_base_url_never_the_host_header(app, client, session, smtp_server):
    make_member(session, email="finns@example.se")
    session.commit()
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    token = token_on(body(client.get("/panel/me", headers=evil)))
    response = client.post("/panel/me", data={"email": "finns@example.se", "csrf_token": token}, headers=evil)
    assert response.status_code == 302
    deliver(app)
    message = smtp_server.to("finns@example.se")[-1]
    assert link_to(message, "/panel/me/")
    assert "evil.example" not in message.as_string()


# ---------------------------------------------------------------- oversized bodies


BIG = 6 * 1024 * 1024


@pytest.mark.parametrize("who,path", [
    ("anonymous", "/panel/join"), ("anonymous", "/panel/me"), ("anonymous", "/join"),
    ("anonymous", "/staff/login"), ("admin", "/staff/districts/import"), ("analyst", "/staff/surveys/new"),
    ("analyst", "/staff/recruitment/new"), ("analyst", "/staff/population/"),
])
def test_oversized_body_gets_413(clients, who, path):
    client = clients[who]
    token = csrf_of(client, path)
    response = client.post(path, data={"csrf_token": token, "file": (io.BytesIO(b"a" * BIG), "stor.csv"),
                                       "sample": (io.BytesIO(b"a" * BIG), "stor.csv"),
                                       "population": (io.BytesIO(b"a" * BIG), "stor.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert "för stort" in body(response)


def test_oversized_survey_start_and_answer_get_413(client, session):
    survey = make_survey(session, TWO_PAGES)
    _invitation, token = invite(session, survey)
    session.commit()
    assert client.post(f"/s/{token}", data={"language": "x" * 10_000}).status_code == 413
    first = start(client, token)
    csrf = token_on(body(client.get(first)))
    assert client.post(first, data={"csrf_token": csrf, "farg": "rod", "namn": "x" * BIG}).status_code == 413
    many = {f"f{i}": "1" for i in range(5000)}
    assert client.post(first, data={"csrf_token": csrf, **many}).status_code == 413


# ---------------------------------------------------------------- zip files, zip bombs, file names


def zip_bomb() -> bytes:
    """A 64 KB zip that unpacks to 200 MB of zeros (an XLSX is a zip, so it starts the same)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(200):
                member.write(chunk)
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return zip_bomb()


@pytest.mark.parametrize("who,path,field,extra", [
    ("admin", "/staff/districts/import", "file", {"kind": "districts"}),
    ("analyst", "/staff/recruitment/new", "sample", {"name": "Våren"}),
    ("analyst", "/staff/population/", "population", {"name": "SCB"}),
    ("analyst", "/staff/surveys/new", "file", {"title": "Import"}),
])
def test_zip_bombs_are_refused_without_unpacking(clients, bomb, who, path, field, extra):
    client = clients[who]
    for filename in ("befolkning.xlsx", "befolkning.zip", "befolkning.csv"):
        response = client.post(path, data={"csrf_token": csrf_of(client, path), **extra,
                                           field: (io.BytesIO(bomb), filename)},
                               content_type="multipart/form-data")
        assert response.status_code == 400, (path, filename, response.status_code)
        assert "alert(" not in body(response)


DISTRICTS_CSV = "code;name\n0001;Norr\n0002;Söder\n".encode()


@pytest.mark.parametrize("filename", [
    "../../../../etc/passwd", "..\\..\\windows\\win.ini", "omraden\x00.csv", "x" * 10_000 + ".csv",
    f"{XSS}.csv", "/absolut/omraden.csv", "",
])
def test_path_tricks_in_file_names_change_nothing_but_the_name(app, clients, session, tmp_path, filename):
    client = clients["admin"]
    response = client.post("/staff/districts/import",
                           data={"csrf_token": csrf_of(client, "/staff/districts/import"), "kind": "districts",
                                 "file": (io.BytesIO(DISTRICTS_CSV), filename)},
                           content_type="multipart/form-data")
    assert response.status_code in (200, 302, 400)
    assert "<script>alert(" not in body(response)
    page = body(client.get("/staff/districts/"))
    assert "<script>alert(" not in page
    import os

    assert not os.path.exists("/etc/passwd.csv")


@pytest.mark.parametrize("filename", ["../../befolkning.csv", "b\x00.csv", "y" * 10_000 + ".csv", f"{XSS}.px"])
def test_path_tricks_in_population_file_names(clients, filename):
    client = clients["analyst"]
    response = client.post("/staff/population/",
                           data={"csrf_token": csrf_of(client, "/staff/population/"), "name": "SCB",
                                 "population": (io.BytesIO(b"region;kon;alder;2025\n"), filename)},
                           content_type="multipart/form-data")
    assert response.status_code in (200, 302, 400)
    assert "<script>alert(" not in body(response)


# ---------------------------------------------------------------- role escalation


def test_analyst_cannot_make_themselves_admin(clients, session):
    analyst = clients["analyst"]
    me = clients.users["analyst"]
    response = analyst.post(f"/staff/users/{me.id}/role", data={"role": "admin", "csrf_token": csrf_of(analyst)})
    assert response.status_code == 403
    response = analyst.post("/staff/users", data={"name": "Ny", "email": "ny@kommun.test", "role": "admin",
                                                   "password": "ett långt lösenord", "csrf_token": csrf_of(analyst)})
    assert response.status_code == 403
    session.expire_all()
    assert session.get(StaffUser, me.id).role == "analyst"
    assert session.scalar(select(StaffUser).where(StaffUser.email == "ny@kommun.test")) is None


def test_an_unknown_role_is_refused(clients, session):
    admin = clients["admin"]
    target = clients.users["committee"]
    admin.post(f"/staff/users/{target.id}/role", data={"role": "superuser", "csrf_token": csrf_of(admin, "/staff/users")})
    session.expire_all()
    assert session.get(StaffUser, target.id).role == "committee"


def forged(app, data: dict, secret: str = "not-the-secret") -> str:
    """A session cookie with ``data``, signed with another key (what an attacker can make)."""
    other = app.__class__(app.import_name)
    other.secret_key = secret
    return SecureCookieSessionInterface().get_signing_serializer(other).dumps(data)


@pytest.mark.parametrize("data", [
    {"_user_id": "1:1", "_fresh": True},  # the first staff account
    {"member": {"id": 1, "created": 0, "until": 9_999_999_999}},
    {"respondent": {"invitation": 1, "survey": 1, "language": "sv"}},
])
def test_cookies_signed_with_another_key_give_nothing(app, clients, session, data):
    client = app.test_client()
    client.set_cookie("session", forged(app, data), domain="localhost")
    staff = client.get("/staff/users")
    assert staff.status_code == 302 and staff.headers["Location"].startswith("/staff/login")
    me = client.get("/panel/me/profile")
    assert me.status_code == 302 and me.headers["Location"].startswith("/panel/me")
    assert client.get("/s/answer").status_code == 403


def test_a_tampered_session_cookie_is_ignored(app, clients):
    resident = clients["resident"]
    cookie = resident.get_cookie("session")
    value = cookie.value
    tampered = value[:-3] + ("AAA" if value[-3:] != "AAA" else "BBB")
    resident.set_cookie("session", tampered, domain=cookie.domain or "localhost")
    response = resident.get("/panel/me/profile")
    assert response.status_code == 302 and response.headers["Location"].startswith("/panel/me")


def test_resident_a_never_sees_resident_b(app, clients, session):
    other = make_member(session, email="boende.b@example.se")
    session.commit()
    resident = clients["resident"]
    export = resident.get("/panel/me/export.json")
    assert export.status_code == 200
    assert "boende.a@example.se" in body(export) and "boende.b@example.se" not in body(export)
    # ids in query strings or forms are ignored: the member is the session's
    for query in ({"member_id": other.id}, {"id": other.id}):
        assert "boende.b@example.se" not in body(resident.get("/panel/me/profile", query_string=query))
        assert "boende.b@example.se" not in body(resident.get("/panel/me/export.json", query_string=query))


def test_a_member_id_reused_after_leaving_logs_nobody_in(app, session):
    """A session names id and creation time: a new member with the old id is not the old session's."""
    member = make_member(session, email="gammal@example.se")
    session.commit()
    client = app.test_client()
    log_in_member(client, member)
    with client.session_transaction() as cookie:
        cookie["member"] = {**cookie["member"], "created": cookie["member"]["created"] + 1}
    response = client.get("/panel/me/profile")
    assert response.status_code == 302


def test_a_profile_cannot_point_at_a_district_that_does_not_exist(clients, session):
    resident = clients["resident"]
    page = body(resident.get("/panel/me/profile"))
    response = resident.post("/panel/me/profile", data={
        "csrf_token": token_on(page), "birth_year": "1980", "gender": "kvinna", "district": "999999",
        "language": "sv"})
    assert response.status_code == 400
    session.expire_all()
    assert session.get(Member, clients.member.id).district_id == clients.member.district_id


@pytest.mark.parametrize("used_at,purpose", [
    ("/panel/confirm/", TokenPurpose.MANAGE), ("/panel/me/", TokenPurpose.CONFIRM),
    ("/panel/email/", TokenPurpose.MANAGE), ("/panel/me/", TokenPurpose.EMAIL),
])
def test_a_link_works_only_for_its_own_purpose(app, client, session, used_at, purpose):
    from datetime import timedelta

    from panel.db import utcnow
    from panel.members import tokens

    member = make_member(session)
    with app.test_request_context():
        token = tokens.issue(session, member, purpose, timedelta(hours=1), now=utcnow(), email="ny@example.se")
    session.commit()
    assert client.get(used_at + token).status_code == 404
    response = client.post(used_at + token, data={"csrf_token": csrf_of(client, "/panel/me")})
    assert response.status_code == 404
    with client.session_transaction() as cookie:
        assert "member" not in cookie
    session.expire_all()
    assert session.scalar(select(MemberToken.used_at).where(MemberToken.member_id == member.id)) is None


def test_an_unsubscribe_token_for_one_member_cannot_be_edited_into_another(app, client, session):
    a, b = make_member(session), make_member(session)
    session.commit()
    from panel.members.tokens import unsubscribe_token

    with app.test_request_context():
        token = unsubscribe_token(a)
    payload, _dot, signature = token.rpartition(".")
    import base64
    import json

    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data[0] = b.id
    edited = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=") + "." + signature
    assert client.get(f"/panel/unsubscribe/{edited}").status_code == 404
    assert client.post(f"/panel/unsubscribe/{edited}", data={"List-Unsubscribe": "One-Click"}).status_code == 404


def test_one_respondent_cannot_answer_as_another(app, session):
    """The respondent session is tied to its invitation: changing the survey id it names ends it."""
    survey = make_survey(session, TWO_PAGES)
    other = make_survey(session, TWO_PAGES)
    _mine, token = invite(session, survey)
    theirs, _token = invite(session, other)
    session.commit()
    client = app.test_client()
    start(client, token)
    with client.session_transaction() as cookie:
        cookie["respondent"] = {**cookie["respondent"], "invitation": theirs.id}
    assert client.get("/s/answer").status_code in (403, 404)


# ---------------------------------------------------------------- reflected input, odd requests


@pytest.mark.parametrize("path", [
    f"/?lang={XSS}", f"/panel/join?lang={XSS}", f"/staff/login?next={XSS}", f"/{XSS}",
    f"/panel/terms/{XSS}", f"/panel/me/{XSS}", f"/s/{XSS}", f"/panel/confirm/{XSS}",
    "/panel/me/%ff%fe", "/s/%ff%fe%00", "/?lang=%ff", "/" + "a" * 10_000,
])
def test_reflected_markup_and_odd_urls(client, path):
    response = client.get(path)
    assert response.status_code < 500
    assert "<script>alert(" not in body(response)


def test_survey_language_parameter_is_not_reflected(client, session):
    survey = make_survey(session, TWO_PAGES)
    _invitation, token = invite(session, survey)
    session.commit()
    response = client.get(f"/s/{token}", query_string={"language": XSS})
    assert response.status_code == 200 and "<script>alert(" not in body(response)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE"])
def test_other_methods_get_405(client, method):
    assert client.open("/panel/join", method=method).status_code == 405


def test_json_and_wrong_content_types_are_refused_cleanly(client):
    assert client.post("/panel/join", json={"email": "a@example.se"}).status_code == 400
    assert client.post("/panel/me", data=b"\xff\xfe\x00", content_type="text/plain").status_code == 400
    response = client.post("/panel/me", data=b"--x\r\nbroken", content_type="multipart/form-data; boundary=x")
    assert response.status_code == 400


def test_duplicated_fields_do_not_confuse_the_sign_up(client, session):
    district = make_member(session).district_id
    session.commit()
    data = sign_up_data(client, district)
    pairs = MultiDict(list(data.items()) + [("email", "andra@example.se"), ("district", "999999")])
    response = client.post("/panel/join", data=pairs)
    assert response.status_code in (302, 400)


# ---------------------------------------------------------------- answers: stored and shown back escaped


@pytest.mark.parametrize("value", [XSS, "ab\x00cd", "x" * 10_000, "' OR 1=1; --", "\ud800"[:0] + "\u202eevil"])
def test_hostile_answers_are_refused_or_kept_as_text(client, session, value):
    survey = make_survey(session, TWO_PAGES)
    _invitation, token = invite(session, survey)
    session.commit()
    first = start(client, token)
    csrf = token_on(body(client.get(first)))
    response = client.post(first, data={"csrf_token": csrf, "farg": "rod", "namn": value, "nav": "next"})
    assert response.status_code in (302, 400, 413)
    assert "<script>alert(" not in body(response)
    again = client.get(first)
    assert again.status_code == 200 and "<script>alert(" not in body(again)


@pytest.mark.parametrize("choice", [XSS, "rod' OR '1'='1", "\x00", "x" * 5000])
def test_a_choice_that_was_not_offered_is_refused(client, session, choice):
    survey = make_survey(session, TWO_PAGES)
    _invitation, token = invite(session, survey)
    session.commit()
    first = start(client, token)
    csrf = token_on(body(client.get(first)))
    response = client.post(first, data={"csrf_token": csrf, "farg": choice, "nav": "next"})
    assert response.status_code in (400, 413)
    assert "<script>alert(" not in body(response)
