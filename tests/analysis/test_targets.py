"""PopulationTable: long and one-way CSVs, margins and targets, selecting, districts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.targets import (
    DEFAULT_AGE_BANDS,
    PopulationTable,
    Source,
    read_deso_regso_key,
    read_population,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"../shared (SCB samples and data) is not checked out beside the repo ({SHARED})"
)

LONG = """district,gender,age_group,population
Norra,kvinna,16-24,812
Norra,man,16-24,790
Norra,kvinna,25+,4000
Norra,man,25+,3990
Södra,kvinnor,16-24,500
Södra,män,16-24,480
Södra,kvinnor,25+,2600
Södra,män,25+,2610
"""


@pytest.fixture
def long_table() -> PopulationTable:
    return read_population(LONG.encode("utf-8"), filename="distrikt.csv")


def test_long_csv_in_the_app_vocabulary(long_table):
    table = long_table
    assert table.source == Source("distrikt.csv", "long-csv")
    assert table.dims == ("district", "gender", "age_group") and table.region_level == "district"
    assert table.region_dim == "district" and table.period == "" and table.reference_date == ""
    assert table.data["age_group"].cat.categories.tolist() == ["16-24", "25+"]
    assert table.data["population"].dtype == np.int64
    assert set(table.data["gender"]) == {"kvinna", "man"}
    assert table.total == 15782 and table.warnings == ()


def test_margins_are_series_named_population(long_table):
    gender = long_table.margin("gender")
    assert gender.name == "population" and gender.index.name == "gender"
    assert gender.to_dict() == {"kvinna": 7912, "man": 7870}
    joint = long_table.margin(("district", "gender"))
    assert isinstance(joint.index, pd.MultiIndex) and joint.index.names == ["district", "gender"]
    assert joint[("Södra", "man")] == 3090
    assert long_table.margin(["age_group"]).index.tolist() == ["16-24", "25+"]


def test_targets_are_what_weighting_consumes(long_table):
    targets = long_table.targets("gender", ("district", "age_group"), ["district"])
    assert list(targets) == ["gender", ("district", "age_group"), "district"]
    for key, series in targets.items():
        names = [key] if isinstance(key, str) else list(key)
        assert list(series.index.names) == names and series.sum() == long_table.total
    assert list(long_table.targets()) == ["district", "gender", "age_group"]


def test_margin_errors_say_what_exists(long_table):
    with pytest.raises(ValueError, match="this table calls its regions 'district'"):
        long_table.margin("region")
    with pytest.raises(ValueError, match="no dimension 'colour'"):
        long_table.margin("colour")
    with pytest.raises(ValueError, match="named twice"):
        long_table.margin(("gender", "gender"))


def test_several_periods_must_be_selected_before_summing():
    frame = pd.DataFrame({"period": ["2004", "2004", "2005", "2005"], "gender": ["kvinna", "man"] * 2,
                          "population": [29232, 28429, 29100, 28388]})
    table = PopulationTable.from_frame(frame)
    assert table.reference_date == "2004-12-31, 2005-12-31"
    with pytest.raises(ValueError, match="2 periods .* select\\(period=...\\)"):
        table.margin("gender")
    with pytest.raises(ValueError, match="2 periods"):
        _ = table.total
    assert table.margin(("period", "gender"))[("2005", "man")] == 28388
    assert table.select(period="2004").total == 57661
    with pytest.raises(ValueError, match=r"period \['2006'\] not in the table; it has 2004, 2005"):
        table.select(period="2006")
    with pytest.raises(ValueError, match="no 'region' column"):
        table.select(region="0980")


def test_with_age_bands_on_age_groups_and_on_single_years(long_table):
    merged = long_table.with_age_bands("16+")
    assert merged.margin("age_group").to_dict() == {"16+": long_table.total}
    with pytest.raises(ValueError, match="age group '25\\+' does not fit"):
        long_table.with_age_bands("16-24,25-64,65+")
    single = PopulationTable.from_frame(pd.DataFrame({"age": ["15 år", "16 år", "24 år", "100+ år"],
                                                      "population": [10, 20, 30, 40]}))
    assert single.open_age == 100
    banded = single.with_age_bands(DEFAULT_AGE_BANDS)
    assert banded.margin("age_group").tolist() == [50, 0, 0, 0, 0, 0, 40]
    assert "left out 10 persons in no band (ages 15)" in banded.notes[-1]
    assert banded.open_age is None


def test_one_way_margins_file():
    text = (
        "variable,category,population\n"
        "gender,kvinna,30152\n"
        "gender,man,29972\n"
        "age_group,16-24,5500\n"
        "age_group,25-64,29000\n"
        "age_group,0-15,9000\n"
        "age_group,65+,16620\n"
        "district,Norra,20000\n"
        "district,Södra,40125\n"
    ).encode("utf-8")
    table = read_population(text, filename="marginaler.csv")
    assert table.one_way and table.source.format == "one-way-csv"
    assert table.total == 60125  # the district margin comes first
    assert table.margin("gender").to_dict() == {"kvinna": 30152, "man": 29972}
    assert table.margin("age_group").index.tolist() == ["0-15", "16-24", "25-64", "65+"]
    assert table.warnings == (
        "the gender margin sums to 60124 but the district margin to 60125 (difference -1,"
        " tolerance 60.1)",
        "the age_group margin sums to 60120 but the district margin to 60125 (difference -5,"
        " tolerance 60.1)",
    )
    with pytest.raises(ValueError, match="one-way margins only"):
        table.margin(("district", "gender"))
    with pytest.raises(ValueError, match="one-way margins only"):
        table.select(district="Norra")
    adults = table.with_age_bands("16-24,25-64,65+")
    assert adults.margin("age_group").to_dict() == {"16-24": 5500, "25-64": 29000, "65+": 16620}
    assert adults.margin("gender").sum() == 60124


def test_from_frame_validates_like_a_file():
    with pytest.raises(ValueError, match="the data frame, row 1: unknown gender 'okänt'"):
        PopulationTable.from_frame(pd.DataFrame({"gender": ["kvinna", "okänt"], "population": [1, 2]}))
    with pytest.raises(ValueError, match="exactly one count column"):
        PopulationTable.from_frame(pd.DataFrame({"gender": ["kvinna"]}))
    with pytest.raises(ValueError, match="must be int64"):
        PopulationTable(pd.DataFrame({"population": [1.5]}))
    with pytest.raises(ValueError, match="unknown columns"):
        PopulationTable(pd.DataFrame({"sex": ["man"], "population": [1]}))


def test_filled_combinations_are_warned_about():
    table = read_population(b"district,gender,population\nNorra,kvinna,10\nNorra,man,9\nSodra,kvinna,7\n")
    assert table.margin(("district", "gender"))[("Sodra", "man")] == 0
    assert table.warnings[0].startswith("1 combinations are missing from the file and were filled with 0")


def test_mixed_region_levels_keep_the_finest_and_check_the_coarser():
    text = b"region,gender,population\n01,kvinna,100\n01,man,90\n0114,kvinna,60\n0114,man,50\n"
    text += b"0115,kvinna,40\n0115,man,35\n"
    table = read_population(text, filename="lan.csv")
    assert table.region_level == "kommun" and sorted(table.region_names) == ["0114", "0115"]
    assert table.total == 185
    assert table.warnings[1] == ("region 01, gender man is 90 but its 2 detailed cells sum to 85"
                                 " (difference -5, tolerance 8.7)")
    county = read_population(text, filename="lan.csv", region_level="län")
    assert county.total == 190 and county.region_names == {"01": "01"}
    with pytest.raises(ValueError, match="region_level='deso', but the file has regions at the levels"):
        read_population(text, region_level="deso")


# ----------------------------------------------------------------- districts
@needs_shared
def test_stockholm_stadsdelsomraden_as_a_long_csv(tmp_path):
    """The 14 stadsdelsområden (SCB/Sweco, see ../shared/data/README.md) as a municipality's file."""
    source = pd.read_csv(SHARED / "data" / "stockholm_0180_stadsdelsomraden_totals.csv", dtype=str)
    districts = source[source["district_type"] == "stadsdelsområde"]
    path = tmp_path / "stadsdelar.csv"
    districts[["district", "period", "population"]].to_csv(path, index=False, sep=";",
                                                           encoding="cp1252")
    table = read_population(path)
    assert table.region_level == "district" and table.data["district"].nunique() == 14
    city = source[source["district_type"] == "kommun"].set_index("period")["population"].astype(int)
    assert table.margin(["period"]).to_dict() == city.to_dict()
    y2011 = table.select(period="2011")
    assert y2011.total == 864324 and y2011.reference_date == "2011-12-31"
    assert y2011.targets("district")["district"]["Södermalm"] == int(
        districts.query("district == 'Södermalm' and period == '2011'")["population"].item())


