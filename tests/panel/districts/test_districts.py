from sqlalchemy import select

from panel.models import District
from tests.conftest import csrf_token
from tests.factories import make_district, make_member, make_staff, PASSWORD


def test_admin_creates_and_renames_a_district_keeping_leading_zeros(admin_client, session):
    token = csrf_token(admin_client, "/staff/districts/")
    response = admin_client.post("/staff/districts/", data={"code": "0980-01", "name": "Visby", "csrf_token": token})
    assert response.status_code == 302
    district = session.scalars(select(District)).one()
    assert (district.code, district.name) == ("0980-01", "Visby")

    token = csrf_token(admin_client, f"/staff/districts/{district.id}")
    admin_client.post(f"/staff/districts/{district.id}", data={"code": "0980-01", "name": "Visby innerstad",
                                                               "csrf_token": token})
    session.expire_all()
    assert district.name == "Visby innerstad"
    assert "Visby innerstad" in admin_client.get("/staff/districts/").get_data(as_text=True)


def test_duplicate_code_is_refused_with_a_message(admin_client, session):
    make_district(session, code="01", name="Norr")
    session.commit()
    token = csrf_token(admin_client, "/staff/districts/")
    response = admin_client.post("/staff/districts/", data={"code": "01", "name": "Söder", "csrf_token": token})
    assert response.status_code == 400
    assert "Det finns redan ett område med koden 01" in response.get_data(as_text=True)
    assert session.scalars(select(District.name)).all() == ["Norr"]


def test_renaming_to_a_taken_code_is_refused(admin_client, session):
    make_district(session, code="01", name="Norr")
    south = make_district(session, code="02", name="Söder")
    session.commit()
    token = csrf_token(admin_client, f"/staff/districts/{south.id}")
    response = admin_client.post(f"/staff/districts/{south.id}", data={"code": "01", "name": "Söder",
                                                                      "csrf_token": token})
    assert response.status_code == 400
    session.expire_all()
    assert south.code == "02"


def test_delete_is_refused_while_members_live_there(admin_client, session):
    district = make_district(session, name="Slite")
    make_member(session, district=district)
    session.commit()
    token = csrf_token(admin_client, f"/staff/districts/{district.id}")
    response = admin_client.post(f"/staff/districts/{district.id}/delete", data={"csrf_token": token})
    assert response.status_code == 409
    assert "kan inte tas bort: 1 panelmedlemmar" in response.get_data(as_text=True)
    assert session.get(District, district.id) is not None


def test_delete_an_unused_district(admin_client, session):
    district = make_district(session, name="Fårö")
    session.commit()
    token = csrf_token(admin_client, f"/staff/districts/{district.id}")
    response = admin_client.post(f"/staff/districts/{district.id}/delete", data={"csrf_token": token})
    assert response.status_code == 302
    assert session.scalars(select(District.id)).all() == []


def test_delete_needs_a_csrf_token(admin_client, session):
    district = make_district(session)
    session.commit()
    assert admin_client.post(f"/staff/districts/{district.id}/delete").status_code == 400
    assert session.get(District, district.id) is not None


def test_only_admins_manage_districts(client, session):
    analyst = make_staff(session, "analyst")
    session.commit()
    token = csrf_token(client, "/staff/login")
    client.post("/staff/login", data={"email": analyst.email, "password": PASSWORD, "csrf_token": token})
    assert client.get("/staff/districts/").status_code == 403
    assert client.get("/staff/districts/import").status_code == 403


def test_unknown_district_is_404(admin_client):
    assert admin_client.get("/staff/districts/999").status_code == 404
