import io
import json
import re

import pytest
from sqlalchemy import func, select

from surveys.authoring import services
from surveys.definition import definition_to_dict, load_definition
from surveys.models import Survey
from tests.conftest import csrf_token
from tests.factories import make_staff
from tests.surveys.conftest import log_in

BASE = "/staff/surveys"


def make_survey(session, text, title="Exempel"):
    survey = services.import_survey(session, text=text, format="yaml", title=title, created_by=None)
    survey_id = survey.id
    session.commit()
    return fresh(session, survey_id)


def post(client, url, data=None, token_from=None, **kwargs):
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client, token_from or f"{BASE}/new"))
    return client.post(url, data=data, **kwargs)


def fresh(session, survey_id) -> Survey:
    """The survey as stored now, detached, with the test's transaction ended.

    An idle transaction would hold locks on PostgreSQL, where other test runs share the
    database and truncate every table between tests.
    """
    session.expire_all()
    survey = session.get(Survey, survey_id)
    session.expunge(survey)
    session.rollback()
    return survey


def freeze(session, survey_id) -> None:
    services.freeze_structure(session.get(Survey, survey_id))
    session.commit()


def text_of(response) -> str:
    return response.get_data(as_text=True)


# --- access ----------------------------------------------------------------------------------


def test_committee_members_and_strangers_cannot_author(client, session, example_text):
    survey = make_survey(session, example_text)
    email = make_staff(session, "committee").email
    session.commit()
    assert client.get(f"{BASE}/").status_code == 302  # to the login page
    log_in(client, email)
    for url in (f"{BASE}/", f"{BASE}/new", f"{BASE}/{survey.id}", f"{BASE}/{survey.id}/preview/sv",
                f"{BASE}/{survey.id}/export.yaml", f"{BASE}/{survey.id}/source"):
        assert client.get(url).status_code == 403, url
    token = csrf_token(client, "/staff/")
    assert client.post(f"{BASE}/{survey.id}/copy", data={"csrf_token": token}).status_code == 403


def test_unknown_survey_question_page_and_language_are_404(analyst, session, example_text):
    survey = make_survey(session, example_text)
    for url in (f"{BASE}/999", f"{BASE}/{survey.id}/questions/nope/edit", f"{BASE}/{survey.id}/pages/nope/edit",
                f"{BASE}/{survey.id}/preview/de", f"{BASE}/{survey.id}/questions/new?page=nope"):
        assert analyst.get(url).status_code == 404, url


# --- create and import -----------------------------------------------------------------------


def test_create_a_blank_survey(analyst, session):
    response = post(analyst, f"{BASE}/new", {"title": "Trygghetsenkät 2026"})
    assert response.status_code == 302
    survey = session.scalars(select(Survey)).one()
    assert survey.title == "Trygghetsenkät 2026" and survey.status == "draft" and survey.anonymous
    assert survey.created_by_id == analyst.user.id
    assert survey.definition["pages"] == [{"key": "p1", "questions": []}]
    page = text_of(analyst.get(response.headers["Location"]))
    assert "enkäten har inga frågor" in page


def test_import_a_yaml_file(analyst, session, example_text, example):
    upload = (io.BytesIO(example_text.encode("utf-8")), "exempel.yaml")
    response = post(analyst, f"{BASE}/new", {"file": upload}, content_type="multipart/form-data")
    assert response.status_code == 302
    survey = session.scalars(select(Survey)).one()
    assert survey.title == "Trygghet och service i kommunen"  # the Swedish title when none is given
    assert survey.definition == definition_to_dict(example)
    page = analyst.get(f"{BASE}/{survey.id}").get_data(as_text=True)
    # Conditions name the answer by its label as well as its code.
    assert "Sidan visas bara när svaret på bibliotek är ”Ja” (yes)." in page
    assert "visas bara när svaret på transport är ”Buss” (buss)" in page


def test_import_pasted_json(analyst, session, example):
    response = post(analyst, f"{BASE}/new", {"title": "Från JSON", "text": json.dumps(definition_to_dict(example))})
    assert response.status_code == 302
    assert session.scalars(select(Survey)).one().title == "Från JSON"