@needs_shared
def test_deso_figures_aggregated_into_gotlands_regso_districts():
    """SYNTHETIC counts per DeSO (no DeSO population is published in ../shared), real DeSO→RegSO key."""
    key = read_deso_regso_key(SHARED / "scb_samples" / "koppling-deso2018-regso2020.csv")
    gotland = key[key["kommun"] == "0980"]
    rng = np.random.default_rng(20260101)
    counts = rng.integers(700, 2700, size=(len(gotland), 2))
    rows = [f"{deso};{sex};{n}" for deso, pair in zip(gotland["deso"], counts)
            for sex, n in zip(("kvinnor", "män"), pair)]
    text = "\n".join(["region;kön;population", *rows]) + "\n"
    table = read_population(text.encode("utf-8"), filename="deso.csv")
    assert table.region_level == "deso" and len(table.region_names) == 38
    mapping = dict(zip(key["deso"], key["regso"]))
    names = dict(zip(key["regso"], key["regso_name"]))
    districts = table.to_districts(mapping, names=names)
    assert districts.region_level == "district" and districts.dims == ("district", "gender")
    assert districts.total == table.total == int(counts.sum())
    assert len(districts.region_names) == 12 and districts.region_names["0980R001"] == "Bingeby"
    bingeby = gotland.loc[gotland["regso"] == "0980R001", "deso"].tolist()
    expected = sum(int(n) for deso, pair in zip(gotland["deso"], counts) if deso in bingeby for n in pair)
    assert districts.margin("district")["0980R001"] == expected
    assert districts.margin(("district", "gender")).index.names == ["district", "gender"]


