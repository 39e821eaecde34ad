import csv
import io
import re
from datetime import date

from panel.recruitment import letters
from panel.recruitment.services import format_code, letter_invites
from tests.panel.recruitment.helpers import make_wave


def test_merge_file_opens_in_swedish_excel(analyst_client, app, session, districts):
    wave = make_wave(app, session, reply_by=date(2027, 3, 31))
    response = analyst_client.get(f"/staff/recruitment/{wave.id}/letters.csv")
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="brev-{wave.id}.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert [r["namn"] for r in rows] == ["Åsa Öberg", "Björn Ärlig", "Lena Ek", "Per Åhl"]  # postcode, then name
    codes = {format_code(i.code) for i in wave.invites}
    assert {r["kod"] for r in rows} == codes
    assert all(re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", r["kod"]) for r in rows)
    assert rows[0]["postnummer"] == "621 41" and rows[1]["adress2"] == "c/o Lind"
    assert {r["webbadress"] for r in rows} == {"http://panel.test/join"}
    assert {r["svara_senast"] for r in rows} == {"2027-03-31"}


def test_merge_file_defuses_spreadsheet_formulas(app, session, districts):
    wave = make_wave(app, session, sample="person_ref;gender;birth_year;district;name;address;postcode;city\n"
                                          "X1;kvinna;1980;01;=HYPERLINK(\"x\");Gatan 1;62141;Visby\n")
    body = letters.merge_csv(wave.invites, join_url="http://panel.test/join", reply_by=None).decode("utf-8-sig")
    assert "'=HYPERLINK" in body


def test_pdf_has_one_page_per_letter(analyst_client, app, session, districts):
    wave = make_wave(app, session)
    response = analyst_client.get(f"/staff/recruitment/{wave.id}/letters.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    pdf = response.get_data()
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 4
    assert b"/Count 4" in pdf
    assert b"DejaVu" in pdf  # a Unicode font is embedded, so åäö print (Debian's fonts-dejavu-core)


def test_letter_text_has_code_address_link_and_deadline(app, session, districts):
    wave = make_wave(app, session, reply_by=date(2027, 3, 31))
    with app.test_request_context("/?lang=en"):
        invite = next(i for i in letter_invites(session, wave) if i.person_ref == "P002")
        letter = letters.letter_for(invite, wave, join_url="http://panel.test/join", municipality="Gotland",
                                    contact_email="panel@gotland.se")
    text = letter.text()
    assert letter.address == ["Björn Ärlig", "Ängsvägen 2", "c/o Lind", "621 42 Visby"]
    assert format_code(invite.code) in text
    assert "gå till http://panel.test/join och skriv in din kod" in text  # Swedish even for an English UI
    assert "Gå med senast 31 mars 2027." in text
    assert "panel@gotland.se" in text


def test_a_wave_letter_text_replaces_the_standard_text(app, session, districts):
    wave = make_wave(app, session, letter_text="Första stycket.\r\n\r\nAndra stycket.")
    with app.test_request_context():
        letter = letters.letter_for(wave.invites[0], wave, join_url="http://x/join", municipality="Gotland",
                                    contact_email="a@b.se")
    assert letter.paragraphs[:2] == ["Första stycket.", "Andra stycket."]
    assert "lottats fram" not in letter.text()


def test_pdf_falls_back_to_a_latin1_font_without_dejavu(app, session, districts, monkeypatch):
    monkeypatch.setattr(letters, "FONT_PLACES", ())
    wave = make_wave(app, session)
    with app.test_request_context():
        pages = [letters.letter_for(i, wave, join_url="http://x/join", municipality="Gotland",
                                    contact_email="a@b.se") for i in wave.invites]
    pdf = letters.letters_pdf(pages, title="Våren – Gotland")
    assert pdf.startswith(b"%PDF-") and b"/Count 4" in pdf and b"DejaVu" not in pdf
