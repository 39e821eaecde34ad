"""Sending: invitations through the outbox over real SMTP, personal links, digests, progress."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import delete, func, select, text

from panel.db import utcnow
from panel.models import Member, OutboxMessage
from surveys.fielding import services
from surveys.fielding.models import SurveyFielding
from surveys.models import Survey
from tests.surveys.fielding.support import (
    as_cli, base, configure, deliver, html_of, invitations, make_panel, make_survey, page, post, send_now, survey_link,
)


def test_invitations_arrive_over_smtp_with_a_personal_link_that_opens_the_survey(
        app, analyst, session, smtp_server, example_text):
    members = make_panel(session, [(2, "kvinna", 30, "0101"), (1, "man", 70, "0102")])
    members[2].language = "en"
    survey = make_survey(session, example_text, title="Trygghet")
    configure(session, survey)
    session.commit()

    response = post(analyst, f"{base(survey.id)}/send", token_from=f"{base(survey.id)}/preview")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{base(survey.id)}/")
    shown = analyst.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r"3 inbjudningar är köade för utskick \(\d+,\d sekunder\)", shown)  # a Swedish decimal comma
    assert deliver(app).sent == 3

    messages = {str(m["To"]): m for m in smtp_server.messages}
    assert set(messages) == {m.email for m in members}
    swedish, english = messages[members[0].email], messages[members[2].email]
    assert swedish["Subject"] == "Ny enkät från medborgarpanelen: Trygghet och service i kommunen"
    assert "Safety and services in the municipality" in english["Subject"]  # the survey's English title
    assert swedish["List-Unsubscribe"].startswith("<http://panel.test/panel/unsubscribe/")
    assert swedish["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = {address: survey_link(message) for address, message in messages.items()}
    assert len(set(links.values())) == 3  # personal
    with app.test_request_context():
        from flask import url_for
        assert links[members[0].email] == url_for("answering.landing", token=links[members[0].email][3:])
    assert links[members[0].email] in html_of(swedish)
    assert analyst.get(links[members[0].email]).status_code == 200  # the landing page knows the link

    rows = invitations(session, survey.id)
    assert {row.language for row in rows} == {"sv", "en"}
    for row in rows:
        email = next(m.email for m in members if m.id == row.member_id)
        token = links[email].removeprefix("/s/")
        assert len(token) >= 43  # 256 bits, base64url
        assert row.token_digest == hashlib.sha256(token.encode()).hexdigest()
        assert row.sent_at is not None
    # The token itself is stored nowhere in the invitations table.
    dump = " ".join(str(value) for row in session.execute(text("SELECT * FROM survey_invitation")) for value in row)
    assert not any(link.removeprefix("/s/") in dump for link in links.values())


def test_sending_freezes_the_structure_opens_the_survey_and_records_who_was_left_out(
        analyst, session, example_text):
    make_panel(session, [(3, "kvinna", 30, "0101")])
    make_panel(session, [(1, "man", 30, "0101")], status="paused", paused_until=utcnow().date() + timedelta(days=9))
    make_panel(session, [(2, "man", 30, "0101")], status="unsubscribed")
    survey = make_survey(session, example_text)
    configure(session, survey)
    session.commit()
    post(analyst, f"{base(survey.id)}/send", token_from=f"{base(survey.id)}/preview")
    session.expire_all()
    fresh = session.get(Survey, survey.id)
    assert fresh.status == "open" and fresh.is_frozen
    assert session.get(SurveyFielding, survey.id).excluded == {"paused": 1, "unsubscribed": 2}
    status, html = page(analyst, f"{base(survey.id)}/")
    assert status == 200
    assert "Har pausat: 1" in html and "3</strong> inbjudna" in html and "mejl väntar i kön" in html


def test_a_second_send_is_refused_and_writes_nothing(analyst, session, example_text):
    make_panel(session, [(2, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    configure(session, survey)
    session.commit()
    token_from = f"{base(survey.id)}/preview"
    assert post(analyst, f"{base(survey.id)}/send", token_from=token_from).status_code == 302
    response = post(analyst, f"{base(survey.id)}/send", token_from=token_from)
    assert response.status_code == 409
    assert "redan skickade" in response.get_data(as_text=True)
    assert len(invitations(session, survey.id)) == 2
    assert session.scalar(select(func.count(OutboxMessage.id))) == 2


def test_a_send_without_settings_or_csrf_token_is_refused(analyst, session, example_text):
    make_panel(session, [(2, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    session.commit()
    assert analyst.post(f"{base(survey.id)}/send", data={}).status_code == 400
    response = post(analyst, f"{base(survey.id)}/send", token_from=f"{base(survey.id)}/preview")
    assert response.status_code == 400
    assert "Välj först vem som ska få enkäten" in response.get_data(as_text=True)
    assert invitations(session, survey.id) == []
    session.expire_all()
    assert session.get(Survey, survey.id).status == "draft"


def test_a_survey_opening_later_sends_its_invitations_at_the_opening_time(app, runner, session, smtp_server,
                                                                          example_text):
    make_panel(session, [(2, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    opens = utcnow() + timedelta(hours=2)
    configure(session, survey, opens_at=opens, closes_at=opens + timedelta(days=7))
    session.commit()
    result = send_now(app, survey.id)
    assert result.status == "scheduled"
    assert deliver(app).sent == 0  # not yet
    assert smtp_server.messages == []
    assert deliver(app, at=opens + timedelta(minutes=1)).sent == 2


def test_the_cli_sends_and_prints_progress(app, runner, session, example_text, monkeypatch):
    monkeypatch.setattr(services, "CHUNK", 2)
    make_panel(session, [(5, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    configure(session, survey)
    session.commit()
    result = runner.invoke(args=["fielding", "send", str(survey.id)])
    assert result.exit_code == 0, result.output
    assert "queued 2/5" in result.output and "queued 4/5" in result.output and "queued 5/5" in result.output
    assert "Committed 5 invitations" in result.output
    result = runner.invoke(args=["fielding", "send", str(survey.id)])
    assert result.exit_code != 0 and "redan skickade" in result.output
    assert len(invitations(session, survey.id)) == 5
    status = runner.invoke(args=["fielding", "status", str(survey.id)])
    assert "invitations: 0/5 sent, 5 waiting" in status.output


def test_the_progress_page_counts_sent_emails_from_the_outbox(app, analyst, session, smtp_server, example_text):
    make_panel(session, [(3, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    configure(session, survey)
    session.commit()
    post(analyst, f"{base(survey.id)}/send", token_from=f"{base(survey.id)}/preview")
    smtp_server.handler.refuse[_email_of(session, survey.id)] = "550 no such user"
    deliver(app)
    progress = services.mail_progress(session, session.get(Survey, survey.id))
    assert (progress.sent, progress.failed, progress.queued) == (2, 1, 0)
    status, html = page(analyst, f"{base(survey.id)}/")
    assert "3</strong> inbjudna" in html
    assert "2</strong> mejl skickade" in html and "1</strong> mejl gick inte att skicka" in html
    assert "öppnade, när inbjudningarna skickades" in html  # no opening time was set: it opened when sent
    assert "färre än de inbjudna" not in html

    # Closed before the queue was empty: the unsent mail is dropped, the invited are still counted.
    session.execute(delete(OutboxMessage))
    session.commit()
    status, html = page(analyst, f"{base(survey.id)}/")
    assert "3</strong> inbjudna" in html and "0</strong> mejl skickade" in html
    assert "de blir färre än de inbjudna när skickade mejl har raderats (efter 30 dagar)" in html


def _email_of(session, survey_id):
    return session.get(Member, invitations(session, survey_id)[0].member_id).email


def test_the_members_data_export_lists_the_invitation_but_no_link_secret(app, session, example_text):
    from panel.members.services import export_member_data

    members = make_panel(session, [(1, "kvinna", 30, "0101")])
    survey = make_survey(session, example_text)
    configure(session, survey)
    session.commit()
    send_now(app, survey.id)
    with as_cli(app) as db_session:
        exported = export_member_data(db_session, db_session.get(Member, members[0].id))
    [row] = exported["survey_invitation"]
    assert row["survey_id"] == survey.id and row["sent_at"]
    assert "token_digest" not in row and "token_secret" not in row
