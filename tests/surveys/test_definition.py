import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.definition import (
    DONT_KNOW,
    Condition,
    DefinitionError,
    QuestionType,
    definition_to_dict,
    dump_definition,
    load_definition,
    parse_definition,
    structure_changes,
    structure_fingerprint,
)
from surveys.languages import direction, is_rtl


def base() -> dict:
    """A small valid survey in Swedish and English."""
    return {
        "languages": ["sv", "en"],
        "title": {"sv": "Enkät", "en": "Survey"},
        "pages": [
            {"key": "p1", "questions": [
                {"key": "q1", "type": "single_choice", "text": {"sv": "Fråga ett", "en": "Question one"},
                 "options": [{"value": "a", "label": {"sv": "A", "en": "A"}},
                             {"value": "b", "label": {"sv": "B", "en": "B"}}]},
                {"key": "q2", "type": "scale", "text": {"sv": "Skala", "en": "Scale"},
                 "scale": {"min": 1, "max": 5}},
            ]},
            {"key": "p2", "questions": [
                {"key": "q3", "type": "short_text", "text": {"sv": "Text", "en": "Text"}},
            ]},
        ],
    }


def errors_of(data) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        parse_definition(data)
    return list(info.value.errors)


def test_the_example_survey_has_every_question_type_a_condition_and_three_languages(example):
    assert example.languages == ("sv", "en", "ar")
    assert {q.type for q in example.questions()} == set(QuestionType)
    assert example.page("biblioteken").condition == Condition("bibliotek", "equals", "yes")
    assert example.question("buss_forbattring").condition == Condition("transport", "equals", "buss")
    assert example.question("trygghet_kvall").scale.values()[-1] == DONT_KNOW
    assert example.question("transport").other["ar"]  # built-in label in Arabic
    assert all(set(q.text) == {"sv", "en", "ar"} for q in example.questions())


@pytest.mark.parametrize("format", ["yaml", "json"])
def test_dump_and_load_round_trip(example, format):
    text = dump_definition(example, format)
    assert load_definition(text, format) == example
    assert dump_definition(load_definition(text, format), format) == text


printable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=printable, question=printable, label=printable, intro=st.lists(printable, min_size=1, max_size=3))
def test_round_trip_keeps_any_text(title, question, label, intro):
    data = base()
    data["title"] = {"sv": title, "en": label}
    data["intro"] = {"sv": "\n\n".join(intro), "en": label}
    data["pages"][0]["questions"][0]["text"]["sv"] = question
    data["pages"][0]["questions"][0]["options"][1]["label"]["en"] = label
    defn = parse_definition(data)
    for format in ("yaml", "json"):
        assert load_definition(dump_definition(defn, format), format) == defn


def test_missing_keys_are_generated_and_kept():
    data = base()
    del data["pages"][1]["key"]
    del data["pages"][1]["questions"][0]["key"]
    defn = parse_definition(data)
    assert defn.pages[1].key == "p2"
    assert defn.pages[1].questions[0].key == "q3"
    assert parse_definition(definition_to_dict(defn)) == defn


def mutate(path, value):
    """Set data[path...] = value (or delete when value is DELETE) on a fresh base()."""
    data = base()
    target = data
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


DELETE = object()
Q1 = ("pages", 0, "questions", 0)
Q2 = ("pages", 0, "questions", 1)
Q3 = ("pages", 1, "questions", 0)


