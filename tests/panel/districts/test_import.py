import io

import pytest
from sqlalchemy import select

from panel.models import DesoDistrict, District, PostcodeDistrict
from tests.conftest import SHARED, csrf_token
from tests.factories import make_district

SCB_KEY = SHARED / "scb_samples" / "koppling-deso2018-regso2020.csv"
needs_scb_key = pytest.mark.skipif(not SCB_KEY.exists(), reason=f"SCB's DeSO key is not at {SCB_KEY} (../shared beside the repository)")


def upload(client, content: bytes, kind="districts", scb_key: bytes | None = None):
    token = csrf_token(client, "/staff/districts/import")
    data = {"csrf_token": token, "kind": kind, "file": (io.BytesIO(content), "fil.csv")}
    if scb_key is not None:
        data["scb_key"] = (io.BytesIO(scb_key), "koppling.csv")
    return client.post("/staff/districts/import", data=data, content_type="multipart/form-data")


def districts(session):
    session.expire_all()
    return {d.code: d.name for d in session.scalars(select(District))}


@pytest.mark.parametrize("content", [
    "code,name\n0180,Östermalm\n0980,Gotland\n".encode(),
    "code;name\r\n0180;Östermalm\r\n0980;Gotland\r\n".encode(),
    "\ufeffKod;Namn\r\n0180;Östermalm\r\n0980;Gotland\r\n".encode(),
    "code;name\n0180;Östermalm\n0980;Gotland\n".encode("latin-1"),
    "code;name\n0180;\"Östermalm\"\n\n0980;Gotland;\n".encode("cp1252"),
], ids=["comma-utf8", "semicolon-crlf", "utf8-bom-swedish-headers", "latin1", "quoted-blank-line-trailing-sep"])
def test_district_file_in_every_usual_shape(admin_client, session, content):
    response = upload(admin_client, content)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert districts(session) == {"0180": "Östermalm", "0980": "Gotland"}


def test_import_upserts_by_code(admin_client, session):
    make_district(session, code="0180", name="Gamla namnet")
    session.commit()
    response = upload(admin_client, "code,name\n0180,Östermalm\n0181,Södermalm\n".encode())
    assert response.status_code == 302
    assert districts(session) == {"0180": "Östermalm", "0181": "Södermalm"}
    page = admin_client.get("/staff/districts/").get_data(as_text=True)
    assert "1 nya och 1 ändrade" in page


@pytest.mark.parametrize("content, message", [
    (b"kommun,namn\n0180,X\n", "Kolumner saknas: code. Filen har kolumnerna: kommun, namn"),
    (b"code,name\n0180,A\n0181\n", "Rad 3: raden har 1 fält men rubrikraden har 2"),
    (b"code,name\n0180,A\n0180,B\n", "Rad 3: koden 0180 finns redan på rad 2"),
    (b"code,name\n0180,\n", "Rad 2: kolumnen name är tom"),
    (b"code,name\n", "inga rader med uppgifter"),
    (b"", "Filen är tom"),
    (b"PK\x03\x04 excel", "Excel-arbetsbok"),
    ("code,name\n0180,Öst\n".encode("utf-16"), "UTF-16"),
    (b"\xef\xbb\xbfcode;name\n0180;Norr\n0181;S\xf6der\n", "Rad 3: Filen börjar som UTF-8"),
    (b'code,name\n0180,"Norr\n', "Kontrollera citattecknen"),
], ids=["wrong-columns", "short-row", "duplicate-code", "empty-name", "header-only", "empty", "xlsx",
        "utf16", "bom-then-latin1", "open-quote"])
def test_bad_district_files_are_refused_naming_the_line(admin_client, session, content, message):
    make_district(session, code="0999", name="Orörd")
    session.commit()
    response = upload(admin_client, content)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert districts(session) == {"0999": "Orörd"}


def test_a_bad_row_imports_nothing(admin_client, session):
    response = upload(admin_client, b"code,name\n0180,A\n0181,B\n" + b"x" * 40 + b",C\n")
    assert response.status_code == 400
    assert "Rad 4" in response.get_data(as_text=True)
    assert districts(session) == {}


