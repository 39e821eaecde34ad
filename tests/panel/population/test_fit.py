"""Population files that do not fit the panel (another area, one gender, part of the ages or of
civilstånd) are explained in Swedish and saved only when the analyst ticks a box naming the problems."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from panel.demo_seed import SCB_EXPORT, seed_districts
from panel.models import AuditEvent, PopulationDataset
from panel.population.services import population_in_use
from tests.panel.population.conftest import SAMPLES, confirm, needs_samples, pending_id, upload


@pytest.fixture
def gotland(session):
    """The demo's districts: Gotland's 12 RegSO areas (0980R001…), so the panel's municipality is 0980."""
    seed_districts(session)
    session.commit()


def plain(page: str) -> str:
    return re.sub(r"\s+", " ", page.replace("\xa0", " ").replace("&nbsp;", " ").replace("\u202f", " "))


def stored(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(PopulationDataset))


def problems_box(page: str) -> str:
    match = re.search(r'<div class="notice" id="problems">(.*?)</div>', page, re.S)
    assert match, "no box of serious problems on the page"
    return plain(match.group(1))


def preview(client, filename: str, *, region: str = "", period: str = "", content: bytes | None = None):
    response = upload(client, content if content is not None else (SAMPLES / filename).read_bytes(), filename,
                      name=filename, region=region, period=period)
    assert response.status_code == 302, response.get_data(as_text=True)
    pending = pending_id(response)
    return pending, client.get(f"/staff/population/preview/{pending}").get_data(as_text=True)


@needs_samples
def test_a_whole_country_file_of_women_only_is_refused_until_the_analyst_confirms(client, session, analyst,
                                                                                   gotland):
    pending, page = preview(client, "0000088D_20260309-173522_en.csv")
    box = problems_box(page)
    assert "Uppgifterna passar inte panelen (2)" in box
    assert "Filen har inga män." in box and "både kvinnor och män" in box
    assert ("Filen har ingen region och 5 274 947 invånare, fler än någon svensk kommun har. Den gäller troligen "
            "hela Sverige, inte Gotland (0980).") in box
    label = plain(re.search(r'<label for="accept">(.*?)</label>', page, re.S).group(1))
    assert "filen saknar män" in label and "fler invånare än någon kommun" in label

    response = confirm(client, pending)
    assert response.status_code == 400
    assert "Kryssa i rutan om du ändå vill spara dem" in response.get_data(as_text=True)
    assert stored(session) == 0 and population_in_use(session) is None

    assert confirm(client, pending, accept=True).status_code == 302
    assert population_in_use(session).name == "0000088D_20260309-173522_en.csv"
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "population.import")).one()
    assert event.detail["accepted_problems"] == ["whole_country", "one_gender"]


def test_a_file_without_region_is_warned_about_but_not_blocked(client, session, analyst, gotland):
    text = "gender,age,population\n" + "".join(f"{g},{age},300\n" for g in ("kvinna", "man") for age in range(101))
    pending, page = preview(client, "utan-region.csv", content=text.encode())
    assert 'id="problems"' not in page
    assert "Filen har ingen region, så det går inte att se vilket område siffrorna gäller." in plain(page)
    assert "Varningar (1)" in page
    assert confirm(client, pending).status_code == 302


@needs_samples
def test_another_municipality_with_part_of_the_ages_and_of_civilstand_is_named(client, session, analyst, gotland):
    pending, page = preview(client, "BE0101N1_TAB638_sv.px", region="0114")
    box = problems_box(page)
    assert "Uppgifterna passar inte panelen (3)" in box
    assert "Filen gäller Upplands Väsby (0114), inte Gotland (0980)." in box
    assert "skriv 0980 i fältet Region" in box
    assert "Filen har bara åldrarna 45–64 år, men panelen jämförs med åldrarna 16 år och äldre." in box
    assert "Filen har bara en del av kategorierna i civilstånd: ogifta, gifta." in box
    assert "Skilda, änkor/änklingar saknas" in box
    assert "Teknisk detalj" in box and 'lang="en"' in page
    label = plain(re.search(r'<label for="accept">(.*?)</label>', page, re.S).group(1))
    assert "Upplands Väsby" in label and "45–64 år" in label and "civilstånd" in label
    assert confirm(client, pending).status_code == 400
    assert stored(session) == 0


