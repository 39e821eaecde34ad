"""The residents' services as other packages call them (recruitment, surveys), and the plain pages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from panel.db import utcnow
from panel.extensions import db
from panel.members import services, terms, tokens
from panel.models import Consent, Member, MemberToken, OutboxMessage
from panel.models.member import TokenPurpose
from tests.factories import make_district, make_member
from tests.panel.members.support import deliver, link_to, press_button


def register(**fields):
    values = {"email": "fatima@example.se", "birth_year": 1975, "gender": "kvinna", "district": None,
              "language": "sv", "terms_version": terms.CURRENT}
    values.update(fields)
    return services.register(db.session, **values)


def test_joining_with_a_letter_code_uses_the_same_double_opt_in(app, client, session, smtp_server):
    district = make_district(session)
    session.commit()
    with app.app_context():
        member = register(district=district.id, source="wave", recruitment_wave_id=4, channel="code")
        assert member is not None and member.status == "pending"
        db.session.commit()
    deliver(app)
    assert press_button(client, link_to(smtp_server.messages[0], "/panel/confirm/")).status_code == 302
    member = session.scalars(select(Member)).one()
    consent = session.scalars(select(Consent)).one()
    assert (member.status, member.source, member.recruitment_wave_id) == ("active", "wave", 4)
    assert (consent.channel, consent.terms_version) == ("code", terms.CURRENT)


def test_register_returns_none_for_a_confirmed_member_and_tells_them_by_email(app, session):
    existing = make_member(session, email="fatima@example.se")
    session.commit()
    with app.app_context():
        assert register(district=existing.district_id) is None
        db.session.commit()
    assert session.scalars(select(OutboxMessage.kind)).all() == ["already_member"]


def test_register_checks_its_input_itself(app, session):
    district = make_district(session)
    session.commit()
    year = utcnow().year
    with app.app_context():
        for fields, field in [
            ({"district": 10_000}, "district"),
            ({"district": None, "postcode": "99999"}, "postcode"),
            ({"district": None}, "district"),
            ({"birth_year": year - 10}, "birth_year"),
            ({"birth_year": year - 200}, "birth_year"),
            ({"birth_year": "1975"}, "birth_year"),
            ({"gender": "robot"}, "gender"),
            ({"language": "fi"}, "language"),
            ({"email": "fatima@example.se\r\nBcc: x@y"}, "email"),
            ({"email": "nope"}, "email"),
            ({"terms_version": "1900-01"}, "accept_terms"),
            ({"channel": "sms"}, "channel"),
            ({"source": "magic"}, "source"),
        ]:
            with pytest.raises(services.MemberDataError) as caught:
                register(**{"district": district.id, **fields})
            assert caught.value.field == field, fields
            assert str(caught.value) != field  # a readable text, even with no request (CLI callers)
        assert db.session.scalars(select(Member)).all() == []
        with pytest.raises(services.MemberDataError, match="minst 16 år"):
            register(district=district.id, birth_year=year - 10)


def test_a_link_is_used_once_even_when_two_requests_race(app, session):
    member = make_member(session, status="pending")
    session.commit()
    with app.app_context():
        token = tokens.issue(db.session, db.session.get(Member, member.id), TokenPurpose.CONFIRM,
                             timedelta(hours=1), now=utcnow())
        db.session.commit()
    sessions = app.extensions["database"]
    with sessions() as one, sessions() as two:
        tokens.check(two, token, TokenPurpose.CONFIRM, now=utcnow())  # both saw it unused
        tokens.use(one, token, TokenPurpose.CONFIRM, now=utcnow())
        one.commit()
        with pytest.raises(tokens.LinkUsed):
            tokens.use(two, token, TokenPurpose.CONFIRM, now=utcnow())


def test_links_are_stored_as_digests_only(app, client, session, smtp_server):
    district = make_district(session)
    session.commit()
    from tests.panel.members.support import sign_up

    sign_up(client, district)
    deliver(app)
    token = link_to(smtp_server.messages[0], "/panel/confirm/").rsplit("/", 1)[1]
    stored = session.scalars(select(MemberToken)).one()
    assert token not in stored.digest and stored.digest == tokens.digest(token) and len(token) >= 43


def test_contactable_means_active_or_pause_over(app, session):
    today = date(2026, 11, 22)
    make_member(session, email="a@example.se")
    make_member(session, email="b@example.se", status="paused", paused_until=today)
    make_member(session, email="c@example.se", status="paused", paused_until=today + timedelta(days=1))
    make_member(session, email="d@example.se", status="unsubscribed")
    make_member(session, email="e@example.se", status="pending")
    session.commit()
    found = session.scalars(select(Member.email).where(services.contactable(today)).order_by(Member.email)).all()
    assert found == ["a@example.se", "b@example.se"]


def test_add_months_keeps_the_day_or_takes_the_last_of_the_month():
    assert services.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert services.add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert services.add_months(date(2026, 12, 15), 12) == date(2027, 12, 15)


def test_purge_deletes_unconfirmed_sign_ups_after_the_confirmation_window(app, runner, session):
    old = make_member(session, email="old@example.se", status="pending")
    old.created_at = utcnow() - timedelta(hours=app.config["PANEL_CONFIRM_HOURS"] + 1)
    make_member(session, email="new@example.se", status="pending")
    make_member(session, email="active@example.se")
    session.commit()
    result = runner.invoke(args=["members", "purge"])
    assert result.exit_code == 0 and "Deleted 1" in result.output
    session.expire_all()
    assert sorted(session.scalars(select(Member.email))) == ["active@example.se", "new@example.se"]


def test_home_page_explains_and_invites(client):
    page = client.get("/").get_data(as_text=True)
    assert "Gå med i panelen" in page and 'href="/panel/join"' in page
    assert "Varför ska jag vara med?" in page


def test_terms_page_shows_the_current_version_in_swedish_or_english(client):
    swedish = client.get("/panel/terms?lang=sv").get_data(as_text=True)
    assert "Villkor för medborgarpanelen" in swedish and terms.CURRENT in swedish
    english = client.get("/panel/terms?lang=en").get_data(as_text=True)
    assert "Terms of the citizen panel" in english
    assert client.get(f"/panel/terms/{terms.CURRENT}").status_code == 200
    assert client.get("/panel/terms/1999-01").status_code == 404
    assert client.get("/panel/terms/%00").status_code == 404


def test_the_join_form_links_the_terms_it_records(client, session):
    make_district(session)
    session.commit()
    page = client.get("/panel/join").get_data(as_text=True)
    assert f'name="terms_version" type="hidden" value="{terms.CURRENT}"' in page
    assert 'href="/panel/terms"' in page
