"""The whole recruitment, driven through the pages: upload → letters → join by code → confirm → statistics."""

import csv
import io
import re
from datetime import datetime, timezone

from panel.recruitment.services import Tally, strata, wave_stats
from tests.factories import make_member
from tests.panel.recruitment.conftest import SAMPLE
from tests.panel.recruitment.helpers import make_wave
from tests.panel.recruitment.test_join import confirm_from_mail, enter_code, sign_up
from tests.panel.recruitment.test_upload import upload


def row_cells(page: str, first_cell: str) -> list[str]:
    """The cells of the table row whose first cell is ``first_cell``."""
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r}")


def test_recruitment_wave_from_upload_to_join(analyst_client, app, session, districts, smtp_server):
    response = upload(analyst_client, SAMPLE.encode("cp1252"), name="Höst 2027")
    wave_url = response.headers["Location"]
    letters = analyst_client.get(wave_url + "/letters.csv").get_data().decode("utf-8-sig")
    codes = {row["namn"]: row["kod"] for row in csv.DictReader(io.StringIO(letters), delimiter=";")}
    pdf = analyst_client.get(wave_url + "/letters.pdf").get_data()
    assert pdf.startswith(b"%PDF-") and b"/Count 4" in pdf

    resident = app.test_client()
    assert enter_code(resident, codes["Björn Ärlig"].lower()).status_code == 302
    assert sign_up(resident, email="bjorn@example.se", birth_year="1950", gender="man").status_code == 302
    other = app.test_client()
    enter_code(other, codes["Lena Ek"])
    assert sign_up(other, email="lena@example.se", birth_year="2001").status_code == 302  # never confirms
    assert confirm_from_mail(app, resident, smtp_server, "bjorn@example.se").status_code == 302

    page = analyst_client.get(wave_url).get_data(as_text=True).replace("\xa0", " ")
    assert "4</strong> inbjudna" in page and "2</strong> har använt koden" in page
    assert "1</strong> har gått med" in page and "25 %</strong>" in page
    assert row_cells(page, "Man") == ["Man", "2", "1", "1", "50 %"]
    assert row_cells(page, "Kvinna") == ["Kvinna", "2", "1", "0", "0 %"]
    assert row_cells(page, "Visby") == ["Visby", "2", "1", "1", "50 %"]
    listing = analyst_client.get("/staff/recruitment/").get_data(as_text=True).replace("\xa0", " ")
    assert row_cells(listing, "Höst 2027")[3:] == ["4", "1", "25 %"]


def test_stats_per_stratum_and_margin(app, session, districts):
    visby, slite = districts
    wave = make_wave(app, session, sample=SAMPLE + "P005;kvinna;1991;01;Eva Al;Väg 5;;62141;Visby\r\n",
                     now=datetime(2027, 1, 15, tzinfo=timezone.utc))  # ages are those reached in 2027
    by_ref = {i.person_ref: i for i in wave.invites}
    joined = make_member(session, district=visby)  # confirmed
    pending = make_member(session, district=visby, status="pending")
    by_ref["P001"].member, by_ref["P001"].used_at = joined, joined.created_at
    by_ref["P005"].member, by_ref["P005"].used_at = pending, pending.created_at
    session.commit()

    stats = wave_stats(session, wave)
    assert stats.total == Tally(invited=5, used=2, joined=1)
    assert stats.total.rate == 0.2 and Tally().rate is None
    assert [(s.gender, s.age_band, s.district_code, s.tally) for s in stats.strata] == [
        ("kvinna", "25-34", "02", Tally(1, 0, 0)),  # P003, born 2001: 26
        ("kvinna", "35-44", "01", Tally(2, 2, 1)),  # P001 and P005, born 1990 and 1991
        ("man", "35-44", "02", Tally(1, 0, 0)),  # P004, born 1985
        ("man", "75+", "01", Tally(1, 0, 0)),  # P002, born 1950
    ]
    assert stats.by_gender == [("kvinna", Tally(3, 2, 1)), ("man", Tally(2, 0, 0))]
    assert stats.by_age_band == [("25-34", Tally(1, 0, 0)), ("35-44", Tally(3, 2, 1)), ("75+", Tally(1, 0, 0))]
    assert stats.by_district == [("Slite", Tally(2, 0, 0)), ("Visby", Tally(3, 2, 1))]
    assert sum(s.tally.invited for s in strata(session)) == 5  # all waves: the join history for planning
