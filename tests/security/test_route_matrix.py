"""Route × role matrix (issue 5): who may reach every route of the application.

The test walks ``app.url_map``, so a route added anywhere is included at once, and it
FAILS for an endpoint missing from ACCESS below: whoever adds a route decides here who
may reach it. Each class says what anonymous visitors, a resident logged in by magic
link, and the three staff roles get, for every method of the route:

- public      anyone (no login page, no 403)
- resident    a resident's own pages (the member comes from the signed session, never the URL);
              everyone else is sent to ask for a magic link
- respondent  survey pages after the start button; without a respondent session: 403
- committee   staff reading (committee, analyst, admin); others to the staff login
- analyst     analysts and admins; committee members get 403
- admin       admins only; analysts and committee members get 403

Every POST needs a CSRF token (CSRF_EXEMPT names the exceptions and why).
"""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from werkzeug.routing import IntegerConverter

from panel.members import terms
from panel.models import OutboxMessage, RecruitmentWave
from tests.security.conftest import csrf_of
from tests.surveys.answering.builders import TWO_PAGES, make_survey

PUBLIC, RESIDENT, RESPONDENT = "public", "resident", "respondent"
COMMITTEE, ANALYST, ADMIN = "committee", "analyst", "admin"

ACCESS: dict[str, str] = {
    # web
    "static": PUBLIC,
    "health": PUBLIC,
    # residents (panel/members)
    "members.home": PUBLIC,
    "members.terms": PUBLIC,
    "members.terms_version": PUBLIC,
    "members.join": PUBLIC,
    "members.join_sent": PUBLIC,
    "members.confirm": PUBLIC,
    "members.request_link": PUBLIC,
    "members.link_sent": PUBLIC,
    "members.open_link": PUBLIC,
    "members.confirm_email": PUBLIC,
    "members.unsubscribe": PUBLIC,
    "members.left": PUBLIC,
    "members.logout": PUBLIC,
    "members.profile": RESIDENT,
    "members.change_email": RESIDENT,
    "members.pause": RESIDENT,
    "members.unpause": RESIDENT,
    "members.resubscribe": RESIDENT,
    "members.export": RESIDENT,
    "members.leave": RESIDENT,
    # recruitment: /join for residents, waves for analysts
    "recruitment.join": PUBLIC,
    "recruitment.join_details": PUBLIC,
    "recruitment.index": ANALYST,
    "recruitment.new_wave": ANALYST,
    "recruitment.wave": ANALYST,
    "recruitment.change_status": ANALYST,
    "recruitment.letters_csv": ANALYST,
    "recruitment.letters_pdf": ANALYST,
    # answering
    "answering.landing": PUBLIC,
    "answering.resume": RESPONDENT,
    "answering.page": RESPONDENT,
    "answering.thanks": RESPONDENT,
    # staff
    "accounts.login": PUBLIC,
    "accounts.logout": COMMITTEE,
    "accounts.users": ADMIN,
    "accounts.change_role": ADMIN,
    "overview.index": COMMITTEE,
    "districts.index": ADMIN,
    "districts.edit": ADMIN,
    "districts.delete": ADMIN,
    "districts.import_file": ADMIN,
    "mail.index": ANALYST,
    "mail.retry": ANALYST,
    "mail.retry_all": ANALYST,
    "authoring.index": ANALYST,
    "authoring.create": ANALYST,
    "authoring.show": ANALYST,
    "authoring.source": ANALYST,
    "authoring.settings": ANALYST,
    "authoring.new_question": ANALYST,
    "authoring.edit_question": ANALYST,
    "authoring.edit_page": ANALYST,
    "authoring.move_question": ANALYST,
    "authoring.move_page": ANALYST,
    "authoring.delete_question": ANALYST,
    "authoring.delete_page": ANALYST,
    "authoring.copy": ANALYST,
    "authoring.export": ANALYST,
    "authoring.preview": ANALYST,
    "fielding.show": ANALYST,
    "fielding.target": ANALYST,
    "fielding.preview": ANALYST,
    "fielding.send": ANALYST,
    "fielding.remind": ANALYST,
    "fielding.schedule": ANALYST,
    "fielding.close": ANALYST,
    "fielding.stats": ANALYST,
    # population figures and panel health (issue 5)
    "population.index": ANALYST,
    "population.upload": ANALYST,
    "population.preview": ANALYST,
    "population.confirm": ANALYST,
    "population.cancel": ANALYST,
    "population.version": ANALYST,
    "population.use": ANALYST,
    "health.index": ANALYST,
    "health.planner": ANALYST,
    "health.draw_request": ANALYST,
    # exports: raw responses, analysts only (issue 5)
    "exports.index": ANALYST,
    "exports.download": ANALYST,
    "exports.codebook": ANALYST,
    # publication: analysts publish; committee members read published versions; anyone reads the public page
    "publication.staff": ANALYST,
    "publication.publish": ANALYST,
    "publication.free_text": ANALYST,
    "publication.decision": ANALYST,
    "publication.committee_index": COMMITTEE,
    "publication.committee_report": COMMITTEE,
    "publication.committee_print": COMMITTEE,
    "publication.committee_pdf": COMMITTEE,
    "publication.public_report": PUBLIC,
    # survey results (issue 5): analysts only
    "results.report": ANALYST,
    "results.report_json": ANALYST,
    "results.settings": ANALYST,
    "results.trend": ANALYST,
    # privacy and audit (issue 6)
    "privacy.audit_log": ADMIN,
    "privacy.dpo": ADMIN,
    "privacy.extract": ADMIN,
    "privacy.public": PUBLIC,
}

