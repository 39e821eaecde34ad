"""Retention rules: each removes what its period says, nothing else, is idempotent, and is logged."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from panel.db import utcnow
from panel.models import (AuditEvent, Member, OutboxMessage, PanelExit, RecruitmentInvite, RecruitmentWave)
from panel.models.member import MemberStatus
from panel.models.outbox import OutboxStatus
from panel.retention import services
from surveys.answering.models import AnswerDraft, SurveyResponse
from tests.factories import make_district, make_member
from tests.surveys.answering.builders import invite, make_survey

NOW = utcnow()


def run(app, session):
    with app.app_context():  # the rules reuse services that read the app's settings
        results = services.run(session, app.config, now=NOW)
    session.commit()
    return {r.rule: r.rows for r in results}


def purge_events(session):
    session.expire_all()
    return [e.detail for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "retention.purge")
                                              .order_by(AuditEvent.id))]


def test_every_rule_is_registered_with_its_setting(app):
    assert set(services.RULES) == {"recruitment_letters", "sent_mail", "unconfirmed_signups", "inactive_members",
                                   "identified_responses", "answer_drafts", "throttle_records"}
    for rule in services.RULES.values():
        assert rule.setting in app.config, rule.setting


def _wave(session, age_days, *, people=2):
    district = make_district(session)
    wave = RecruitmentWave(name="Våg", created_at=NOW - timedelta(days=age_days))
    session.add(wave)
    session.flush()
    for i in range(people):
        session.add(RecruitmentInvite(wave_id=wave.id, person_ref=f"19800101-{wave.id}{i:03d}", gender="kvinna",
                                      birth_year=1980, district_id=district.id, name=f"Anna {i}",
                                      address_line1="Storgatan 1", postcode="62150", city="Visby",
                                      code=uuid.uuid4().hex[:8].upper()))
    session.flush()
    return wave


def test_recruitment_letters_are_erased_after_the_period_and_the_wave_closes(app, session):
    app.config["PANEL_RETAIN_RECRUITMENT_DAYS"] = 180
    old, new = _wave(session, 181), _wave(session, 179)
    session.commit()
    assert run(app, session)["recruitment_letters"] == 2
    session.expire_all()
    olds = session.scalars(select(RecruitmentInvite).where(RecruitmentInvite.wave_id == old.id)).all()
    assert all(i.name is None and i.address_line1 is None and i.postcode is None and i.city is None for i in olds)
    assert all(i.person_ref == f"raderad-{i.id}" for i in olds)
    assert all(i.gender == "kvinna" and i.birth_year == 1980 for i in olds)  # strata kept for join rates
    assert session.get(RecruitmentWave, old.id).status == "closed"
    news = session.scalars(select(RecruitmentInvite).where(RecruitmentInvite.wave_id == new.id)).all()
    assert all(i.name and i.address_line1 == "Storgatan 1" for i in news)
    assert session.get(RecruitmentWave, new.id).status == "open"
    assert run(app, session)["recruitment_letters"] == 0  # idempotent
    assert purge_events(session) == [{"rule": "recruitment_letters", "rows": 2, "period": "180 days"}]


def _mail(session, *, status, sent_days_ago=None, to="boende@example.se"):
    row = OutboxMessage(kind="magic_link", to_address=to, subject="Länk", body_text="hemlig länk",
                        body_html="<p>hemlig länk</p>", status=status,
                        sent_at=NOW - timedelta(days=sent_days_ago) if sent_days_ago is not None else None)
    session.add(row)
    session.flush()
    return row


def test_sent_mail_is_deleted_after_the_period_queued_mail_never(app, session):
    app.config["PANEL_RETAIN_SENT_MAIL_DAYS"] = 30
    old = _mail(session, status=OutboxStatus.SENT, sent_days_ago=31)
    recent = _mail(session, status=OutboxStatus.SENT, sent_days_ago=29)
    queued = _mail(session, status=OutboxStatus.QUEUED)
    failed = _mail(session, status=OutboxStatus.FAILED)
    session.commit()
    ids = (old.id, recent.id, queued.id, failed.id)
    assert run(app, session)["sent_mail"] == 1
    session.expire_all()
    assert sorted(session.scalars(select(OutboxMessage.id))) == sorted(ids[1:])
    event = purge_events(session)[0]
    assert event == {"rule": "sent_mail", "rows": 1, "period": "30 days"}
    assert "hemlig" not in str(event) and "boende" not in str(event)


def test_unconfirmed_signups_are_deleted_after_the_confirmation_period(app, session):
    app.config["PANEL_CONFIRM_HOURS"] = 72
    stale = make_member(session, status=MemberStatus.PENDING, created_at=NOW - timedelta(hours=73))
    fresh = make_member(session, status=MemberStatus.PENDING, created_at=NOW - timedelta(hours=71))
    active = make_member(session, created_at=NOW - timedelta(days=900))
    session.commit()
    stale_id = stale.id
    assert run(app, session)["unconfirmed_signups"] == 1
    session.expire_all()
    assert session.get(Member, stale_id) is None
    assert session.get(Member, fresh.id) is not None and session.get(Member, active.id) is not None
    assert purge_events(session) == [{"rule": "unconfirmed_signups", "rows": 1, "period": "72 hours"}]


def test_inactive_members_are_removed_like_leaving_without_a_goodbye_email(app, session):
    app.config["PANEL_RETAIN_INACTIVE_DAYS"] = 730
    gone = make_member(session, status=MemberStatus.UNSUBSCRIBED, email="tyst@example.se")
    kept = make_member(session, status=MemberStatus.UNSUBSCRIBED)
    active = make_member(session, status=MemberStatus.ACTIVE)
    session.commit()
    # updated_at is set on every change; backdate it without touching it again
    from sqlalchemy import update

    session.execute(update(Member).where(Member.id.in_([gone.id, active.id]))
                    .values(updated_at=NOW - timedelta(days=731)))
    session.execute(update(Member).where(Member.id == kept.id).values(updated_at=NOW - timedelta(days=729)))
    session.commit()
    gone_id = gone.id
    assert run(app, session)["inactive_members"] == 1
    session.expire_all()
    assert session.get(Member, gone_id) is None
    assert session.get(Member, kept.id) is not None and session.get(Member, active.id) is not None
    assert session.scalar(select(func.count(PanelExit.id))) == 1  # anonymous statistics kept
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "tyst@example.se")).all() == []
    assert run(app, session)["inactive_members"] == 0


def _response(session, survey, invitation, member):
    response = SurveyResponse(survey_id=survey.id, language="sv", submitted_at=NOW, gender="kvinna",
                              age_group="35-44", district_code="0001", answers={"q": "svar"},
                              invitation_id=invitation.id if invitation else None,
                              member_id=member.id if member else None)
    session.add(response)
    session.flush()
    return response


def test_identified_responses_lose_their_link_after_the_period(app, session):
    app.config["PANEL_RETAIN_IDENTIFIED_DAYS"] = 365
    old = make_survey(session, status="closed", anonymous=False, closes_at=NOW - timedelta(days=366))
    recent = make_survey(session, status="closed", anonymous=False, closes_at=NOW - timedelta(days=364))
    member = make_member(session)
    inv_old, _ = invite(session, old, member)
    inv_recent, _ = invite(session, recent, member)
    r_old = _response(session, old, inv_old, member)
    r_recent = _response(session, recent, inv_recent, member)
    session.commit()
    assert run(app, session)["identified_responses"] == 1
    session.expire_all()
    unlinked = session.get(SurveyResponse, r_old.id)
    assert unlinked.member_id is None and unlinked.invitation_id is None
    assert unlinked.answers == {"q": "svar"} and unlinked.gender == "kvinna"  # the response itself is kept
    linked = session.get(SurveyResponse, r_recent.id)
    assert linked.member_id == member.id and linked.invitation_id == inv_recent.id
    assert run(app, session)["identified_responses"] == 0


def test_answer_drafts_of_long_closed_surveys_are_deleted(app, session):
    app.config["SURVEY_LINK_GRACE_DAYS"] = 30
    old = make_survey(session, status="closed", closes_at=NOW - timedelta(days=31))
    open_ = make_survey(session)
    inv_old, _ = invite(session, old)
    inv_open, _ = invite(session, open_)
    session.add_all([AnswerDraft(invitation_id=inv_old.id, answers={"a": 1}, pages_done={}),
                     AnswerDraft(invitation_id=inv_open.id, answers={"a": 2}, pages_done={})])
    session.commit()
    assert run(app, session)["answer_drafts"] == 1
    session.expire_all()
    assert session.scalars(select(AnswerDraft.invitation_id)).all() == [inv_open.id]


def test_nothing_to_purge_logs_nothing(app, session):
    assert set(run(app, session).values()) == {0}
    assert purge_events(session) == []


def test_negative_period_is_refused(app, session):
    app.config["PANEL_RETAIN_SENT_MAIL_DAYS"] = -1
    with app.app_context(), pytest.raises(ValueError, match="PANEL_RETAIN_SENT_MAIL_DAYS"):
        services.run(session, app.config, now=NOW)


def test_retention_run_command(app, runner, session):
    _mail(session, status=OutboxStatus.SENT, sent_days_ago=400)
    session.commit()
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "sent_mail: 1 removed (period 30 days)" in result.output
    session.expire_all()
    assert session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_throttle_records_are_deleted_after_the_period(app, session):
    from panel.models import CodeAttempt, LoginFailure
    from panel.models.member import RequestRecord
    from surveys.answering.models import LinkFailure

    app.config["PANEL_RETAIN_THROTTLE_DAYS"] = 1
    old, recent = NOW - timedelta(days=1, minutes=1), NOW - timedelta(hours=23)
    for at in (old, recent):
        session.add_all([LoginFailure(email="x@kommun.se", remote_addr="192.0.2.1", at=at),
                         CodeAttempt(remote_addr="192.0.2.1", at=at),
                         RequestRecord(kind="signup", remote_addr="192.0.2.1", at=at),
                         LinkFailure(remote_addr="192.0.2.1", at=at)])
    session.commit()
    assert run(app, session)["throttle_records"] == 4
    session.expire_all()
    for model in (LoginFailure, CodeAttempt, RequestRecord, LinkFailure):
        assert [row.at for row in session.scalars(select(model))] == [recent], model
    assert run(app, session)["throttle_records"] == 0
