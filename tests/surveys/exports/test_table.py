"""The export table: names, codes and missing codes, straight from a definition."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.definition import parse_definition
from surveys.exports.table import (
    NOT_ANSWERED,
    NOT_SHOWN,
    ResponseRecord,
    build_table,
    spss_name,
    uncoded_variables,
)


def record(key: str, answers: dict, **fields) -> ResponseRecord:
    values = {"language": "sv", "submitted_on": date(2026, 11, 2), "gender": "kvinna", "age_group": "25-34",
              "district_code": "0180", **fields}
    return ResponseRecord(sort_key=key, answers=answers, **values)


def definition(*questions: dict):
    return parse_definition({"title": "T", "pages": [{"key": "p1", "questions": list(questions)}]})


CHOICE = {"key": "farg", "type": "single_choice", "text": "Färg?", "other": True,
          "options": [{"value": "rod", "label": "Röd"}, {"value": "bla", "label": "Blå"}]}


def test_single_choice_codes_follow_option_order_and_other_gets_its_own_text_variable():
    table = build_table(definition(CHOICE), [
        record("a", {"farg": "bla"}),
        record("b", {"farg": "other", "farg-other": "Grön"}),
        record("c", {"farg": None}),
        record("d", {}),
    ], title="T")
    assert table.data["farg"].tolist() == [2, 3, NOT_ANSWERED, NOT_SHOWN]
    assert table.data["farg_annat_text"].tolist() == ["", "Grön", "", ""]
    farg = table.variable("farg")
    assert farg.value_labels == {1: "Röd", 2: "Blå", 3: "Annat, nämligen"}
    assert farg.missing == {-1: "Ej besvarad", -2: "Visades inte"}
    assert farg.measure == "nominal" and farg.label == "Färg?"


def test_rows_are_numbered_in_the_order_of_the_random_ids_not_the_input():
    table = build_table(definition(CHOICE), [record("z", {"farg": "rod"}), record("a", {"farg": "bla"})], title="T")
    assert table.data["lopnr"].tolist() == [1, 2]
    assert table.data["farg"].tolist() == [2, 1]


def test_multiple_choice_is_one_zero_one_variable_per_option_with_missing_codes():
    question = {"key": "val", "type": "multiple_choice", "text": "Vilka?", "other": True,
                "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]}
    table = build_table(definition(question), [
        record("1", {"val": ["a", "other"], "val-other": "C"}),
        record("2", {"val": None}),
        record("3", {}),
    ], title="T")
    assert table.data["val_a"].tolist() == [1, NOT_ANSWERED, NOT_SHOWN]
    assert table.data["val_b"].tolist() == [0, NOT_ANSWERED, NOT_SHOWN]
    assert table.data["val_annat"].tolist() == [1, NOT_ANSWERED, NOT_SHOWN]
    assert table.data["val_annat_text"].tolist() == ["C", "", ""]
    assert table.variable("val_b").label == "Vilka?: B"
    assert table.variable("val_a").value_labels == {0: "Ej valt", 1: "Valt"}


def test_scale_dont_know_code_lies_above_the_scale_and_negative_scales_move_the_missing_codes():
    low = {"key": "low", "type": "scale", "text": "L?", "scale": {"min": -3, "max": 3, "dont_know": True}}
    high = {"key": "high", "type": "scale", "text": "H?", "scale": {"min": 90, "max": 100, "dont_know": True}}
    table = build_table(definition(low, high), [
        record("1", {"low": -3, "high": 100}), record("2", {"low": "dont_know", "high": "dont_know"}),
        record("3", {"low": None, "high": None}), record("4", {}),
    ], title="T")
    assert table.data["low"].tolist() == [-3, 99, -4, -5]
    assert table.variable("low").missing == {99: "Vet ej", -4: "Ej besvarad", -5: "Visades inte"}
    assert table.data["high"].tolist() == [100, 999, NOT_ANSWERED, NOT_SHOWN]


def test_matrix_items_are_variables_and_a_skipped_item_is_not_answered():
    matrix = {"key": "m", "type": "matrix", "text": "Hur?", "scale": {"min": 1, "max": 5, "dont_know": True},
              "items": [{"key": "x", "text": "X"}, {"key": "y", "text": "Y"}]}
    table = build_table(definition(matrix), [
        record("1", {"m": {"x": 5, "y": "dont_know"}}), record("2", {"m": {"x": 2}}), record("3", {"m": None}),
        record("4", {}),
    ], title="T")
    assert table.data["m_x"].tolist() == [5, 2, NOT_ANSWERED, NOT_SHOWN]
    assert table.data["m_y"].tolist() == [99, NOT_ANSWERED, NOT_ANSWERED, NOT_SHOWN]
    assert table.variable("m_y").label == "Hur?: Y"


def test_matrix_with_options_is_coded_like_a_single_choice():
    matrix = {"key": "m", "type": "matrix", "text": "Hur?", "items": [{"key": "x", "text": "X"}],
              "options": [{"value": "ja", "label": "Ja"}, {"value": "nej", "label": "Nej"}]}
    table = build_table(definition(matrix), [record("1", {"m": {"x": "nej"}})], title="T")
    assert table.data["m_x"].tolist() == [2]
    assert table.variable("m_x").value_labels == {1: "Ja", 2: "Nej"}


def test_yes_no_number_and_text():
    questions = [{"key": "yn", "type": "yes_no", "text": "Ja?"},
                 {"key": "n", "type": "number", "text": "Hur många?", "min": -5, "max": 5},
                 {"key": "t", "type": "long_text", "text": "Berätta"}]
    table = build_table(definition(*questions), [
        record("1", {"yn": "yes", "n": -1, "t": "=1+1"}), record("2", {"yn": "no", "n": None, "t": None}),
        record("3", {}),
    ], title="T")
    assert table.data["yn"].tolist() == [1, 0, NOT_SHOWN]
    # -1 is a real answer here: the missing codes go below the lowest answer (-5)
    assert table.data["n"].tolist() == [-1, -6, -7]
    assert table.variable("n").missing == {-6: "Ej besvarad", -7: "Visades inte"}
    assert table.data["t"].tolist() == ["=1+1", "", ""]  # made safe by the writers, not here


def test_number_questions_get_missing_codes_only_when_they_have_a_lowest_answer():
    questions = [{"key": "a", "type": "number", "text": "Antal?", "min": 1, "max": 365},
                 {"key": "b", "type": "number", "text": "Skillnad?"}]
    rows = [record("1", {"a": 3, "b": -1}), record("2", {"a": None, "b": None}), record("3", {})]
    table = build_table(definition(*questions), rows, title="T")
    assert table.data["a"].tolist() == [3, -1, -2]  # skipped and not shown told apart
    assert table.variable("a").missing == {-1: "Ej besvarad", -2: "Visades inte"}
    assert "Tomt" not in table.variable("a").note
    # no lowest answer: any whole number may be an answer, so both stay empty, and say so
    assert table.data["b"].tolist()[0] == -1 and table.data["b"].isna().tolist() == [False, True, True]
    assert not table.variable("b").missing and table.variable("b").note.startswith("Tomt = ej besvarad")
    assert [v.name for v in uncoded_variables(table)] == ["b"]


def test_weights_become_the_vikt_variable_and_are_absent_when_unweighted():
    rows = [record("a", {"farg": "rod"}), record("b", {"farg": "bla"})]
    weighted = build_table(definition(CHOICE), rows, title="T", weights={"a": 2.5, "b": 0.5})
    assert weighted.data["vikt"].tolist() == [2.5, 0.5] and weighted.weighted
    unweighted = build_table(definition(CHOICE), rows, title="T")
    assert "vikt" not in unweighted.data.columns and not unweighted.weighted


def test_labels_come_in_the_chosen_language_with_swedish_as_fallback():
    defn = parse_definition({"languages": ["sv", "en"], "title": {"sv": "T", "en": "T"}, "pages": [{"questions": [
        {"key": "q", "type": "single_choice", "text": {"sv": "Färg?", "en": "Colour?"},
         "options": [{"value": "a", "label": {"sv": "Röd", "en": "Red"}}, {"value": "b", "label": {"sv": "Blå", "en": "Blue"}}]}]}]})
    table = build_table(defn, [], title="T", language="en")
    assert table.variable("q").label == "Colour?" and table.variable("q").value_labels == {1: "Red", 2: "Blue"}


def test_question_keys_that_clash_with_background_variables_are_renamed():
    question = {"key": "vikt", "type": "yes_no", "text": "Väger du?"}
    table = build_table(definition(question), [record("a", {"vikt": "yes"})], title="T", weights={"a": 1.0})
    names = [v.name for v in table.variables]
    assert names.count("vikt") == 1 and "vikt_2" in names
    assert table.data["vikt_2"].tolist() == [1] and table.data["vikt"].tolist() == [1.0]


@pytest.mark.parametrize("candidate, expected", [
    ("transport", "transport"), ("and", "and_"), ("WITH", "WITH_"), ("1abc", "v1abc"), ("a.", "a"),
    ("ålder", "v_lder"), ("x" * 80, "x" * 64),
])
def test_spss_names(candidate, expected):
    assert spss_name(candidate, set()) == expected


def test_spss_names_are_unique_without_regard_to_case_even_when_cut_to_64_bytes():
    taken: set[str] = set()
    first = spss_name("q" * 70, taken)
    second = spss_name("Q" * 70, taken)
    assert first != second and first.upper() != second.upper()
    assert len(second.encode()) <= 64


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=90), min_size=1, max_size=20))
def test_any_candidates_give_legal_unique_names(candidates):
    taken: set[str] = set()
    names = [spss_name(candidate, taken) for candidate in candidates]
    assert len({name.upper() for name in names}) == len(names)
    for name in names:
        assert len(name.encode()) <= 64 and name[0].isalpha() and not name.endswith(".")
        assert all(ch.isascii() and (ch.isalnum() or ch in "_.") for ch in name)
        assert name.upper() not in {"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"}
