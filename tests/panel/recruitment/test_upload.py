import io
import re

import pytest
from sqlalchemy import select

from panel.models import RecruitmentInvite, RecruitmentWave
from panel.recruitment.services import CODE_ALPHABET
from tests.conftest import csrf_token
from tests.factories import make_staff
from tests.panel.districts.conftest import log_in
from tests.panel.recruitment.conftest import SAMPLE


def upload(client, content: bytes, name="Våren 2027", **fields):
    token = csrf_token(client, "/staff/recruitment/new")
    data = {"csrf_token": token, "name": name, "sample": (io.BytesIO(content), "urval.csv"), **fields}
    return client.post("/staff/recruitment/new", data=data, content_type="multipart/form-data")


def invites(session):
    session.expire_all()
    return session.scalars(select(RecruitmentInvite).order_by(RecruitmentInvite.person_ref)).all()


def test_upload_creates_a_wave_with_one_unique_code_per_person(analyst_client, session, districts):
    visby, slite = districts
    response = upload(analyst_client, SAMPLE.encode("utf-8"), reply_by="2027-03-31")
    assert response.status_code == 302, response.get_data(as_text=True)
    wave = session.scalars(select(RecruitmentWave)).one()
    assert response.headers["Location"].endswith(f"/staff/recruitment/{wave.id}")
    assert (wave.name, wave.reply_by.isoformat(), wave.status) == ("Våren 2027", "2027-03-31", "open")
    rows = invites(session)
    assert [(i.person_ref, i.gender, i.birth_year, i.district_id) for i in rows] == [
        ("P001", "kvinna", 1990, visby.id), ("P002", "man", 1950, visby.id),
        ("P003", "kvinna", 2001, slite.id), ("P004", "man", 1985, slite.id)]
    assert rows[1].name == "Björn Ärlig" and rows[1].address_line2 == "c/o Lind" and rows[0].postcode == "62141"
    assert rows[0].address_line2 is None
    codes = [i.code for i in rows]
    assert len(set(codes)) == 4
    assert all(re.fullmatch(f"[{CODE_ALPHABET}]{{8}}", code) for code in codes)
    page = analyst_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "4</strong> inbjudna" in page


@pytest.mark.parametrize("encode", [
    lambda text: text.encode("latin-1"),
    lambda text: "\ufeff".encode() + text.encode("utf-8"),
    lambda text: text.replace(";", ",").encode("utf-8"),
    lambda text: text.replace(";", "\t").encode("cp1252"),
], ids=["latin1-semicolon", "utf8-bom", "comma", "tab-cp1252"])
def test_the_usual_file_shapes_are_read_with_swedish_letters_intact(analyst_client, session, districts, encode):
    assert upload(analyst_client, encode(SAMPLE)).status_code == 302
    assert [i.name for i in invites(session)] == ["Åsa Öberg", "Björn Ärlig", "Lena Ek", "Per Åhl"]


def test_swedish_column_names_are_understood(analyst_client, session, districts):
    header = "Löpnummer;Kön;Födelseår;Område;Namn;Utdelningsadress;C/O-adress;Postnummer;Postort\r\n"
    content = header + SAMPLE.split("\r\n", 1)[1].replace(";K;", ";2;").replace(";M;", ";1;")
    assert upload(analyst_client, content.encode("cp1252")).status_code == 302
    assert [i.gender for i in invites(session)] == ["kvinna", "man", "kvinna", "man"]


BAD_FILES = {
    "wrong-columns": ("id;kön;ålder\r\n1;K;34\r\n".encode(), ["Kolumner saknas: birth_year, district, name",
                                                             "Filen har kolumnerna: id, kön, ålder"]),
    "bom-but-latin1-row": (b"\xef\xbb\xbf" + SAMPLE.encode("utf-8").replace("Lena Ek".encode(), "Lena Ök".encode("latin-1")),
                           ["Rad 4: Filen börjar som UTF-8 men den här raden"]),
    "utf16": (SAMPLE.encode("utf-16"), ["UTF-16"]),
    "excel": (b"PK\x03\x04\x14\x00", ["Excel-arbetsbok"]),
    "duplicate-person-ref": (SAMPLE.replace("P003", "P001").encode(), ["Rad 4: personreferensen P001 finns redan på rad 2"]),
    "mixed-delimiters": (SAMPLE.replace("P002;man;1950;01;Björn Ärlig;Ängsvägen 2;c/o Lind;62142;Visby",
                                        "P002,man,1950,01,Björn Ärlig,Ängsvägen 2,,62142,Visby").encode(),
                         ["Rad 3: raden har 1 fält men rubrikraden har 9"]),
    "bad-values": (SAMPLE.replace(";kvinna;1990;01;", ";okänt;90;99;").replace("62142", "6214").encode(),
                   ["Rad 2: kön okänt känns inte igen", "Rad 2: födelseåret 90 ska vara fyra siffror",
                    "Rad 2: området 99 finns inte", "Rad 3: Postnumret 6214 ska vara fem siffror"]),
    "too-young": (SAMPLE.replace(";2001;", ";2020;").encode(), ["Rad 4: födelseåret 2020 går inte"]),
    "empty-required": (SAMPLE.replace("Lena Ek", "").encode(), ["Rad 4: kolumnen name är tom"]),
    "header-only": (SAMPLE.split("\r\n")[0].encode(), ["inga rader med uppgifter"]),
    "open-quote": (SAMPLE.replace("Lena Ek", '"Lena Ek').encode(), ["Kontrollera citattecknen"]),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_bad_sample_files_are_refused_naming_the_row_and_nothing_is_saved(analyst_client, session, districts, case):
    content, messages = BAD_FILES[case]
    response = upload(analyst_client, content)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Filen lästes inte in" in page
    for message in messages:
        assert message in page
    session.expire_all()
    assert session.scalars(select(RecruitmentWave)).all() == []
    assert session.scalars(select(RecruitmentInvite)).all() == []


def test_missing_file_and_name_are_form_errors(analyst_client, session, districts):
    token = csrf_token(analyst_client, "/staff/recruitment/new")
    response = analyst_client.post("/staff/recruitment/new", data={"csrf_token": token, "name": ""},
                                   content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Välj urvalsfilen" in page and "Skriv ett namn" in page


def test_committee_members_cannot_see_recruitment(client, session, districts):
    log_in(client, make_staff(session, "committee"))
    session.commit()
    assert client.get("/staff/recruitment/").status_code == 403
    assert client.get("/staff/recruitment/new").status_code == 403


def test_unknown_wave_is_404(analyst_client):
    assert analyst_client.get("/staff/recruitment/999").status_code == 404
    assert analyst_client.get("/staff/recruitment/999/letters.pdf").status_code == 404
