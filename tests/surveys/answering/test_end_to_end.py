"""The whole way, through real pages and real SMTP: an analyst imports a survey with every
question type and conditions, targets a stratified sample and sends; invitations arrive;
residents answer (one over two sessions in Swedish, one in English); completion counts per
stratum are right; reminders go only to those who have not answered, with the same link."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from panel.db import utcnow
from panel.mail.dispatcher import dispatch_due
from surveys.answering.models import SurveyResponse
from surveys.fielding.models import Invitation
from tests.conftest import csrf_token
from tests.factories import make_district, make_member
from tests.surveys.answering.builders import BIBLIOTEKEN, PRIORITERINGAR, VARDAG, start, submit

LINK = re.compile(r"http://panel\.test(/s/[A-Za-z0-9_-]+)")


def survey_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    match = LINK.search(text)
    assert match, text
    return match.group(1)


def test_survey_from_file_to_sample_invitations_answers_and_reminders(app, analyst, session, smtp_server,
                                                                      example_text):
    year = utcnow().year
    members = []
    for code, language in (("0101", "sv"), ("0102", "en")):
        district = make_district(session, code=code)
        for gender in ("kvinna", "man"):
            for age in (30, 70):
                members += [make_member(session, district=district, gender=gender, birth_year=year - age,
                                        language=language) for _ in range(3)]
    session.commit()

    # The analyst imports the example survey (every question type, a page and a question condition).
    created = analyst.post("/staff/surveys/new", data={"csrf_token": csrf_token(analyst, "/staff/surveys/new"),
                                                       "title": "Trygghet", "text": example_text})
    assert created.status_code == 302, created.get_data(as_text=True)
    survey_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    # A stratified sample: two in each of the 2 x 2 x 2 strata.
    base = f"/staff/surveys/{survey_id}/fielding"
    closes = (utcnow() + timedelta(days=14)).astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%dT%H:%M")
    targeted = analyst.post(f"{base}/target", data={
        "csrf_token": csrf_token(analyst, f"{base}/target"), "mode": "sample", "sample_size": "16",
        "allocation": "equal", "seed": "7", "contact_window_days": "30", "closes_at": closes,
        "reminder_after_days": "7", "max_reminders": "1"})
    assert targeted.status_code == 302, targeted.get_data(as_text=True)
    sent = analyst.post(f"{base}/send", data={"csrf_token": csrf_token(analyst, f"{base}/preview")})
    assert sent.status_code == 302, sent.get_data(as_text=True)
    assert dispatch_due(app).sent == 16

    links = {str(message["To"]): survey_link(message) for message in smtp_server.messages}
    assert len(links) == 16 and len(set(links.values())) == 16
    by_email = {member.email: member for member in members}
    swedish = next(email for email in sorted(links) if by_email[email].language == "sv")
    english = next(email for email in sorted(links) if by_email[email].language == "en")
    english_mail = next(m for m in smtp_server.messages if str(m["To"]) == english)
    assert "Safety and services in the municipality" in english_mail["Subject"]

    # A Swedish resident answers the first page, leaves, and finishes later in another browser.
    first = app.test_client()
    assert start(first, links[swedish][3:]) == "/s/answer/vardag"
    assert submit(first, "/s/answer/vardag", VARDAG).headers["Location"] == "/s/answer/biblioteken"
    later = app.test_client()
    assert start(later, links[swedish][3:]) == "/s/answer/biblioteken"
    submit(later, "/s/answer/biblioteken", BIBLIOTEKEN)
    assert submit(later, "/s/answer/prioriteringar", PRIORITERINGAR).headers["Location"] == "/s/thanks"

    # An English-speaking resident answers in English (and skips the library page).
    resident = app.test_client()
    start(resident, links[english][3:])
    assert "How do you usually get to work" in resident.get("/s/answer/vardag").get_data(as_text=True)
    submit(resident, "/s/answer/vardag", {"transport": "cykel", "trygghet_kvall": "5", "bibliotek": "no"})
    assert submit(resident, "/s/answer/prioriteringar", {"prioriteringar": ["miljo"]}).headers["Location"] == \
        "/s/thanks"

    # A third resident answers the first page and stops there.
    stopped = next(email for email in sorted(links) if email != swedish and by_email[email].language == "sv")
    quitter = app.test_client()
    start(quitter, links[stopped][3:])
    submit(quitter, "/s/answer/vardag", VARDAG)

    # Completion counts per stratum, on the analyst's page and in the data.
    responses = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)).all()
    assert sorted(r.language for r in responses) == ["en", "sv"]
    done = {(by_email[email].gender, by_email[email].district.code) for email in (swedish, english)}
    assert {(r.gender, r.district_code) for r in responses} == done
    invitations = session.scalars(select(Invitation).where(Invitation.survey_id == survey_id)).all()
    per_stratum: dict[tuple[str, str, str], list[int]] = {}
    for invitation in invitations:
        counts = per_stratum.setdefault((invitation.gender, invitation.age_group, invitation.district_code), [0, 0])
        counts[0] += 1
        counts[1] += invitation.completed_at is not None
    assert all(invited == 2 for invited, _completed in per_stratum.values())
    assert sum(completed for _invited, completed in per_stratum.values()) == 2
    for email in (swedish, english):
        member = by_email[email]
        stratum = (member.gender, "25-34" if year - member.birth_year == 30 else "65-74", member.district.code)
        assert per_stratum[stratum][1] == 1
    with app.app_context():  # what the analyst's progress page shows
        from panel.extensions import db
        from surveys.fielding.services import fielding_stats
        from surveys.models import Survey

        stats = fielding_stats(db.session, db.session.get(Survey, survey_id))
    assert (stats.total.invited, stats.total.opened, stats.total.started, stats.total.completed) == (16, 3, 3, 2)
    assert sorted(tally.completed for _stratum, tally in stats.strata) == [0] * 6 + [1, 1]
    assert analyst.get(f"{base}/stats").status_code == 200

    # A week later: reminders go to the 14 who have not answered (also the one who started), same links.
    session.execute(update(Invitation).where(Invitation.survey_id == survey_id)
                    .values(sent_at=utcnow() - timedelta(days=8)))
    session.commit()
    smtp_server.clear()
    reminded = analyst.post(f"{base}/reminders", data={"csrf_token": csrf_token(analyst, base + "/")})
    assert reminded.status_code == 302
    dispatch_due(app)
    reminder_links = {str(message["To"]): survey_link(message) for message in smtp_server.messages}
    assert set(reminder_links) == set(links) - {swedish, english}
    assert all(reminder_links[email] == links[email] for email in reminder_links)
    assert "Fortsätt svara" in app.test_client().get(reminder_links[stopped]).get_data(as_text=True)
    assert start(app.test_client(), reminder_links[stopped][3:]) == "/s/answer/biblioteken"
    assert "Du har redan svarat" in app.test_client().get(links[swedish]).get_data(as_text=True)