# POST endpoints that do not use the global CSRF check, and why.
CSRF_EXEMPT = {
    # RFC 8058 one-click: the mail provider POSTs "List-Unsubscribe=One-Click" without our form;
    # the signed token in the URL is the proof (tested in test_hostile_input).
    "members.unsubscribe",
    # The answering pages check the token through their forms (after setting the body limit):
    # a POST without it gets 400 with the typed answers kept (tested in test_hostile_input).
    "answering.landing",
    "answering.page",
    # The sign-up and profile forms check the token themselves: a POST without it gets 400 with
    # what was typed kept and "the form had expired" (tests/panel/members/test_expired_form.py).
    "members.join",
    "members.profile",
    "members.change_email",
    # The sign-up step after a letter's code reuses the join form and checks its token the same way
    # (tests/panel/recruitment/test_expired_form.py).
    "recruitment.join_details",
}

ROLES = ("anonymous", "resident", "committee", "analyst", "admin")
ALLOWED = {
    PUBLIC: set(ROLES),
    RESIDENT: {"resident"},
    RESPONDENT: set(),
    COMMITTEE: {"committee", "analyst", "admin"},
    ANALYST: {"analyst", "admin"},
    ADMIN: {"admin"},
}


def rules(app):
    return sorted(app.url_map.iter_rules(), key=lambda rule: (rule.rule, rule.endpoint))


def test_every_endpoint_is_classified(app):
    missing = sorted({rule.endpoint for rule in rules(app)} - set(ACCESS))
    assert not missing, (
        "Decide who may reach these routes and add them to ACCESS in tests/security/test_route_matrix.py: "
        f"{missing}")


def test_every_classified_endpoint_still_exists(app):
    gone = sorted(set(ACCESS) - {rule.endpoint for rule in rules(app)})
    assert not gone, f"remove these from ACCESS, they are no longer routes: {gone}"


def test_resident_pages_take_no_ids_from_the_url(app):
    """Residents reach only their own data: the member comes from the signed session, never the URL,
    so changing a number in an address cannot show someone else's."""
    for rule in rules(app):
        if ACCESS.get(rule.endpoint) in (RESIDENT, RESPONDENT):
            ids = [name for name, converter in rule._converters.items()
                   if name.endswith("id") or isinstance(converter, IntegerConverter)]
            assert not ids, f"{rule.rule} takes {ids} from the URL"


@pytest.fixture
def things(session, clients):
    """Real rows for the ids in URLs, so that allowed roles reach real pages."""
    survey = make_survey(session, TWO_PAGES, status="draft")
    wave = RecruitmentWave(name="Våren", reply_by=date(2027, 1, 31))
    message = OutboxMessage(kind="confirm", to_address="x@example.se", subject="s", body_text="t", body_html="h",
                            status="failed")
    session.add_all([wave, message])
    session.flush()
    values = {
        "survey_id": survey.id, "wave_id": wave.id, "message_id": message.id,
        "district_id": clients.member.district_id, "user_id": clients.users["committee"].id,
        "key": "p1", "page_key": "p1", "direction": "down", "format": "yaml", "language": "sv",
        "version": terms.CURRENT, "filename": "panel.css", "token": secrets.token_urlsafe(32),
    }
    session.commit()
    return values


def url_for_rule(rule, values) -> str:
    args = {}
    for name, converter in rule._converters.items():
        integer = isinstance(converter, IntegerConverter)
        if name in values and isinstance(values[name], int) == integer:
            args[name] = values[name]
        elif integer:
            args[name] = 1
        elif type(converter).__name__ == "AnyConverter":
            args[name] = converter.items[0] if hasattr(converter, "items") else "x"
        else:
            args[name] = "x1"
    return rule.build(args, append_unknown=False)[1]


def outcome(response) -> str:
    location = response.headers.get("Location", "") if response.status_code in (301, 302, 303, 307, 308) else ""
    if response.status_code >= 500:
        return f"server error {response.status_code}"
    if response.status_code in (401, 403) or location.startswith("/staff/login?next=") or (
            location.startswith("/panel/me") and not location.startswith("/panel/me/")):
        return "denied"
    return "allowed"


