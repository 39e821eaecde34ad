"""Digits of any script in the residents' forms: ١٩٩٠ and １９９０ are the birth year 1990, as the
survey number question reads them (panel.numerals)."""

from __future__ import annotations

from sqlalchemy import select

from panel.models import Member, PostcodeDistrict
from tests.conftest import csrf_token
from tests.factories import make_district, make_member
from tests.panel.members.support import log_in_by_email, sign_up


def test_the_arabic_join_form_takes_arabic_indic_digits(client, session):
    district = make_district(session, name="Visby")
    session.add(PostcodeDistrict(postcode="62141", district_id=district.id))
    session.commit()
    assert client.get("/panel/join?lang=ar").status_code == 200  # the session remembers Arabic
    response = sign_up(client, district, birth_year="١٩٩٠", district="", postcode="٦٢١ ٤١", language="ar")
    assert response.status_code == 302, response.get_data(as_text=True)
    member = session.scalars(select(Member)).one()
    assert (member.birth_year, member.postcode, member.district_id) == (1990, "62141", district.id)


def test_full_width_and_persian_digits_are_read_too(client, session):
    district = make_district(session, name="Visby")
    session.commit()
    assert sign_up(client, district, birth_year="１９９０").status_code == 302
    assert sign_up(client, district, email="b@example.se", birth_year="۱۹۸۵").status_code == 302
    assert sorted(session.scalars(select(Member.birth_year))) == [1985, 1990]


def test_the_profile_takes_arabic_indic_digits(app, client, session, smtp_server):
    district = make_district(session, name="Visby")
    make_member(session, email="layla@example.se", district=district, birth_year=1970, language="ar")
    session.commit()
    log_in_by_email(app, client, smtp_server, "layla@example.se")
    client.get("/panel/me/profile?lang=ar")
    response = client.post("/panel/me/profile", data={
        "birth_year": "١٩٨٦", "gender": "kvinna", "district": str(district.id), "language": "ar",
        "csrf_token": csrf_token(client, "/panel/me/profile")})
    assert response.status_code == 302, response.get_data(as_text=True)
    session.expire_all()
    assert session.scalars(select(Member)).one().birth_year == 1986


def test_digits_do_not_make_other_text_a_year(client, session):
    district = make_district(session, name="Visby")
    session.commit()
    for typed in ["١٩٨", "١٩ ٨٥", "²⁰⁰⁰", "1985٫0"]:
        response = sign_up(client, district, birth_year=typed)
        assert response.status_code == 400, typed
        assert "fyra siffror" in response.get_data(as_text=True), typed
    assert session.scalars(select(Member)).all() == []