@pytest.mark.parametrize("path, value, expected", [
    (Q1 + ("options",), DELETE, 'fråga "q1" (sida 1): fältet "options" saknas'),
    (Q1 + ("type",), "radio", 'fråga "q1" (sida 1): fältet "type": "radio" är ingen frågetyp'),
    (Q1 + ("text",), {"sv": "Bara svenska"}, 'fråga "q1" (sida 1): fältet "text" saknar text på engelska ("en")'),
    (Q1 + ("text",), {"en": "Only English"}, 'fråga "q1" (sida 1): fältet "text" saknar text på svenska ("sv")'),
    (Q1 + ("text",), {"sv": "x", "en": "y", "de": "z"}, 'fältet "text" har text på språket "de", som inte finns'),
    (Q1 + ("text",), {"sv": "x", "en": True}, 'fråga "q1" (sida 1): fältet "text" på språket "en": skriv texten inom citattecken'),
    (Q1 + ("requried",), True, 'fråga "q1" (sida 1): okänt fält "requried"'),
    (Q1 + ("scale",), {"min": 1, "max": 5}, 'fråga "q1" (sida 1): fältet "scale" hör inte till frågetypen "single_choice"'),
    (Q1 + ("required",), "ja", 'fråga "q1" (sida 1): fältet "required" ska vara true eller false'),
    (Q1 + ("options", 1, "value"), "a", 'fråga "q1" (sida 1): alternativ 2 i "options": fältet "value": "a" används redan'),
    (Q1 + ("options", 1, "value"), "Stor Bokstav", 'fråga "q1" (sida 1): alternativ 2 i "options": fältet "value" ska vara'),
    (Q1 + ("options", 0, "label"), DELETE, 'fråga "q1" (sida 1): alternativ 1 i "options": fältet "label" saknas'),
    (Q1 + ("options",), [{"value": "a", "label": "A"}], 'fråga "q1" (sida 1): fältet "options" ska ha minst 2'),
    (Q1 + ("key",), "Q 1", 'fråga "Q 1" (sida 1): fältet "key" ska börja med en liten bokstav'),
    (Q1 + ("key",), "csrf_token", 'fältet "key": "csrf_token" är reserverat'),
    (Q2 + ("key",), "q1", 'fråga "q1" (sida 1): fältet "key": "q1" används redan av en fråga på sida 1'),
    (Q2 + ("scale",), {"min": 5, "max": 1}, 'fråga "q2" (sida 1): fältet "scale": fältet "min" ska vara mindre än fältet "max"'),
    (Q2 + ("scale",), {"min": 0, "max": 100}, 'fråga "q2" (sida 1): fältet "scale": skalan har för många steg'),
    (Q2 + ("scale",), {"max": 5}, 'fråga "q2" (sida 1): fältet "scale": fältet "min" saknas'),
    (Q2 + ("scale",), {"min": "ett", "max": 5}, 'fråga "q2" (sida 1): fältet "scale": fältet "min" ska vara ett heltal'),
    (Q2 + ("scale",), {"min": 1, "max": 5, "dont_know": {"sv": "Vet ej"}},
     'fråga "q2" (sida 1): fältet "scale": fältet "dont_know" saknar text på engelska'),
    (Q3 + ("max_length",), 0, 'fråga "q3" (sida 2): fältet "max_length" ska vara mellan 1 och 1000'),
    (Q3 + ("min",), 5, 'fråga "q3" (sida 2): fältet "min" hör inte till frågetypen "short_text"'),
    (("pages", 1, "key"), "p1", 'sida 2 ("p1"): fältet "key": "p1" används redan av sida 1'),
    (("pages",), [], 'enkäten: fältet "pages" saknas'),
    (("title",), DELETE, 'enkäten: fältet "title" saknas'),
    (("languages",), ["en"], 'enkäten: fältet "languages" ska innehålla svenska ("sv")'),
    (("languages",), ["sv", "sv"], 'fältet "languages": "sv" står två gånger'),
    (("languages",), ["sv", "English"], 'fältet "languages": "English" är ingen språkkod'),
    (("format",), 2, 'enkäten: fältet "format" ska vara 1'),
])
def test_each_error_names_the_question_or_page_and_the_field(path, value, expected):
    found = errors_of(mutate(path, value))
    assert any(expected in error for error in found), found


def test_all_errors_are_reported_at_once():
    data = base()
    del data["pages"][0]["questions"][0]["options"]
    data["pages"][0]["questions"][1]["text"] = {"sv": "Bara svenska"}
    data["pages"][1]["questions"][0]["colour"] = "red"
    found = errors_of(data)
    assert len(found) == 3
    assert [e.split(":")[0] for e in found] == ['fråga "q1" (sida 1)', 'fråga "q2" (sida 1)', 'fråga "q3" (sida 2)']


def test_a_question_without_a_key_is_named_by_its_place():
    data = mutate(Q3 + ("key",), DELETE)
    data["pages"][1]["questions"][0]["type"] = "matrix"
    found = errors_of(data)
    assert any(error.startswith('fråga 1 (sida 2): fältet "items" saknas') for error in found), found


def test_a_plain_string_is_swedish_text():
    data = base()
    data["languages"] = ["sv"]
    data["title"] = "Enkät"
    for page in data["pages"]:
        for question in page["questions"]:
            question["text"] = "Fråga"
            for option in question.get("options", []):
                option["label"] = option["label"]["sv"]
    assert parse_definition(data).title == {"sv": "Enkät"}


