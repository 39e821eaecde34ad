"""Bulk mail stores one shared body per send-out and language; each row only its links."""

from __future__ import annotations

from sqlalchemy import func, select

from panel.mail.outbox import LINK_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from panel.models import OutboxMessage
from panel.models.outbox import OutboxBody
from surveys.fielding import services
from surveys.models import Survey
from tests.surveys.fielding.support import (
    configure, deliver, html_of, invitations, make_panel, make_survey, send_now, survey_link, text_of,
)


def test_invitations_share_one_body_per_language_and_each_email_gets_its_own_links(
        app, session, smtp_server, example_text):
    members = make_panel(session, [(3, "kvinna", 30, "0101"), (2, "man", 50, "0102")])
    members[0].language = members[3].language = "en"
    survey = make_survey(session, example_text, title="Trygghet")
    configure(session, survey)
    session.commit()
    send_now(app, survey.id)

    bodies = session.scalars(select(OutboxBody)).all()
    assert len(bodies) == 2  # Swedish and English
    rows = session.scalars(select(OutboxMessage)).all()
    assert len(rows) == 5 and {row.body_id for row in rows} == {body.id for body in bodies}
    assert all(row.body_text == "" and row.body_html == "" for row in rows)
    assert len({row.link for row in rows}) == 5 and len({row.unsubscribe_link for row in rows}) == 5
    for body in bodies:  # nothing about any one resident in a shared body
        for part in (body.body_text, body.body_html):
            assert LINK_PLACEHOLDER in part and UNSUBSCRIBE_PLACEHOLDER in part
            assert not any(m.email in part for m in members)
            assert not any(row.link in part or row.unsubscribe_link in part for row in rows)
    assert all(row.headers == "" for row in rows)  # List-Unsubscribe is in the shared body
    assert {body.send_out for body in bodies} == {f"survey_invitation:{survey.id}"}
    assert len(invitations(session, survey.id)) == 5

    assert deliver(app).sent == 5
    by_address = {str(message["To"]): message for message in smtp_server.messages}
    for row in rows:
        message = by_address[row.to_address]
        text, html = text_of(message), html_of(message)
        assert row.link in text and row.link in html and row.unsubscribe_link in text
        assert survey_link(message) == row.link.removeprefix("http://panel.test")
        assert f"<{row.unsubscribe_link}>" == message["List-Unsubscribe"]
        assert LINK_PLACEHOLDER not in text + html and UNSUBSCRIBE_PLACEHOLDER not in text + html
    english = by_address[members[0].email]
    assert "Safety and services in the municipality" in english["Subject"]


def test_a_second_send_out_gets_bodies_of_its_own(app, session, smtp_server, example_text):
    make_panel(session, [(2, "kvinna", 30, "0101")])
    first, second = make_survey(session, example_text, title="A"), make_survey(session, example_text, title="B")
    configure(session, first)
    configure(session, second)
    session.commit()
    send_now(app, first.id)
    send_now(app, second.id)
    assert session.scalar(select(func.count(OutboxBody.id))) == 2
    assert session.scalar(select(func.count(func.distinct(OutboxMessage.body_id)))) == 2
    assert set(session.scalars(select(OutboxBody.send_out))) == {f"survey_invitation:{first.id}",
                                                                 f"survey_invitation:{second.id}"}
    first_survey = session.get(Survey, first.id)
    assert services.mail_progress(session, first_survey).queued == 2  # only its own rows
