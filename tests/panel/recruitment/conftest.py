import pytest

from tests.factories import make_district, make_staff
from tests.panel.districts.conftest import log_in


@pytest.fixture
def analyst_client(client, session):
    analyst = make_staff(session, "analyst")
    session.commit()
    log_in(client, analyst)
    return client


@pytest.fixture
def districts(session):
    """Two districts with codes that keep their leading zeros."""
    visby = make_district(session, code="01", name="Visby")
    slite = make_district(session, code="02", name="Slite")
    session.commit()
    return visby, slite


SAMPLE = (
    "person_ref;gender;birth_year;district;name;address;address2;postcode;city\r\n"
    "P001;kvinna;1990;01;Åsa Öberg;Storgatan 1;;621 41;Visby\r\n"
    "P002;man;1950;01;Björn Ärlig;Ängsvägen 2;c/o Lind;62142;Visby\r\n"
    "P003;K;2001;02;Lena Ek;Hamnen 3;;624 48;Slite\r\n"
    "P004;M;1985;Slite;Per Åhl;Skolgatan 4;;62448;Slite\r\n"
)