def test_built_in_labels_cover_known_languages_and_name_the_gap_for_others():
    data = base()
    data["pages"][0]["questions"][0]["other"] = True
    data["pages"][0]["questions"].append({"key": "yn", "type": "yes_no", "text": {"sv": "Ja?", "en": "Yes?"}})
    defn = parse_definition(data)
    assert defn.question("q1").other == {"sv": "Annat, nämligen", "en": "Other, namely"}
    assert [o.label["en"] for o in defn.question("yn").options] == ["Yes", "No"]
    data["languages"].append("ti")
    found = errors_of(data)
    assert any('fråga "yn" (sida 1): fältet "yes_label" har ingen inbyggd text på tigrinja' in e for e in found), found


# --- conditions ---------------------------------------------------------------------------


def with_condition(condition, on=Q3):
    return mutate(on + ("condition",), condition)


def test_conditions_on_earlier_pages_parse():
    defn = parse_definition(with_condition({"question": "q1", "equals": "b"}))
    assert defn.question("q3").condition == Condition("q1", "equals", "b")
    defn = parse_definition(with_condition({"question": "q2", "equals": "4"}))
    assert defn.question("q3").condition == Condition("q2", "equals", 4)  # scale values are numbers
    defn = parse_definition(mutate(("pages", 1, "condition"), {"question": "q1", "equals": "a"}))
    assert defn.pages[1].condition == Condition("q1", "equals", "a")


@pytest.mark.parametrize("condition, on, expected", [
    ({"question": "q3", "equals": "x"}, Q1, 'fråga "q1" (sida 1): fältet "condition": frågan "q3" kommer inte före den här sidan'),
    ({"question": "q1", "equals": "a"}, Q2, 'fråga "q2" (sida 1): fältet "condition": frågan "q1" kommer inte före'),
    ({"question": "nope", "equals": "a"}, Q3, 'fråga "q3" (sida 2): fältet "condition": frågan "nope" finns inte'),
    ({"question": "q1", "equals": "c"}, Q3, 'fråga "q3" (sida 2): fältet "condition": värdet "c" finns inte bland svaren på frågan "q1" (a, b)'),
    ({"question": "q2", "equals": 9}, Q3, 'värdet "9" finns inte bland svaren på frågan "q2" (1, 2, 3, 4, 5)'),
    ({"question": "q1", "includes": "a"}, Q3, 'fältet "condition": använd "equals" för frågan "q1"'),
    ({"question": "q1"}, Q3, 'fältet "condition": ange antingen "equals" eller "includes"'),
    ({"question": "q1", "equals": "a", "or": "b"}, Q3, 'fältet "condition": okänt fält "or"'),
    ("q1 = a", Q3, 'fråga "q3" (sida 2): fältet "condition": ska ha fälten "question" och "equals"'),
])
def test_bad_conditions_are_named(condition, on, expected):
    found = errors_of(with_condition(condition, on))
    assert any(expected in error for error in found), found


def test_conditions_cannot_use_free_text_answers():
    data = base()
    data["pages"].append({"key": "p3", "questions": [
        {"key": "q4", "type": "yes_no", "text": {"sv": "x", "en": "x"}, "condition": {"question": "q3", "equals": "x"}}]})
    found = errors_of(data)
    assert any('frågan "q3" är av typen "short_text": villkor kan bara gälla' in e for e in found), found


def test_condition_holds():
    assert Condition("q", "equals", "a").holds({"q": "a"})
    assert not Condition("q", "equals", "a").holds({"q": "b"})
    assert not Condition("q", "equals", "a").holds({})
    assert Condition("q", "includes", "a").holds({"q": ["b", "a"]})
    assert not Condition("q", "includes", "a").holds({"q": "a"})
    assert Condition("q", "equals", 3).holds({"q": 3})


# --- structure ---------------------------------------------------------------------------


def test_fingerprint_ignores_text_corrections(example):
    data = definition_to_dict(example)
    data["title"]["sv"] = "Ny rubrik"
    data["pages"][0]["questions"][0]["text"]["en"] = "How do you travel?"
    data["pages"][0]["questions"][0]["options"][0]["label"]["ar"] = "سيارة خاصة"
    data["pages"][0]["questions"][1]["help"] = {"sv": "Ny hjälp", "en": "New help", "ar": "مساعدة"}
    data["pages"][0]["title"]["sv"] = "Vardagen"
    corrected = parse_definition(data)
    assert corrected != example
    assert structure_fingerprint(corrected) == structure_fingerprint(example)
    assert structure_changes(example, corrected) == []