@needs_samples
@pytest.mark.parametrize("filename, dimension", [("BE0101N1_20260315-000755_en-first5lines.csv", "marital status"),
                                                 ("api-v1_BefolkningNy-3e8562-POST.json", "civilstånd")])
def test_a_partial_civilstand_selection_is_a_serious_swedish_warning_not_a_collapsed_english_one(
        client, session, analyst, gotland, filename, dimension):
    pending, page = preview(client, filename)
    box = problems_box(page)
    assert f"Filen har bara en del av kategorierna i {dimension}" in box
    assert "siffrorna gäller inte hela befolkningen" in box
    assert f"Ta ut tabellen igen med alla kategorier i {dimension} markerade" in box
    assert "(00), inte Gotland (0980)" in box  # and the area is the whole country
    assert "Filen har bara åldrarna" in box  # one age only
    # the heading about SCB's totals is not used for these warnings, and nothing serious is collapsed
    assert "Skillnader mellan SCB:s totaler" not in page
    assert "lacks" not in re.sub(r'<span lang="en">.*?</span>', "", page, flags=re.S)
    assert confirm(client, pending).status_code == 400 and stored(session) == 0


@needs_samples
def test_gotland_county_is_gotland_and_a_county_file_with_the_municipality_code_says_to_write_09(
        client, session, analyst, gotland):
    response = upload(client, (SAMPLES / "TAB6471_data.json").read_bytes(), "TAB6471_data.json", name="Län",
                      period="2026M01", region="0980")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Regionen 0980 finns inte i filen." in page and "skriv länets kod 09" in page

    pending, page = preview(client, "TAB6471_data.json", region="09", period="2026M01")
    assert "Skillnader mot SCB:s totaler" in page  # cell-key noise: its own heading, collapsed
    # The county is Gotland; what does not fit is the file's ten-year age groups.
    box = plain(problems_box(page))
    assert "Regionen" not in box and "inte Gotland" not in box
    assert "Filens åldersgrupper (0-9, 10-19, 20-29" in box and "kan inte delas upp i panelens åldersgrupper " \
        "(16-24, 25-34" in box
    assert "Ta ut tabellen efter ålder (ettårsklasser) och kön." in box
    assert confirm(client, pending).status_code == 400 and stored(session) == 0
    assert confirm(client, pending, accept=True).status_code == 302


@needs_samples
def test_another_county_is_not_the_panels_municipality(client, session, analyst, gotland):
    pending, page = preview(client, "BE0101A1_pxweb-example_en.px", region="01", period="2005")
    assert "inte Gotland (0980)" in problems_box(page)
    assert confirm(client, pending).status_code == 400


def test_the_demo_export_fits_the_gotland_panel_and_saves_without_a_box(client, session, analyst, gotland):
    pending, page = preview(client, SCB_EXPORT.name, content=SCB_EXPORT.read_bytes())
    assert 'id="problems"' not in page and 'name="accept"' not in page
    assert "Varningar (0)" in page and "Inga varningar." in page
    dims = re.search(r"<dt>Dimensioner</dt><dd>(.*?)</dd>", page).group(1)
    assert "kön" in dims and "ålder" in dims and "gender" not in dims and "age" not in dims
    assert confirm(client, pending).status_code == 302
    assert population_in_use(session).total == 60124


def test_figures_for_some_of_the_panels_districts_only_need_a_confirmation(client, session, analyst, gotland):
    text = "region,gender,age,population\n" + "".join(
        f"0980R001,{gender},{age},{10 + age}\n" for gender in ("kvinna", "man") for age in range(0, 101))
    pending, page = preview(client, "ett-omrade.csv", content=text.encode())
    box = problems_box(page)
    assert "Filen har inga siffror för 11 av panelens områden" in box
    assert confirm(client, pending).status_code == 400
    assert confirm(client, pending, accept=True).status_code == 302


def test_the_region_hint_names_county_codes(client, session, analyst):
    page = client.get("/staff/population/").get_data(as_text=True)
    assert "09 för Gotlands län" in page
