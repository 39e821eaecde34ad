"""Bad input on the residents' forms: a clear Swedish message, a 4xx, and nothing written.

Cases are looped inside a test (not parametrized) where they share one app, to keep the file fast.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from panel.db import utcnow
from panel.models import Member, OutboxMessage, PostcodeDistrict
from tests.conftest import csrf_token
from tests.factories import make_district
from tests.panel.members.support import join_form, sign_up

THIS_YEAR = utcnow().year


def nothing_written(session) -> bool:
    session.expire_all()
    return (session.scalar(select(func.count(Member.id))) == 0
            and session.scalar(select(func.count(OutboxMessage.id))) == 0)


def refused(client, session, home, message: str, **fields) -> None:
    response = sign_up(client, home, **fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 400, (fields, response.status_code)
    assert message in page, (fields, message)
    assert 'class="error-summary"' in page or "säkerhetskod" in page
    assert nothing_written(session), fields


@pytest.fixture
def district(session):
    district = make_district(session, name="Visby")
    session.commit()
    return district


@pytest.fixture
def postcodes(session, district):
    session.add(PostcodeDistrict(postcode="62141", district_id=district.id))
    session.commit()


def test_birth_years_out_of_range_are_refused(client, session, district):
    for birth_year, message in [
        (str(THIS_YEAR - 15), "minst 16 år"),
        (str(THIS_YEAR), "minst 16 år"),
        (str(THIS_YEAR + 3), "minst 16 år"),
        (str(THIS_YEAR - 111), "Kontrollera födelseåret"),
        ("1066", "Kontrollera födelseåret"),
        ("0000", "Kontrollera födelseåret"),
        ("abcd", "fyra siffror"),
        ("19 85", "fyra siffror"),
        ("-1985", "fyra siffror"),
        ("1985.0", "fyra siffror"),
        ("9" * 30, "fyra siffror"),
        ("", "Skriv ditt födelseår"),
    ]:
        refused(client, session, district, message, birth_year=birth_year)


def test_the_youngest_and_oldest_allowed_may_join(client, session, district):
    assert sign_up(client, district, birth_year=str(THIS_YEAR - 16)).status_code == 302
    assert sign_up(client, district, email="b@example.se", birth_year=str(THIS_YEAR - 110)).status_code == 302


def test_minimum_age_follows_the_configuration(app, client, session, district):
    app.config["PANEL_MIN_AGE"] = 18
    refused(client, session, district, "minst 18 år", birth_year=str(THIS_YEAR - 17))


def test_unknown_district_is_refused(client, session, district):
    for value in ["999999", "abc", "-1", "1.5", "0", str(district.id) + "0"]:
        refused(client, session, district, "Välj ett område i listan", district=value)
    refused(client, session, district, "Välj ditt område.", district="")
    data = join_form(client, district)
    del data["district"]
    page = client.post("/panel/join", data=data).get_data(as_text=True)
    assert "Välj ditt område." in page and "Välj ett område i listan" not in page  # one message, not two


def test_district_can_be_derived_from_the_postcode(client, session, district, postcodes):
    page = client.get("/panel/join").get_data(as_text=True)
    assert 'id="postcode"' in page
    assert sign_up(client, district, district="", postcode="621 41").status_code == 302
    member = session.scalars(select(Member)).one()
    assert (member.district_id, member.postcode) == (district.id, "62141")


def test_unknown_or_malformed_postcodes_are_refused(client, session, district, postcodes):
    refused(client, session, district, "Välj ditt område, eller skriv ditt postnummer", district="", postcode="")
    refused(client, session, district, "Vi hittar inte postnumret", district="", postcode="99999")
    for postcode in ["6214", "abcde", "621 41 1", "62141a", "١٢٣٤"]:  # (Arabic-Indic digits count: test_digits.py)
        refused(client, session, district, "fem siffror", district="", postcode=postcode)


def test_without_a_postcode_table_the_form_asks_for_the_district_only(client, session, district):
    assert 'id="postcode"' not in client.get("/panel/join").get_data(as_text=True)
    refused(client, session, district, "Välj ditt område.", district="", postcode="62141")


def test_line_breaks_and_nul_are_refused(client, session, district, postcodes):
    good = {"email": "anna@example.se", "birth_year": "1985", "postcode": "62141"}
    for field, value in good.items():
        for bad in ["\r\n", "\n", "\r", "\x00", "\x1b"]:
            refused(client, session, district, "radbrytningar", **{field: value[:3] + bad + value[3:]})
    refused(client, session, district, "radbrytningar", email="anna@example.se\r\nBcc: victim@example.se")
    refused(client, session, district, "radbrytningar", terms_version="2026-11\x00")


def test_nul_or_unknown_values_in_choices_are_refused(client, session, district):
    for field in ["gender", "language"]:
        for value in ["kvinna\x00", "robot", "xx", "", "\r\n"]:
            refused(client, session, district, "Välj ett av alternativen", **{field: value})
    refused(client, session, district, "Välj ett av alternativen", gender=None)
    refused(client, session, district, "Välj ett område i listan", district="1\x00")


def test_other_wrong_values_get_a_message_next_to_the_field(client, session, district):
    for field, value, message in [
        ("email", "a" * 250 + "@example.se", "högst 254 tecken"),
        ("email", "inte-en-adress", "namn@exempel.se"),
        ("email", "anna@", "namn@exempel.se"),
        ("email", "", "Skriv din e-postadress"),
        ("accept_terms", None, "Du behöver godkänna villkoren"),
        ("terms_version", "1999-01", "Villkoren har ändrats"),
        ("terms_version", "x" * 5000, "Villkoren har ändrats"),
    ]:
        refused(client, session, district, message, **{field: value})


def test_an_over_long_body_is_refused_with_413(app, client, session, district):
    data = join_form(client, district, email="a@example.se")
    data["padding"] = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/panel/join", data=data)
    assert response.status_code == 413
    assert "för stort" in response.get_data(as_text=True)
    assert nothing_written(session)


def test_a_missing_or_wrong_csrf_token_is_refused(client, session, district):
    expired = "Formuläret hade gått ut"  # the join form comes back with what was typed (test_expired_form.py)
    for path, message in [("/panel/join", expired), ("/panel/me", "säkerhetskod")]:
        data = join_form(client, district)
        del data["csrf_token"]
        response = client.post(path, data=data)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    refused(client, session, district, expired, csrf_token="forged")
    other = client.application.test_client()
    refused(other, session, district, expired, csrf_token=csrf_token(client, "/panel/join"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(
    st.sampled_from(["email", "birth_year", "gender", "district", "postcode", "language", "accept_terms",
                     "terms_version"]),
    st.text(max_size=300), max_size=8))
def test_no_input_gives_a_500(client, district, fields):
    data = {**join_form(client, district), **fields}
    response = client.post("/panel/join", data=data)
    assert response.status_code in (302, 400), response.status_code
    response = client.post("/panel/me", data={"email": fields.get("email", ""), "csrf_token": data["csrf_token"]})
    assert response.status_code in (302, 400), response.status_code