@pytest.mark.parametrize("change", [
    lambda d: d["pages"][0]["questions"][0]["options"].pop(),
    lambda d: d["pages"][0]["questions"][0].update(required=False),
    lambda d: d["pages"][0]["questions"].reverse(),
    lambda d: d["pages"][0]["questions"][1]["scale"].pop("dont_know"),
    lambda d: d["pages"][2]["questions"][1].pop("condition"),
    lambda d: d["pages"][2]["questions"][0].update(max_choices=2),
    lambda d: d["languages"].pop(),
])
def test_fingerprint_changes_with_structure(example, change):
    data = copy.deepcopy(definition_to_dict(example))
    change(data)
    if len(data["languages"]) == 2:  # dropping Arabic: drop its texts too
        data = json.loads(json.dumps(data).replace('"ar":', '"xx":'))
        data = _drop_language(data, "xx")
    changed = parse_definition(data)
    assert structure_fingerprint(changed) != structure_fingerprint(example)
    assert structure_changes(example, changed)


def _drop_language(value, code):
    if isinstance(value, dict):
        return {k: _drop_language(v, code) for k, v in value.items() if k != code}
    if isinstance(value, list):
        return [_drop_language(v, code) for v in value]
    return value


def test_structure_changes_name_the_question(example):
    data = definition_to_dict(example)
    data["pages"][0]["questions"][0]["options"].pop()
    changes = structure_changes(example, parse_definition(data))
    assert changes == ['frågan "transport" har ändrats (options)']


# --- files ------------------------------------------------------------------------------------


def test_yaml_syntax_errors_name_the_line():
    with pytest.raises(DefinitionError) as info:
        load_definition("title: Enkät\npages:\n  - key: [p1\n")
    assert "filen kunde inte läsas som YAML: rad" in str(info.value)


def test_json_syntax_errors_name_the_line():
    with pytest.raises(DefinitionError) as info:
        load_definition('{\n"title": "x",\n}', "json")
    assert "filen kunde inte läsas som JSON: rad 3" in str(info.value)


def test_yaml_aliases_are_refused():
    bomb = 'a: &a ["x", "x"]\nb: &b [*a, *a]\nc: [*b, *b]\n'
    with pytest.raises(DefinitionError) as info:
        load_definition(bomb)
    assert "alias" in str(info.value)


def test_a_key_given_twice_is_refused_instead_of_keeping_the_last():
    with pytest.raises(DefinitionError) as info:
        load_definition("title: {sv: Första}\ntitle: {sv: Andra}\npages: []\n")
    assert "rad 2: nyckeln ”title” står två gånger" in str(info.value)
    with pytest.raises(DefinitionError) as info:
        load_definition('{"title": {"sv": "Första", "sv": "Andra"}, "pages": []}', "json")
    assert "filen kunde inte läsas som JSON: nyckeln ”sv” står två gånger" in str(info.value)


def test_yaml_that_is_not_a_mapping_or_has_python_tags_is_refused():
    with pytest.raises(DefinitionError) as info:
        load_definition("- a\n- b\n")
    assert "enkäten: enkäten ska vara en samling fält" in str(info.value)
    with pytest.raises(DefinitionError):
        load_definition("!!python/object/apply:os.system ['echo hi']\n")


def test_deep_nesting_and_nul_are_refused_without_a_crash():
    with pytest.raises(DefinitionError):
        load_definition("[" * 100_000, "json")
    with pytest.raises(DefinitionError):
        load_definition("title: a\x00b\n")


def test_rtl_languages():
    assert is_rtl("ar") and is_rtl("fa") and is_rtl("he") and is_rtl("ur")
    assert not is_rtl("sv") and not is_rtl("en")
    assert direction("ar") == "rtl" and direction("sv") == "ltr"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**15, 10**15) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def _nodes(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _nodes(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _nodes(child, path + (index,))


ALL_PATHS = list(_nodes(base()))[1:]


@settings(max_examples=150, deadline=None)
@given(path=st.sampled_from(ALL_PATHS), value=json_values)
def test_any_value_anywhere_gives_a_definition_or_named_errors(path, value):
    data = mutate(path, value)
    try:
        parse_definition(data)
    except DefinitionError as error:
        assert error.errors and all(": " in message for message in error.errors)
