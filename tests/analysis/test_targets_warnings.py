"""The importer's warnings are English text that also carry a code and data, for callers that explain them."""

import json

import pytest

from analysis.targets import read_population
from analysis.targets.assemble import TableWarning
from tests.conftest import SHARED

SAMPLES = SHARED / "scb_samples"


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"the shared SCB samples are not beside the repo ({SAMPLES})")
def test_a_partial_civilstand_selection_is_coded_with_what_is_missing():
    table = read_population(SAMPLES / "BE0101N1_TAB638_sv.px").select(region="0114")
    (warning,) = table.warnings
    assert isinstance(warning, TableWarning) and warning.startswith("civilstånd lacks skilda")
    assert warning.code == "partial_category"
    assert warning.params == {"dimension": "civilstånd", "missing": ("skilda", "änkor/änklingar"),
                              "kept": ("ogifta", "gifta")}
    assert json.loads(json.dumps(list(table.warnings))) == [str(warning)]  # stored as plain text


def test_missing_combinations_are_coded_with_their_count():
    text = b"gender,age,population\nkvinna,20,5\nman,20,4\nkvinna,21,3\n"
    (warning,) = read_population(text, filename="luckor.csv").warnings
    assert (warning.code, warning.params) == ("missing_combinations", {"count": 1})
