import re

from panel.recruitment import services
from panel.recruitment.services import CODE_ALPHABET, format_code, normalise_code, unique_codes
from tests.panel.recruitment.helpers import make_wave


def test_alphabet_leaves_out_characters_that_look_alike():
    assert not set("0OQ1IL2Z5S8BG") & set(CODE_ALPHABET)
    assert re.fullmatch(f"[{CODE_ALPHABET}]{{8}}", services.new_code())


def test_codes_are_printed_with_a_dash_and_read_back_however_typed():
    assert format_code("ACDE3479") == "ACDE-3479"
    for typed in ("ACDE-3479", "acde3479", " acde 3479 ", "AC-DE–34_79", "acde\u20113479"):
        assert normalise_code(typed) == "ACDE3479"


def test_codes_are_unique_even_when_the_generator_repeats(app, session, districts, monkeypatch):
    wave = make_wave(app, session)
    taken = wave.invites[0].code
    draws = iter([taken, "AAAAAAAA", "AAAAAAAA", "CCCCCCCC", "DDDDDDDD"])
    monkeypatch.setattr(services, "new_code", lambda: next(draws))
    # First round: the stored code and a repeat are dropped; the second round fills up.
    assert sorted(unique_codes(session, 3)) == ["AAAAAAAA", "CCCCCCCC", "DDDDDDDD"]
