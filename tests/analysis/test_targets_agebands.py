"""AgeBands: parsing, validation, labels, vectorised assignment; grouping keeps the total."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.targets import DEFAULT_AGE_BANDS, AgeBand, AgeBands, PopulationTable
from analysis.targets import agebands as agebands_module


def test_default_bands():
    assert DEFAULT_AGE_BANDS.labels == ("16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+")
    assert str(DEFAULT_AGE_BANDS) == "16-24,25-34,35-44,45-54,55-64,65-74,75+"
    assert AgeBands.parse(str(DEFAULT_AGE_BANDS)) == DEFAULT_AGE_BANDS
    assert AgeBands.from_edges([16, 25, 35, 45, 55, 65, 75]) == DEFAULT_AGE_BANDS


@pytest.mark.parametrize(
    ("age", "label"),
    [(0, None), (15, None), (16, "16-24"), (24, "16-24"), (25, "25-34"), (74, "65-74"),
     (75, "75+"), (110, "75+"), (None, None), (float("nan"), None), (30.0, "25-34")],
)
def test_label_for(age, label):
    assert DEFAULT_AGE_BANDS.label_for(age) == label


def test_youth_panel_bands_with_a_gap_above():
    bands = AgeBands.parse(" 16–19 , 20-25 ")
    assert bands.labels == ("16-19", "20-25")
    assert [bands.label_for(a) for a in (15, 16, 19, 20, 25, 26)] == [None, "16-19", "16-19",
                                                                      "20-25", "20-25", None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the text is empty"),
        ("16-24,20-29", "age bands overlap: band 1 '16-24' and band 2 '20-29' both contain age 20"),
        ("25-34,16-24", "age bands are not sorted: band 2 '16-24' comes after band 1 '25-34'"),
        ("16-24,75+,80-89", "band 2 '75+' is open-ended, so it must be the last band"),
        ("24-16", "item 1: age band 24-16: the upper bound is below the lower bound"),
        ("16-24,old", "item 2 'old' is not a band"),
        ("16-24,,25+", "item 2 '' is not a band"),
    ],
)
def test_bad_bands_say_what_is_wrong(text, message):
    with pytest.raises(ValueError) as caught:
        AgeBands.parse(text)
    assert message in str(caught.value)


def test_bands_must_be_agebands_and_ages_whole():
    with pytest.raises(ValueError, match="at least one band"):
        AgeBands(())
    with pytest.raises(ValueError, match="not an AgeBand"):
        AgeBands(("16-24",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lower bound -1"):
        AgeBand(-1, 5)
    with pytest.raises(ValueError, match="whole years"):
        DEFAULT_AGE_BANDS.label_for(16.5)
    with pytest.raises(ValueError, match="whole years"):
        DEFAULT_AGE_BANDS.assign([20, -3])


def test_assign_is_a_categorical_in_band_order():
    result = DEFAULT_AGE_BANDS.assign(np.array([80, 16, 15, 44]))
    assert isinstance(result, pd.Categorical) and result.ordered
    assert list(result.categories) == list(DEFAULT_AGE_BANDS.labels)
    assert list(result.astype(object)) == ["75+", "16-24", np.nan, "35-44"]
    assert int(result.isna().sum()) == 1
    assert list(DEFAULT_AGE_BANDS.assign(pd.Series([None, 30], dtype="Int64")).astype(object)) == [
        np.nan, "25-34"]


def test_label_for_range_refuses_straddling_groups():
    bands = AgeBands.parse("0-15,16-24,25+")
    assert bands.label_for_range(10, 14) == "0-15"
    assert bands.label_for_range(100, None) == "25+"
    with pytest.raises(ValueError, match="age group '10-19' does not fit in one age band"):
        bands.label_for_range(10, 19)
    with pytest.raises(ValueError, match="'100\\+' does not fit"):
        AgeBands.parse("90-104").label_for_range(100, None)
    assert AgeBands.parse("16-24").label_for_range(100, None) is None


def test_the_agebands_module_imports_no_pandas_or_numpy():
    """Members and snapshots import AgeBands; the module itself needs only the standard library."""
    path = Path(agebands_module.__file__)
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('agebands_alone', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "sys.modules['agebands_alone'] = module\n"
        "spec.loader.exec_module(module)\n"
        "assert module.DEFAULT_AGE_BANDS.label_for(30) == '25-34'\n"
        "print(sorted(m for m in ('pandas', 'numpy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------- properties
edges = st.lists(st.integers(0, 105), min_size=1, max_size=8, unique=True).map(sorted)


@st.composite
def bands_and_table(draw):
    starts = draw(edges)
    open_last = draw(st.booleans())
    bands = AgeBands.from_edges(starts, open_last=open_last)
    counts = draw(st.lists(st.integers(0, 5000), min_size=101, max_size=101))
    genders = draw(st.sampled_from([("kvinna",), ("kvinna", "man")]))
    rows = [(g, str(age if age < 100 else "100+"), c + i)
            for i, g in enumerate(genders) for age, c in enumerate(counts)]
    frame = pd.DataFrame(rows, columns=["gender", "age", "population"])
    return bands, frame


@settings(max_examples=25, deadline=None)
@given(bands_and_table())
def test_grouping_into_bands_keeps_everyone_in_a_band(case):
    bands, frame = case
    table = PopulationTable.from_frame(frame)
    assert table.open_age == 100
    inside = table.data[table.data["age"].map(lambda a: bands.label_for(a) is not None)]
    try:
        bands.label_for_range(100, None)
    except ValueError:  # "100+" reaches beyond a band that holds age 100 or 101...
        with pytest.raises(ValueError, match="'100\\+' does not fit"):
            table.with_age_bands(bands)
        return
    banded = table.with_age_bands(bands)
    assert banded.total == int(inside["population"].sum())
    left_out = table.total - banded.total
    assert (f"left out {left_out} persons" in banded.notes[-1]) == (left_out > 0)
    assert banded.margin("gender").sum() == banded.total
    assert list(banded.margin("age_group").index) == list(bands.labels)
    for label, count in banded.margin("age_group").items():
        members = inside[inside["age"].map(bands.label_for) == label]
        assert count == int(members["population"].sum())


@settings(max_examples=60, deadline=None)
@given(edges, st.lists(st.one_of(st.none(), st.integers(0, 120)), max_size=30))
def test_assign_agrees_with_label_for(starts, ages):
    bands = AgeBands.from_edges(starts)
    assigned = bands.assign(ages).astype(object)
    expected = [bands.label_for(a) for a in ages]
    assert [None if isinstance(v, float) else v for v in assigned] == expected
