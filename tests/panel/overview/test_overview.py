import re
from datetime import date

from panel.models import RecruitmentWave
from panel.overview.services import panel_overview
from tests.factories import make_district, make_member, make_staff
from tests.panel.districts.conftest import log_in


def rows(page: str, caption: str) -> dict[str, list[str]]:
    table = re.search(rf"<caption>{re.escape(caption)}</caption>(.*?)</table>", page, re.S).group(1)
    found = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip().replace("\xa0", " ")
                 for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        found[cells[0]] = cells[1:]
    return found


def seed(session):
    north, south = make_district(session, name="Norr"), make_district(session, name="Söder")
    make_district(session, name="Öde")  # nobody lives here
    wave = RecruitmentWave(name="Våren 2027")
    session.add(wave)
    session.flush()
    make_member(session, district=north, gender="kvinna", birth_year=2000)
    make_member(session, district=north, gender="man", birth_year=1950, status="paused")
    make_member(session, district=south, gender="kvinna", birth_year=1980, source="wave", recruitment_wave_id=wave.id)
    make_member(session, district=south, gender="annan", birth_year=1990, status="pending")
    make_member(session, district=south, gender="man", birth_year=1990, status="unsubscribed")
    session.commit()
    return wave


def test_counts_by_status_source_and_composition(session):
    seed(session)
    overview = panel_overview(session, today=date(2026, 6, 1))
    assert (overview.total, overview.in_panel) == (5, 3)
    assert [(c.key, c.count) for c in overview.by_status] == [
        ("pending", 1), ("active", 2), ("paused", 1), ("unsubscribed", 1)]
    assert [(c.key, c.count) for c in overview.by_source] == [("open", 2), ("Våren 2027", 1)]
    assert [(c.key, c.count) for c in overview.by_gender] == [("kvinna", 2), ("man", 1), ("annan", 0), ("uppger_ej", 0)]
    ages = {c.key: c.count for c in overview.by_age_band}
    assert (ages["25-34"], ages["45-54"], ages["75+"], ages["16-24"]) == (1, 1, 1, 0)
    assert [(c.key, c.count) for c in overview.by_district] == [("Norr", 2), ("Söder", 1), ("Öde", 0)]
    assert overview.by_district[0].share == 2 / 3


def test_start_page_shows_the_tables_to_committee_members(client, session):
    seed(session)
    log_in(client, make_staff(session, "committee"))
    session.commit()
    page = client.get("/staff/").get_data(as_text=True)
    assert rows(page, "Medlemmar i panelen efter hur de kom med") == {
        "Kom med genom": ["Antal", "Andel"], "Öppen anmälan": ["2", "67 %"], "Våren 2027": ["1", "33 %"]}
    assert rows(page, "Efter kön")["Kvinna"] == ["2", "67 %"]
    assert rows(page, "Efter område")["Öde"] == ["0", "0 %"]
    assert rows(page, "Alla anmälda efter status")["Har inte bekräftat ännu"] == ["1", "20 %"]


def test_an_empty_panel_has_no_shares(client, session):
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    page = client.get("/staff/").get_data(as_text=True)
    assert rows(page, "Efter kön")["Kvinna"] == ["0", "–"]