def test_unmapped_deso_codes_are_named():
    table = PopulationTable.from_frame(pd.DataFrame({
        "region": ["0980C1120", "0980C1150", "0980A0070"], "population": [1, 2, 3]}))
    with pytest.raises(ValueError) as caught:
        table.to_districts({"0980C1120": "Visby"})
    message = str(caught.value)
    assert "2 regions in the table have no district in the mapping: 0980A0070, 0980C1150" in message


def test_regions_used_as_districts_without_a_mapping():
    table = PopulationTable.from_frame(pd.DataFrame({"region": ["0980R001", "0980R002"],
                                                     "population": [5, 6]}))
    districts = table.to_districts(names={"0980R001": "Bingeby"})
    assert districts.dims == ("district",) and districts.region_names["0980R001"] == "Bingeby"
    with pytest.raises(ValueError, match="no regions"):
        PopulationTable.from_frame(pd.DataFrame({"population": [1]})).to_districts()


def test_repr_is_short(long_table):
    text = repr(long_table)
    assert text.startswith("PopulationTable(source='distrikt.csv (long-csv)'") and "rows=8" in text


# --------------------------------------------------------- other CSV layouts
def test_scb_csv_with_the_year_as_a_column_and_a_total_row():
    text = (
        '"Folkmängd efter region, kön och år"\r\n\r\n'
        '"region";"kön";"år";"Folkmängd"\r\n'
        '"0980 Gotland";"män";"2020";29972\r\n'
        '"0980 Gotland";"kvinnor";"2020";30152\r\n'
        '"0980 Gotland";"totalt";"2020";60124\r\n'
    ).encode("iso-8859-1")
    table = read_population(text, filename="gotland.csv")
    assert table.source.format == "scb-csv" and table.period == "2020"
    assert table.margin("gender").to_dict() == {"kvinna": 30152, "man": 29972}
    assert table.warnings == () and table.totals["published"].tolist() == [60124]
    assert any("used the detailed cells" in note for note in table.notes)


def test_scb_csv_with_two_contents_in_the_period_columns():
    text = (
        '"Population by region, sex and year"\n\n'
        '"region";"sex";"Population 2020";"Population growth 2020"\n'
        '"0980 Gotland";"men";29972;-5\n'
        '"0980 Gotland";"women";30152;12\n'
    ).encode("utf-8")
    table = read_population(text, filename="growth.csv")
    assert table.total == 60124
    assert table.notes[0] == "used table contents 'Population'; left out 'Population growth'"
    with pytest.raises(ValueError, match="line 4 .* count '-5' is negative"):
        read_population(text, filename="growth.csv", content="Population growth")


def test_a_stored_table_with_text_age_groups_gets_them_back_in_age_order():
    frame = pd.DataFrame({"age_group": ["75+", "16-24", "100+", "90-99"],
                          "population": np.array([4, 1, 3, 2], dtype=np.int64)})
    table = PopulationTable(frame)
    assert table.margin("age_group").index.tolist() == ["16-24", "75+", "90-99", "100+"]
    with pytest.raises(ValueError, match="age_group 'old' is not an age range"):
        PopulationTable(frame.assign(age_group=["old", "16-24", "100+", "90-99"]))
