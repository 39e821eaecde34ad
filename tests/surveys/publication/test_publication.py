"""Publishing: frozen versions, free-text approval, decisions, feedback email over real SMTP, roles."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from panel.db import utcnow
from panel.mail.dispatcher import dispatch_once
from panel.mail.smtp import MailSettings
from panel.models import OutboxMessage
from panel.models.member import MemberStatus
from surveys.publication import services
from surveys.publication.models import FeedbackDelivery, ImmutableReportError, PublishedReport
from surveys.publication.services import PublicationError
from tests.conftest import csrf_token
from tests.surveys.publication.conftest import field_survey
from tests.surveys.publication.pdftext import pdf_text
from tests.surveys.publication.support import document_from_answers, park_answers

ANSWERS = [{"park": "ja", "visits": 3, "comment": None}] * 20 + [{"park": "nej", "visits": 1, "comment": None}] * 9


def _answers(secret: str = "Min granne Anna Berg på Storgatan 3 tycker illa om parken",
             fine: str = "Fler bänkar vore bra") -> list[dict]:
    return ANSWERS[:-2] + [{"park": "nej", "visits": 2, "comment": secret},
                           {"park": "ja", "visits": 4, "comment": fine}]


def _document(fielded):
    frame = park_answers()
    return document_from_answers(frame, survey_id=fielded.survey.id, title="Parken").to_dict()


def _publish(app, session, fielded, *, version=1, notify_all=False):
    with app.app_context():
        survey = session.merge(fielded.survey)
        result = services.publish(session, survey, by=None, expected_version=version,
                                  notify_all_members=notify_all, document=_document(fielded))
        session.commit()
        return result


def _dispatch(app):
    with app.app_context():
        return dispatch_once(app.extensions["database"], MailSettings.from_config(app.config))


@pytest.fixture
def fielded(session):
    result = field_survey(session, _answers())
    session.commit()
    return result


# ---------------------------------------------------------------- versions


def test_publishing_freezes_a_suppressed_version_and_republishing_adds_the_next(app, session, fielded):
    first = _publish(app, session, fielded)
    assert first.report.version == 1
    stored = session.get(PublishedReport, first.report.id)
    assert stored.suppression_min_n == 5 and stored.settings["suppression"]["hidden_values"] > 0
    assert stored.code_version
    tiny = [r for q in stored.document["questions"] for r in q["weighted"] if r["domain_value"] == "0980003"]
    assert tiny and all(r["estimate"] is None for r in tiny)
    # The frozen settings keep the suppressed weighting summary, never the raw small margins.
    assert stored.settings["weighting"] == stored.document["weighting"]
    with pytest.raises(PublicationError):  # the same press again
        _publish(app, session, fielded, version=1)
    session.rollback()
    second = _publish(app, session, fielded, version=2)
    assert second.report.version == 2
    assert session.scalar(select(func.count()).select_from(PublishedReport)) == 2


def test_a_published_version_cannot_be_changed_or_deleted(app, session, fielded):
    report = session.get(PublishedReport, _publish(app, session, fielded).report.id)
    report.document = {"questions": []}
    with pytest.raises(ImmutableReportError):
        session.flush()
    session.rollback()
    report = session.get(PublishedReport, report.id)
    session.delete(report)
    with pytest.raises(ImmutableReportError):
        session.flush()
    session.rollback()
    assert session.get(PublishedReport, report.id).document["questions"]


def test_a_survey_without_responses_cannot_be_published(app, session):
    empty = field_survey(session, [], non_respondents=3)
    session.commit()
    document = _document(empty)
    document["fielding"]["responses"] = 0
    with app.app_context(), pytest.raises(PublicationError, match="inga svar"):
        services.publish(session, session.merge(empty.survey), by=None, expected_version=1, document=document)


# ---------------------------------------------------------------- feedback email


def test_respondents_get_the_results_email_once_over_smtp(app, session, fielded, smtp_server):
    unsubscribed, paused = fielded.respondents[0], fielded.respondents[1]
    unsubscribed.status = MemberStatus.UNSUBSCRIBED
    paused.status, paused.paused_until = MemberStatus.PAUSED, utcnow().date().replace(year=utcnow().year + 1)
    session.commit()
    result = _publish(app, session, fielded)
    expected = {m.email for m in fielded.respondents[2:]}
    assert result.emails == len(expected)
    sent = _dispatch(app)
    assert sent.sent == len(expected)
    received = {str(m["To"]) for m in smtp_server.messages}
    assert received == expected
    assert not received & {m.email for m in fielded.others}  # invited, did not answer
    message = smtp_server.to(fielded.respondents[2].email)[0]
    text = message.get_body(("plain",)).get_content()
    assert "Resultatet av enkäten: Parken" in message["Subject"]
    assert f"http://panel.test/resultat/{fielded.survey.id}?lang=sv" in text
    assert re.search(r"Vill du ha en park\?: \d+,\d\xa0% svarade Ja", text)  # one decimal, as the pages
    assert message["List-Unsubscribe"].startswith("<http://panel.test/")
    assert "Storgatan" not in message.as_string() and fielded.respondents[3].email not in message.as_string()
    # publishing again (version 2) queues nothing new for the same people
    smtp_server.clear()
    assert _publish(app, session, fielded, version=2).emails == 0
    assert _dispatch(app).sent == 0 and smtp_server.messages == []


def test_english_speaking_members_get_english(app, session, fielded, smtp_server):
    english = next(m for m in fielded.respondents if m.language == "en")
    _publish(app, session, fielded)
    _dispatch(app)
    message = smtp_server.to(english.email)[0]
    # the texts follow once the lead has translated the new strings; the language is set either way
    assert '<html lang="en"' in message.get_body(("html",)).get_content()
    assert f"/resultat/{fielded.survey.id}?lang=en" in message.get_body(("plain",)).get_content()
    swedish = smtp_server.to(fielded.respondents[2].email)[0]
    assert '<html lang="sv"' in swedish.get_body(("html",)).get_content()


def test_all_active_members_when_the_analyst_chooses(app, session, fielded, smtp_server):
    result = _publish(app, session, fielded, notify_all=True)
    everyone = {m.email for m in fielded.respondents + fielded.others}
    assert result.emails >= len(everyone)
    _dispatch(app)
    assert everyone <= {str(m["To"]) for m in smtp_server.messages}


def test_a_decision_sends_a_follow_up_to_those_who_got_the_results(app, session, fielded, smtp_server):
    _publish(app, session, fielded)
    _dispatch(app)
    left_since = fielded.respondents[4]
    left_since.status = MemberStatus.UNSUBSCRIBED
    session.commit()
    smtp_server.clear()
    with app.app_context():
        decision, emails = services.add_decision(session, session.merge(fielded.survey),
                                                 text="Nämnden beslutade att **bygga parken** 2027.", by=None)
        session.commit()
    assert emails == len(fielded.respondents) - 1
    _dispatch(app)
    received = {str(m["To"]) for m in smtp_server.messages}
    assert left_since.email not in received and fielded.others[0].email not in received
    message = smtp_server.to(fielded.respondents[2].email)[0]
    assert "Beslut efter enkäten: Parken" in message["Subject"]
    assert "bygga parken" in message.get_body(("plain",)).get_content()
    assert "<strong>bygga parken</strong>" in message.get_body(("html",)).get_content()
    # pressing again for the same decision queues nothing
    with app.app_context():
        assert services.queue_feedback(session, session.get(PublishedReport, decision.published_report_id),
                                       kind="report_decision", decision=decision) == 0
    assert session.scalar(select(func.count()).select_from(FeedbackDelivery)
                          .where(FeedbackDelivery.decision_id == decision.id)) == emails


def test_a_decision_needs_a_published_report_and_text(app, session, fielded):
    with app.app_context():
        survey = session.merge(fielded.survey)
        with pytest.raises(PublicationError, match="inte publicerad"):
            services.add_decision(session, survey, text="Beslut", by=None)
    _publish(app, session, fielded)
    with app.app_context():
        with pytest.raises(PublicationError):
            services.add_decision(session, session.merge(fielded.survey), text="   ", by=None)


# ---------------------------------------------------------------- pages and roles


def test_free_text_is_published_only_when_approved(app, session, fielded, analyst, client):
    page = client.get(f"/staff/surveys/{fielded.survey.id}/publication/free-text")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Storgatan" in html and "Fler bänkar" in html
    fine = re.search(r'value="([^"]+)"[^>]*>\s*<label for="[^"]+">Fler bänkar vore bra', html).group(1)
    response = client.post(f"/staff/surveys/{fielded.survey.id}/publication/free-text",
                           data={"csrf_token": csrf_token(client, f"/staff/surveys/{fielded.survey.id}/publication/free-text"),
                                 "approved": [fine]})
    assert response.status_code == 302
    bad = client.post(f"/staff/surveys/{fielded.survey.id}/publication/free-text",
                      data={"csrf_token": csrf_token(client, f"/staff/surveys/{fielded.survey.id}/publication/free-text"),
                            "approved": ["00000000-0000-0000-0000-000000000000:comment"]})
    assert bad.status_code == 400 and "finns inte" in bad.get_data(as_text=True)
    _publish(app, session, fielded)
    public = client.get(f"/resultat/{fielded.survey.id}").get_data(as_text=True)
    assert "Fler bänkar vore bra" in public and "Storgatan" not in public


def test_committee_sees_published_reports_and_the_pdf(app, session, fielded, committee, client):
    _publish(app, session, fielded)
    listing = client.get("/committee/reports")
    assert listing.status_code == 200 and "Parken" in listing.get_data(as_text=True)
    page = client.get(f"/committee/reports/{fielded.survey.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in html and "<table" in html and "dold" in html and "Metod" in html
    assert "Storgatan" not in html and "Fler bänkar" not in html  # free text: nothing approved
    assert "<th scope=\"col\">" in html and "<caption id=" in html and "scope=\"row\"" in html
    printable = client.get(f"/committee/reports/{fielded.survey.id}/versions/1/print")
    assert printable.status_code == 200 and "publication.css" in printable.get_data(as_text=True)
    pdf = client.get(f"/committee/reports/{fielded.survey.id}/versions/1/report.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    assert "Parken" in text and "Vill du ha en park?" in text and "Beslut och åtgärder" in text
    report = session.scalars(select(PublishedReport)).one()
    ja = next(r for r in report.document["questions"][0]["weighted"]
              if r["category"] == "ja" and r["domain_variable"] == "(all)")
    assert f"{ja['estimate'] * 100:.1f} %".replace(".", ",") in text  # the key figure, as printed
    assert "Storgatan" not in text


def test_committee_cannot_reach_analyst_or_unpublished_pages(app, session, fielded, committee, client):
    survey_id = fielded.survey.id
    assert client.get(f"/committee/reports/{survey_id}").status_code == 404  # not published yet
    assert client.get(f"/resultat/{survey_id}").status_code == 404
    assert client.get(f"/staff/surveys/{survey_id}/publication").status_code == 403
    assert client.get(f"/staff/surveys/{survey_id}/publication/free-text").status_code == 403
    token = csrf_token(client, "/committee/reports")
    assert client.post(f"/staff/surveys/{survey_id}/publication/publish",
                       data={"csrf_token": token, "version": "1"}).status_code == 403
    assert client.post(f"/staff/surveys/{survey_id}/publication/decision",
                       data={"csrf_token": token, "text": "x"}).status_code == 403
    _publish(app, session, fielded)
    assert client.get(f"/committee/reports/{survey_id}/versions/2").status_code == 404


def test_anonymous_visitors_see_only_the_public_page(app, session, fielded, client):
    _publish(app, session, fielded)
    assert client.get("/committee/reports").status_code == 302
    assert client.get(f"/committee/reports/{fielded.survey.id}/versions/1/report.pdf").status_code == 302
    public = client.get(f"/resultat/{fielded.survey.id}")
    assert public.status_code == 200
    english = client.get(f"/resultat/{fielded.survey.id}?lang=en").get_data(as_text=True)
    assert "Parken (en)" in english


def test_decision_form_rejects_empty_text_and_adds_a_decision(app, session, fielded, analyst, client):
    _publish(app, session, fielded)
    path = f"/staff/surveys/{fielded.survey.id}/publication"
    empty = client.post(path + "/decision", data={"csrf_token": csrf_token(client, path), "text": "  "})
    assert empty.status_code == 400 and "Skriv vad som beslutades" in empty.get_data(as_text=True)
    no_csrf = client.post(path + "/decision", data={"text": "Beslut"})
    assert no_csrf.status_code == 400
    done = client.post(path + "/decision", data={"csrf_token": csrf_token(client, path),
                                                 "text": "Parken byggs. <script>alert(1)</script>"})
    assert done.status_code == 302
    public = client.get(f"/resultat/{fielded.survey.id}").get_data(as_text=True)
    assert "Parken byggs." in public and "<script>alert(1)</script>" not in public


def test_a_stale_publish_form_is_refused(app, session, fielded, analyst, client):
    _publish(app, session, fielded)
    path = f"/staff/surveys/{fielded.survey.id}/publication"
    response = client.post(path + "/publish", data={"csrf_token": csrf_token(client, path), "version": "1"})
    assert response.status_code == 302
    assert "redan publicerad" in client.get(path).get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(PublishedReport)) == 1
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == len(fielded.respondents)


def test_the_publish_button_publishes_the_report_the_results_package_computes(app, session, fielded, analyst,
                                                                               client, smtp_server):
    from surveys.results.services import build_report

    path = f"/staff/surveys/{fielded.survey.id}/publication"
    page = client.get(path)
    assert page.status_code == 200 and 'name="version" type="hidden" value="1"' in page.get_data(as_text=True)
    response = client.post(path + "/publish", data={"csrf_token": csrf_token(client, path), "version": "1"})
    assert response.status_code == 302
    assert "Version 1 är publicerad" in client.get(path).get_data(as_text=True)
    report = session.scalars(select(PublishedReport)).one()
    with app.app_context():
        computed = build_report(session, session.merge(fielded.survey)).to_dict()
    published_park = next(q for q in report.document["questions"] if q["key"] == "park")
    computed_park = next(q for q in computed["questions"] if q["key"] == "park")
    overall = {r["category"]: r["estimate"] for r in published_park["weighted"] if r["domain_variable"] == "(all)"}
    expected = {r["category"]: r["estimate"] for r in computed_park["weighted"] if r["domain_variable"] == "(all)"}
    assert overall == expected and overall["ja"] == pytest.approx(21 / 29)
    assert report.document["free_text"] == []  # nothing approved
    assert _dispatch(app).sent == len(fielded.respondents)


def test_the_database_refuses_to_change_a_published_version(app, session, fielded):
    from sqlalchemy import update
    from sqlalchemy.exc import DatabaseError

    report_id = _publish(app, session, fielded).report.id
    with pytest.raises(DatabaseError, match="never change"):
        session.execute(update(PublishedReport).where(PublishedReport.id == report_id)
                        .values(suppression_min_n=1).execution_options(synchronize_session=False))
    session.rollback()
    assert session.get(PublishedReport, report_id).suppression_min_n == 5


def test_the_committee_sees_the_latest_version_and_can_open_earlier_ones(app, session, fielded, committee, client):
    other = field_survey(session, _answers())
    session.commit()
    _publish(app, session, fielded)
    _publish(app, session, fielded, version=2)
    _publish(app, session, other)
    listing = client.get("/committee/reports").get_data(as_text=True)
    rows = re.findall(r'<tr>\s*<th scope="row"><a href="/committee/reports/(\d+)">.*?</a></th>\s*<td>(\d+)</td>',
                      listing, re.S)
    assert sorted(rows) == sorted([(str(fielded.survey.id), "2"), (str(other.survey.id), "1")])
    latest = client.get(f"/committee/reports/{fielded.survey.id}").get_data(as_text=True)
    assert "Version 2, publicerad" in latest and "Det finns en nyare version" not in latest
    older = client.get(f"/committee/reports/{fielded.survey.id}/versions/1").get_data(as_text=True)
    assert "Version 1, publicerad" in older and "Det finns en nyare version" in older


def test_a_member_who_left_gets_no_follow_up_and_leaves_no_trace_here(app, session, fielded, smtp_server):
    from panel.members.services import leave

    _publish(app, session, fielded)
    _dispatch(app)
    leaver = fielded.respondents[3]
    address, member_id = leaver.email, leaver.id
    with app.app_context():
        leave(session, session.merge(leaver))
        session.commit()
    assert session.scalar(select(func.count()).select_from(FeedbackDelivery)
                          .where(FeedbackDelivery.member_id == member_id)) == 0
    smtp_server.clear()
    with app.app_context():
        _decision, emails = services.add_decision(session, session.merge(fielded.survey), text="Parken byggs.",
                                                  by=None)
        session.commit()
    assert emails == len(fielded.respondents) - 1
    _dispatch(app)
    decision_mail = [m for m in smtp_server.messages  # English-speaking members get the English subject
                     if "Beslut efter enkäten" in m["Subject"] or "Decision following the survey" in m["Subject"]]
    assert len(decision_mail) == emails and address not in {str(m["To"]) for m in decision_mail}


def test_two_simultaneous_presses_publish_one_version_and_mail_once(app, session, fielded):
    import threading

    from sqlalchemy.exc import IntegrityError, OperationalError

    document = _document(fielded)
    survey_id = fielded.survey.id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def press() -> None:
        with app.app_context():
            own = app.extensions["database"]()
            try:
                survey = own.get(type(fielded.survey), survey_id)
                services.next_version(own, survey)  # both read "no version yet" before either writes
                barrier.wait(timeout=10)
                services.publish(own, survey, by=None, expected_version=1, document=document)
                own.commit()
                outcomes.append("published")
            except (IntegrityError, OperationalError, PublicationError):
                own.rollback()
                outcomes.append("refused")
            finally:
                own.close()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["published", "refused"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(PublishedReport)) == 1
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == len(fielded.respondents)
    assert session.scalar(select(func.count()).select_from(FeedbackDelivery)) == len(fielded.respondents)