def test_postcodes_are_normalised_and_point_at_districts(admin_client, session, app):
    north = make_district(session, code="01", name="Norr")
    make_district(session, code="02", name="Söder")
    session.commit()
    response = upload(admin_client, b"postnummer;omrade\n621 41;01\n62142;02\n", kind="postcodes")
    assert response.status_code == 302
    rows = {p.postcode: p.district.code for p in session.scalars(select(PostcodeDistrict))}
    assert rows == {"62141": "01", "62142": "02"}
    from panel.districts.services import district_for_postcode

    with app.test_request_context():
        from panel.extensions import db

        assert district_for_postcode(db.session, "621 41").id == north.id
        assert district_for_postcode(db.session, "nonsense") is None


def test_bad_postcode_file_names_every_line(admin_client, session):
    make_district(session, code="01")
    session.commit()
    response = upload(admin_client, b"postcode,district_code\n1234,01\n62141,99\n62142,01\n62142,01\n",
                      kind="postcodes")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Rad 2: Postnumret 1234 ska vara fem siffror" in page
    assert "Rad 3: området 99 finns inte" in page
    assert "Rad 5: postnumret 62142 finns redan på rad 4" in page
    assert session.scalars(select(PostcodeDistrict)).all() == []


@needs_scb_key
def test_deso_import_checked_against_scb_key_fills_regso(admin_client, session):
    make_district(session, code="V", name="Visby")
    session.commit()
    response = upload(admin_client, b"deso,district_code\n0980C1120,V\n0980c1150,V\n", kind="deso",
                      scb_key=SCB_KEY.read_bytes())
    assert response.status_code == 302, response.get_data(as_text=True)
    rows = {d.deso_code: d.regso_code for d in session.scalars(select(DesoDistrict))}
    assert rows == {"0980C1120": "0980R001", "0980C1150": "0980R001"}


@needs_scb_key
def test_deso_codes_missing_from_scb_key_are_refused(admin_client, session):
    make_district(session, code="V")
    session.commit()
    response = upload(admin_client, b"deso,district_code\n0980C1120,V\n0980C9999,V\nVISBY,V\n", kind="deso",
                      scb_key=SCB_KEY.read_bytes())
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Rad 3: DeSO-koden 0980C9999 finns inte i SCB:s nyckelfil" in page
    assert "Rad 4: VISBY är ingen DeSO-kod" in page
    assert session.scalars(select(DesoDistrict)).all() == []


def test_import_without_file_is_a_form_error(admin_client):
    token = csrf_token(admin_client, "/staff/districts/import")
    response = admin_client.post("/staff/districts/import", data={"csrf_token": token, "kind": "districts"},
                                 content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Välj en fil" in response.get_data(as_text=True)


@needs_scb_key
def test_cli_imports_districts_postcodes_and_deso(runner, session, tmp_path):
    (tmp_path / "d.csv").write_bytes("code;name\n0980;Gotlands kommun – Visby\n".encode("cp1252"))
    (tmp_path / "p.csv").write_text("postcode,district_code\n621 41,0980\n")
    (tmp_path / "deso.csv").write_text("deso,district_code\n0980C1120,0980\n")
    result = runner.invoke(args=["districts", "import", str(tmp_path / "d.csv")])
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output and "Latin-1" in result.output
    assert runner.invoke(args=["districts", "import-postcodes", str(tmp_path / "p.csv")]).exit_code == 0
    result = runner.invoke(args=["districts", "import-deso", str(tmp_path / "deso.csv"), "--scb-key", str(SCB_KEY)])
    assert result.exit_code == 0, result.output
    assert session.get(DesoDistrict, "0980C1120").regso_code == "0980R001"
    assert session.get(PostcodeDistrict, "62141").district.name == "Gotlands kommun – Visby"


def test_cli_refuses_a_bad_file_and_writes_nothing(runner, session, tmp_path):
    (tmp_path / "d.csv").write_text("code,name\n01,A\n01,B\n")
    result = runner.invoke(args=["districts", "import", str(tmp_path / "d.csv")])
    assert result.exit_code != 0
    assert "nothing imported" in result.output and "Rad 3" in result.output
    assert session.scalars(select(District)).all() == []
