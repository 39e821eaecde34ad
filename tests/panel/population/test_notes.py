"""The importer's notes on how it read the real SCB files, as the preview says them."""

from __future__ import annotations

import re

import pytest

from analysis.targets import DEFAULT_AGE_BANDS, read_population
from panel.population.notes import importer_note
from tests.panel.population.conftest import SAMPLES, needs_samples

ENGLISH = re.compile(r"\b(summed over|the file|used the|left out|grouped|aggregated|categor(y|ies)|persons)\b")
SAMPLE_FILES = ["BE0101A1_pxweb-example_en.px", "BE0101A1hier_pxweb-example_en.px",
                "BE0101N1_20210513-223812_SE214-excerpt.csv", "BE0101N1_TAB638_sv.px", "TAB6471_data.json",
                "api-v1_BefolkningNy-3e8562-POST.json"]


def _notes(filename: str) -> list[str]:
    table = read_population(SAMPLES / filename)
    try:
        banded = table.with_age_bands(DEFAULT_AGE_BANDS)
    except ValueError:  # no ages, or groups that do not split: the fit check says so
        banded = table
    return list(banded.notes)


@needs_samples
@pytest.mark.parametrize("filename", SAMPLE_FILES)
def test_the_importers_notes_on_real_scb_files_are_said_in_swedish(app, filename):
    with app.test_request_context("/"):
        said = [importer_note(note) for note in _notes(filename)]
    assert said
    assert not [note for note in said if ENGLISH.search(note)], said


@needs_samples
def test_the_notes_read_naturally_and_in_english_on_english_pages(app):
    with app.test_request_context("/"):
        swedish = [importer_note(note) for note in _notes("BE0101N1_20210513-223812_SE214-excerpt.csv")]
    assert "summerat över civilstånd (4 kategorier: ogifta, gifta, skilda, änkor/änklingar)" in swedish
    assert any(note.startswith("ettårsklasserna delades in i åldersgrupperna 16-24,25-34") and
               "9910 personer i åldrar utanför grupperna (0-15) räknas inte" in note for note in swedish)
    with app.test_request_context("/"):
        single = [importer_note(note) for note in _notes("api-v1_BefolkningNy-3e8562-POST.json")]
    assert "summerat över civilstånd (1 kategori: OG)" in single
    with app.test_request_context("/?lang=en"):
        english = [importer_note(note) for note in _notes("BE0101N1_20210513-223812_SE214-excerpt.csv")]
    assert "summed over civilstånd (4 categories: ogifta, gifta, skilda, änkor/änklingar)" in english
    assert importer_note("a note no rule knows") == "a note no rule knows"