def expected(access: str, role: str) -> str:
    return "allowed" if role in ALLOWED[access] else "denied"


def denial_is_the_right_one(access: str, role: str, response) -> bool:
    """Strangers to staff pages go to the staff login; staff without the role get 403;
    anyone without a resident session goes to ask for a magic link."""
    location = response.headers.get("Location", "")
    if access == RESIDENT:
        return response.status_code == 302 and location.startswith("/panel/me")
    if access == RESPONDENT:
        return response.status_code == 403
    if role in ("anonymous", "resident"):
        return response.status_code == 302 and location.startswith("/staff/login?next=")
    return response.status_code == 403


def test_route_role_matrix(app, clients, things):
    """For every route and method: each kind of user is let in or turned away as ACCESS says, and
    no combination gives a server error."""
    wrong = []
    # Leaving the panel last: it deletes the resident.
    for rule in sorted(rules(app), key=lambda rule: rule.endpoint == "members.leave"):
        access = ACCESS.get(rule.endpoint)
        if access is None:
            continue  # reported by test_every_endpoint_is_classified
        url = url_for_rule(rule, things)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for role in ROLES:  # the denied ones first: nothing they send may change anything
                client = clients[role]
                clients.log_in_again(role)  # logout routes are in the walk too
                if method == "GET":
                    response = client.get(url)
                else:
                    response = client.open(url, method=method, data={"csrf_token": csrf_of(client)})
                got, want = outcome(response), expected(access, role)
                if got != want or (want == "denied" and not denial_is_the_right_one(access, role, response)):
                    wrong.append(f"{method} {url} ({rule.endpoint}, {access}) as {role}: "
                                 f"{response.status_code} {response.headers.get('Location', '')} – expected {want}")
    assert not wrong, "\n".join(wrong)


def test_every_post_needs_a_csrf_token(app, clients, things):
    """A POST without the token is refused with 400 by the role that may otherwise make it."""
    wrong = []
    for rule in rules(app):
        access = ACCESS.get(rule.endpoint)
        if "POST" not in rule.methods or access is None or rule.endpoint in CSRF_EXEMPT:
            continue
        role = "admin" if access in (COMMITTEE, ANALYST, ADMIN) else "resident" if access == RESIDENT else "anonymous"
        url = url_for_rule(rule, things)
        response = clients[role].post(url, data={})
        if response.status_code != 400 or "säkerhetskod" not in response.get_data(as_text=True):
            wrong.append(f"POST {url} ({rule.endpoint}) as {role} without CSRF token: {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_csrf_exemptions_are_real_routes(app):
    endpoints = {rule.endpoint for rule in rules(app) if "POST" in rule.methods}
    assert CSRF_EXEMPT <= endpoints


def test_a_role_change_ends_the_old_sessions(app, clients, session):
    """An analyst demoted to committee by an admin loses analyst pages at once (session_version)."""
    analyst = clients["analyst"]
    assert analyst.get("/staff/mail").status_code == 200
    admin = clients["admin"]
    user_id = clients.users["analyst"].id
    response = admin.post(f"/staff/users/{user_id}/role",
                          data={"role": "committee", "csrf_token": csrf_of(admin, "/staff/users")})
    assert response.status_code == 302
    gone = analyst.get("/staff/mail")
    assert gone.status_code == 302 and gone.headers["Location"].startswith("/staff/login")


def test_staff_logout_ends_the_session(app, clients):
    admin = clients["admin"]
    assert admin.get("/staff/users").status_code == 200
    assert admin.post("/staff/logout", data={"csrf_token": csrf_of(admin, "/staff/users")}).status_code == 302
    again = admin.get("/staff/users")
    assert again.status_code == 302 and again.headers["Location"].startswith("/staff/login")


def test_committee_and_public_see_nothing_of_an_unpublished_survey(clients, session):
    """Committee members read published versions only; the analyst's live report stays closed to them."""
    survey = make_survey(session, TWO_PAGES, status="closed")
    survey_id, title = survey.id, survey.title
    session.commit()
    committee = clients["committee"]
    for path in (f"/committee/reports/{survey_id}", f"/committee/reports/{survey_id}/versions/1",
                 f"/committee/reports/{survey_id}/versions/1/print",
                 f"/committee/reports/{survey_id}/versions/1/report.pdf"):
        assert committee.get(path).status_code == 404, path
    assert clients["anonymous"].get(f"/resultat/{survey_id}").status_code == 404
    assert title not in committee.get("/committee/reports").get_data(as_text=True)
    for path in (f"/staff/surveys/{survey_id}/report", f"/staff/surveys/{survey_id}/report/report.json",
                 f"/staff/surveys/{survey_id}/export", f"/staff/surveys/{survey_id}/publication/free-text"):
        assert committee.get(path).status_code == 403, path