def test_an_import_with_errors_lists_them_by_question_and_field_and_stores_nothing(analyst, session, example_text):
    broken = example_text.replace("        options:\n          - {value: bil", "        choices:\n          - {value: bil")
    broken = broken.replace("en: How do you usually get to work or school?", "")
    upload = (io.BytesIO(broken.encode("utf-8")), "exempel.yaml")
    response = post(analyst, f"{BASE}/new", {"file": upload}, content_type="multipart/form-data")
    assert response.status_code == 400
    page = text_of(response)
    assert 'fråga "transport" (sida 1): okänt fält "choices"' in page.replace("&#34;", '"')
    assert 'fråga "transport" (sida 1): fältet "options" saknas' in page.replace("&#34;", '"')
    assert session.scalar(select(func.count(Survey.id))) == 0


@pytest.mark.parametrize("data, message", [
    ({"text": "title: [unclosed\n"}, "kunde inte läsas som YAML"),
    ({"file": (io.BytesIO(b"\xff\xfe\x00t"), "x.yaml")}, "inte text i UTF-8"),
    ({"file": (io.BytesIO(b"x"), "x.exe")}, "Välj en fil som slutar på .yaml"),
    ({"file": (io.BytesIO(b"title: x"), "x.yaml"), "text": "title: y"}, "antingen en fil eller inklistrad text"),
])
def test_bad_imports_say_why(analyst, session, data, message):
    response = post(analyst, f"{BASE}/new", data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in text_of(response)
    assert session.scalar(select(func.count(Survey.id))) == 0


def test_the_list_shows_every_survey(analyst, session, example_text):
    make_survey(session, example_text, title="Första")
    make_survey(session, example_text, title="<b>Andra</b>")
    page = text_of(analyst.get(f"{BASE}/"))
    assert "Första" in page and "&lt;b&gt;Andra&lt;/b&gt;" in page


# --- editing ------------------------------------------------------------------------------


def test_edit_the_whole_survey_as_yaml(analyst, session, example_text):
    survey = make_survey(session, example_text)
    page = text_of(analyst.get(f"{BASE}/{survey.id}/source"))
    assert "Hur tar du dig oftast till arbete eller skola?" in page
    edited = example_text.replace("Hur tar du dig oftast", "Hur reser du oftast")
    response = post(analyst, f"{BASE}/{survey.id}/source", {"text": edited, "revision": "1"})
    assert response.status_code == 302
    survey = fresh(session, survey.id)
    assert survey.revision == 2
    assert survey.definition["pages"][0]["questions"][0]["text"]["sv"].startswith("Hur reser du oftast")


def test_yaml_edit_errors_are_listed_and_nothing_changes(analyst, session, example_text):
    survey = make_survey(session, example_text)
    broken = example_text.replace("max: 365", "max: många").replace("type: matrix", "type: grid")
    response = post(analyst, f"{BASE}/{survey.id}/source", {"text": broken, "revision": "1"})
    assert response.status_code == 400
    page = text_of(response).replace("&#34;", '"')
    assert 'fråga "bibliotek_besok" (sida 2): fältet "max" ska vara ett heltal' in page
    assert 'fråga "bibliotek_nojdhet" (sida 2): fältet "type": "grid" är ingen frågetyp' in page
    assert fresh(session, survey.id).revision == 1


def test_a_stale_editor_page_is_refused(analyst, session, example_text):
    survey = make_survey(session, example_text)
    post(analyst, f"{BASE}/{survey.id}/source", {"text": example_text.replace("Bil", "Personbil"), "revision": "1"})
    response = post(analyst, f"{BASE}/{survey.id}/source", {"text": example_text, "revision": "1"})
    assert response.status_code == 409
    assert "Någon annan har ändrat enkäten" in text_of(response)
    assert fresh(session, survey.id).definition["pages"][0]["questions"][0]["options"][0]["label"]["sv"] == "Personbil"


def question_form(key="", qtype="single_choice", page="vardag", **extra):
    data = {"type": qtype, "page": page, "key": key, "revision": extra.pop("revision", "1"),
            "text_sv": "Hur ofta?", "text_en": "How often?", "text_ar": "كم مرة؟", "condition_question": ""}
    data.update(extra)
    return data


def test_add_a_question_with_the_form(analyst, session, example_text):
    survey = make_survey(session, example_text)
    assert "Hur ofta" not in text_of(analyst.get(f"{BASE}/{survey.id}/questions/new?page=vardag"))
    options = "ofta | Ofta | Often | غالباً\nsallan | Sällan | Rarely | نادراً"
    response = post(analyst, f"{BASE}/{survey.id}/questions/new?page=vardag",
                    question_form("hur_ofta", options=options, other="y", required="y"))
    assert response.status_code == 302, text_of(response)
    assert response.headers["Location"].endswith("#question-hur_ofta")
    defn = services.definition_of(fresh(session, survey.id))
    question = defn.pages[0].questions[-1]
    assert question.key == "hur_ofta" and question.required
    assert [o.label["en"] for o in question.options] == ["Often", "Rarely"]
    assert question.other["sv"] == "Annat, nämligen"


def test_add_a_matrix_and_a_number_question(analyst, session, example_text):
    survey = make_survey(session, example_text)
    matrix = question_form("nojd", "matrix", page="prioriteringar", scale_min="1", scale_max="4", dont_know="y",
                           items="park | Parker | Parks | الحدائق\ngator | Gator | Streets | الشوارع",
                           low_sv="Inte alls", low_en="Not at all", low_ar="إطلاقاً")
    assert post(analyst, f"{BASE}/{survey.id}/questions/new?page=prioriteringar", matrix).status_code == 302
    number = question_form("antal", "number", page="prioriteringar", number_min="0", number_max="20", revision="2")
    assert post(analyst, f"{BASE}/{survey.id}/questions/new?page=prioriteringar", number).status_code == 302
    defn = services.definition_of(fresh(session, survey.id))
    assert [i.key for i in defn.question("nojd").items] == ["park", "gator"]
    assert defn.question("nojd").scale.values() == [1, 2, 3, 4, "dont_know"]
    assert (defn.question("antal").min, defn.question("antal").max) == (0, 20)


def test_question_form_errors_name_question_and_field(analyst, session, example_text):
    survey = make_survey(session, example_text)
    bad = question_form("hur_ofta", options="ofta | Ofta\nOFTA! | x | y | z", text_en="")
    response = post(analyst, f"{BASE}/{survey.id}/questions/new?page=vardag", bad)
    assert response.status_code == 400
    page = text_of(response).replace("&#34;", '"')
    assert 'fråga "hur_ofta" (sida 1): fältet "text" saknar text på engelska ("en")' in page
    assert 'fråga "hur_ofta" (sida 1): alternativ 1 i "options": fältet "label" saknar text på engelska' in page
    assert 'alternativ 2 i "options": fältet "value" ska vara' in page
    assert fresh(session, survey.id).revision == 1


def test_edit_a_question_and_rename_its_key_carrying_conditions(analyst, session, example_text):
    survey = make_survey(session, example_text)
    page = text_of(analyst.get(f"{BASE}/{survey.id}/questions/transport/edit"))
    assert "bil | Bil | Car | سيارة" in page
    form = {k: v for k, v in re.findall(r'<input[^>]* name="([^"]+)"[^>]* value="([^"]*)"', page)}
    data = question_form("resa", options="bil | Bil | Car | سيارة\nbuss | Buss | Bus | حافلة", other="y",
                         required="y", text_sv="Hur reser du?")
    assert form["key"] == "transport"
    response = post(analyst, f"{BASE}/{survey.id}/questions/transport/edit", data)
    assert response.status_code == 302, text_of(response)
    defn = services.definition_of(fresh(session, survey.id))
    assert defn.question("resa").text["sv"] == "Hur reser du?"
    assert defn.question("buss_forbattring").condition.question_key == "resa"
    assert defn.pages[0].questions[0].key == "resa"  # kept its place


def test_move_questions_up_and_down_across_pages(analyst, session, example_text):
    survey = make_survey(session, example_text)
    url = f"{BASE}/{survey.id}/questions"
    assert post(analyst, f"{url}/bibliotek/move/up", {"revision": "1"}).status_code == 303
    defn = services.definition_of(fresh(session, survey.id))
    assert [q.key for q in defn.pages[0].questions] == ["transport", "bibliotek", "trygghet_kvall"]
    assert post(analyst, f"{url}/trygghet_kvall/move/down", {"revision": "2"}).status_code == 303
    defn = services.definition_of(fresh(session, survey.id))
    assert [q.key for q in defn.pages[0].questions] == ["transport", "bibliotek"]
    assert defn.pages[1].questions[0].key == "trygghet_kvall"


def test_a_move_that_breaks_a_condition_is_refused(analyst, session, example_text):
    survey = make_survey(session, example_text)
    # buss_forbattring (page 3) depends on transport (page 1): moving it to page 2 is fine,
    # moving transport after it is not
    for _ in range(3):
        post(analyst, f"{BASE}/{survey.id}/questions/transport/move/down", {"revision": fresh(session, survey.id).revision})
    defn = services.definition_of(fresh(session, survey.id))
    assert defn.page_of("transport").key == "biblioteken"
    response = post(analyst, f"{BASE}/{survey.id}/questions/bibliotek_besok/move/down",
                    {"revision": fresh(session, survey.id).revision})
    assert response.status_code == 303
    revision = fresh(session, survey.id).revision
    response = post(analyst, f"{BASE}/{survey.id}/questions/transport/move/down", {"revision": revision})
    response = post(analyst, f"{BASE}/{survey.id}/questions/transport/move/down",
                    {"revision": fresh(session, survey.id).revision})
    assert response.status_code == 400
    assert "kommer inte före den här sidan" in text_of(response)


def test_delete_asks_first_and_a_get_changes_nothing(analyst, session, example_text):
    survey = make_survey(session, example_text)
    confirm = analyst.get(f"{BASE}/{survey.id}/questions/synpunkter/delete")
    assert confirm.status_code == 200 and "Ta bort frågan?" in text_of(confirm)
    assert fresh(session, survey.id).revision == 1
    response = post(analyst, f"{BASE}/{survey.id}/questions/synpunkter/delete", {"revision": "1"})
    assert response.status_code == 303
    assert services.definition_of(fresh(session, survey.id)).question("synpunkter") is None


def test_pages_add_edit_move_and_delete(analyst, session, example_text):
    survey = make_survey(session, example_text)
    data = {"key": "extra", "title_sv": "Extra", "title_en": "Extra", "title_ar": "إضافي", "revision": "1",
            "condition_question": "bibliotek", "condition_value": "no"}
    assert post(analyst, f"{BASE}/{survey.id}/pages/new", data).status_code == 302
    defn = services.definition_of(fresh(session, survey.id))
    assert defn.pages[-1].key == "extra" and defn.pages[-1].condition.value == "no"
    assert post(analyst, f"{BASE}/{survey.id}/pages/extra/move/up", {"revision": "2"}).status_code == 303
    assert [p.key for p in services.definition_of(fresh(session, survey.id)).pages][2] == "extra"
    refused = post(analyst, f"{BASE}/{survey.id}/pages/vardag/delete", {"revision": "3"})
    assert refused.status_code == 400 and "sidan har frågor" in text_of(refused)
    assert post(analyst, f"{BASE}/{survey.id}/pages/extra/delete", {"revision": "3"}).status_code == 303
    assert services.definition_of(fresh(session, survey.id)).page("extra") is None


def test_settings_change_texts_and_anonymity(analyst, session, example_text, example):
    survey = make_survey(session, example_text)
    data = {"internal_title": "Nytt namn", "revision": "1"}
    for code in example.languages:
        data[f"title_{code}"] = example.title[code]
        data[f"intro_{code}"] = "## Välkommen\n\nKort *intro*."
        data[f"closing_{code}"] = ""
    response = post(analyst, f"{BASE}/{survey.id}/settings", data)
    assert response.status_code == 302, text_of(response)
    survey = fresh(session, survey.id)
    assert survey.title == "Nytt namn" and not survey.anonymous
    assert survey.definition["intro"]["en"] == "## Välkommen\n\nKort *intro*." and "closing" not in survey.definition
    data["revision"] = "2"
    data["intro_ar"] = ""
    response = post(analyst, f"{BASE}/{survey.id}/settings", data)
    assert response.status_code == 400
    assert "fältet &#34;intro&#34; saknar text på arabiska" in text_of(response)


# --- export, copy, freeze -------------------------------------------------------------------


@pytest.mark.parametrize("format", ["yaml", "json"])
def test_export_downloads_a_file_that_imports_back(analyst, session, example_text, example, format):
    survey = make_survey(session, example_text, title="Trygghet 2026")
    response = analyst.get(f"{BASE}/{survey.id}/export.{format}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="enkat-{survey.id}-trygghet-2026.{format}"'
    assert load_definition(text_of(response), format) == example


def test_copy_makes_a_new_draft(analyst, session, example_text):
    survey = make_survey(session, example_text)
    freeze(session, survey.id)
    response = post(analyst, f"{BASE}/{survey.id}/copy")
    assert response.status_code == 303
    copy = session.scalars(select(Survey).where(Survey.id != survey.id)).one()
    assert copy.copied_from_id == survey.id and copy.status == "draft" and not copy.is_frozen
    assert copy.definition == survey.definition and copy.created_by_id == analyst.user.id
    assert response.headers["Location"].endswith(f"/{copy.id}")


def test_a_sent_survey_keeps_its_structure_but_texts_can_be_corrected(analyst, session, example_text):
    survey = make_survey(session, example_text)
    freeze(session, survey.id)
    page = text_of(analyst.get(f"{BASE}/{survey.id}"))
    assert "Frågorna, svarsalternativen, villkoren och ordningen är låsta" in page
    assert "Flytta upp" not in page and "Lägg till en fråga" not in page
    corrected = example_text.replace("Hur tar du dig oftast", "Hur tar du dig vanligtvis")
    assert post(analyst, f"{BASE}/{survey.id}/source", {"text": corrected, "revision": "1"}).status_code == 302
    restructured = corrected.replace("          - {value: cykel, label: {sv: Cykel, en: Bicycle, ar: دراجة هوائية}}\n", "")
    response = post(analyst, f"{BASE}/{survey.id}/source", {"text": restructured, "revision": "2"})
    assert response.status_code == 409
    page = text_of(response).replace("&#34;", '"')
    assert "Enkäten är redan skickad" in page and 'frågan "transport" har ändrats (options)' in page
    moved = post(analyst, f"{BASE}/{survey.id}/questions/bibliotek/move/up", {"revision": "2"})
    assert moved.status_code == 409
    edit = post(analyst, f"{BASE}/{survey.id}/questions/synpunkter/edit",
                question_form("synpunkter", "long_text", page="prioriteringar", revision="2", required="y"))
    assert edit.status_code == 409
    survey = fresh(session, survey.id)
    assert survey.revision == 2 and "Hur tar du dig vanligtvis" in json.dumps(survey.definition, ensure_ascii=False)


# --- preview --------------------------------------------------------------------------------


def preview_post(client, survey_id, language, page_html, data):
    state = re.search(r'name="preview_state" value="([^"]+)"', page_html).group(1)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page_html).group(1)
    return client.post(f"{BASE}/{survey_id}/preview/{language}",
                       data={**data, "preview_state": state, "csrf_token": token})


@pytest.mark.parametrize("language, direction, start", [
    ("sv", "ltr", "Börja svara"), ("en", "ltr", "Thank you for taking part!"), ("ar", "rtl", "شكراً لمشاركتك"),
])
def test_preview_intro_in_each_language(analyst, session, example_text, language, direction, start):
    survey = make_survey(session, example_text)
    page = text_of(analyst.get(f"{BASE}/{survey.id}/preview/{language}"))
    assert f'<html lang="{language}" dir="{direction}">' in page
    assert start in page
    assert "<strong>" in page and '<a href="https://www.example.se/medborgarpanel">' in page  # Markdown


def test_preview_walks_the_pages_with_conditions_and_stores_nothing(analyst, session, example_text):
    survey = make_survey(session, example_text)
    before = json.dumps(fresh(session, survey.id).definition)
    page = text_of(analyst.get(f"{BASE}/{survey.id}/preview/sv"))
    page = text_of(preview_post(analyst, survey.id, "sv", page, {"nav": "start"}))
    assert "Din vardag" in page and "Sida 1 av 3" in page
    response = preview_post(analyst, survey.id, "sv", page, {"nav": "next", "transport": "cykel"})
    assert response.status_code == 400
    errors = text_of(response)
    assert "Det finns fel i formuläret" in errors and 'href="#q-trygghet_kvall-0"' in errors
    page = text_of(preview_post(analyst, survey.id, "sv", errors,
                                {"nav": "next", "transport": "cykel", "trygghet_kvall": "2", "bibliotek": "no"}))
    assert "Kommunens prioriteringar" in page and "Sida 2 av 2" in page  # the library page is skipped
    assert "Vad skulle göra dina bussresor bättre?" not in page  # not by bus
    back = text_of(preview_post(analyst, survey.id, "sv", page, {"nav": "back"}))
    assert '<input checked id="q-transport-2"' in back  # answers are kept when going back
    page = text_of(preview_post(analyst, survey.id, "sv", back,
                                {"nav": "next", "transport": "buss", "trygghet_kvall": "2", "bibliotek": "yes"}))
    assert "Biblioteken" in page and "Sida 2 av 3" in page
    page = text_of(preview_post(analyst, survey.id, "sv", page, {"bibliotek_nojdhet-utbud": "4"}))
    assert "Vad skulle göra dina bussresor bättre?" in page
    done = text_of(preview_post(analyst, survey.id, "sv", page, {"prioriteringar": ["skola"],
                                                                 "buss_forbattring": "<script>alert(1)</script>"}))
    assert "Tack för dina svar!" in done
    assert "&#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in done and "<script>alert" not in done
    assert '{&#34;utbud&#34;: 4}' in done
    assert json.dumps(fresh(session, survey.id).definition) == before
    assert fresh(session, survey.id).revision == 1


def test_a_tampered_preview_state_is_refused(analyst, session, example_text):
    survey = make_survey(session, example_text)
    page = text_of(analyst.get(f"{BASE}/{survey.id}/preview/sv"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = analyst.post(f"{BASE}/{survey.id}/preview/sv",
                            data={"csrf_token": token, "preview_state": "eyJwYWdlIjoicDIifQ.forged", "nav": "next"})
    assert response.status_code == 400
    assert "Börja om från början" in text_of(response)


# --- command line -------------------------------------------------------------------------------


def test_cli_validates_imports_and_exports(runner, session, tmp_path, example_text, example):
    path = tmp_path / "enkat.yaml"
    path.write_text(example_text, encoding="utf-8")
    result = runner.invoke(args=["authoring", "validate", str(path)])
    assert result.exit_code == 0 and "OK: 9 questions on 3 pages" in result.output
    result = runner.invoke(args=["authoring", "import", str(path)])
    assert result.exit_code == 0, result.output
    survey = session.scalars(select(Survey)).one()
    result = runner.invoke(args=["authoring", "export", str(survey.id), "--format", "json"])
    assert load_definition(result.output, "json") == example
    path.write_text(example_text.replace("type: yes_no", "type: ja_nej"), encoding="utf-8")
    result = runner.invoke(args=["authoring", "validate", str(path)])
    assert result.exit_code != 0 and 'fråga "bibliotek" (sida 1): fältet "type": "ja_nej"' in result.output
