"""Forms of the authoring pages.

The question, page and settings forms have one text field per survey language, so
their classes are built for a definition's languages (``question_form(languages)``).
``question_from_form`` and ``question_form_data`` translate between a question form
and the file format; the definition parser then checks the result, so the errors an
analyst sees are the same as for an imported file.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileSize
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from surveys.definition import (
    MAX_FILE_CHARACTERS,
    MAX_MARKDOWN,
    MAX_TEXT,
    Question,
    QuestionType,
    SurveyDefinition,
    question_to_dict,
    text_in,
)
from panel.members.forms import no_control_characters  # NUL cannot even be stored on PostgreSQL
from surveys.languages import DEFAULT_LABELS, language_name

QUESTION_TYPE_CHOICES = [
    SelectChoice(QuestionType.SINGLE_CHOICE.value, _l("Enkelval – ett svar")),
    SelectChoice(QuestionType.MULTIPLE_CHOICE.value, _l("Flerval – flera svar")),
    SelectChoice(QuestionType.SCALE.value, _l("Skala, till exempel 1–5 eller 0–10")),
    SelectChoice(QuestionType.MATRIX.value, _l("Matris – flera påståenden på samma skala")),
    SelectChoice(QuestionType.NUMBER.value, _l("Tal – ett heltal")),
    SelectChoice(QuestionType.SHORT_TEXT.value, _l("Kort fritext")),
    SelectChoice(QuestionType.LONG_TEXT.value, _l("Lång fritext")),
    SelectChoice(QuestionType.YES_NO.value, _l("Ja eller nej")),
]
TYPE_LABELS = {choice.value: choice.label for choice in QUESTION_TYPE_CHOICES}
DIRECTIONS = ("up", "down")


class EditForm(FlaskForm):
    """Every change carries the revision it was made on (see services.check_revision)."""

    revision = HiddenField()


class ActionForm(EditForm):
    """A button: move, delete, copy. CSRF and revision only."""


class NewSurveyForm(FlaskForm):
    title = StringField(_l("Internt namn"), description=_l("Syns bara för personalen. Lämnas det tomt används "
                                                          "enkätens svenska rubrik."),
                        validators=[Optional(), no_control_characters, Length(max=200)])
    file = FileField(_l("Importera en enkätfil (YAML eller JSON)"),
                     description=_l("Valfritt. Filen kan komma från en export eller skrivas för hand, se exemplet i "
                                    "dokumentationen."),
                     validators=[FileAllowed(["yaml", "yml", "json"], _l("Välj en fil som slutar på .yaml, .yml eller "
                                                                        ".json.")),
                                 FileSize(MAX_FILE_CHARACTERS, message=_l("Filen är för stor."))])
    text = TextAreaField(_l("… eller klistra in enkätens YAML eller JSON"),
                         description=_l("Valfritt. Lämna både fil och text tomma för att börja med en tom enkät."),
                         validators=[Optional(), Length(max=MAX_FILE_CHARACTERS)], render_kw={"rows": 8})


class SourceForm(EditForm):
    text = TextAreaField(_l("Enkäten som YAML"),
                         description=_l("Hela enkäten: språk, texter, sidor och frågor. JSON går också bra."),
                         validators=[Length(max=MAX_FILE_CHARACTERS)], render_kw={"rows": 30, "spellcheck": "false",
                                                                                   "class": "code-editor"})


def _per_language(form_class: type, languages: tuple[str, ...], prefix: str, label, **options: Any) -> None:
    """Add one field per language: ``<prefix>_<code>``, labelled "<label> (<language>)"."""
    field_class = options.pop("field_class", StringField)
    for language in languages:
        setattr(form_class, f"{prefix}_{language}", field_class(
            _l("%(label)s (%(language)s)", label=label, language=language_name(language)),
            render_kw={"lang": language, "dir": "auto", **options.get("render_kw", {})},
            description=options.get("description"),
            validators=[Optional(), Length(max=options.get("max", MAX_TEXT))]))


def question_form(languages: tuple[str, ...], page_choices: list[SelectChoice],
                  condition_choices: list[SelectChoice]) -> type[EditForm]:
    """The question form class for a survey in ``languages``."""

    class QuestionForm(EditForm):
        page = SelectField(_l("Sida"), choices=page_choices, invalid_choice_message=_l("Välj en av sidorna."))
        type = SelectField(_l("Frågetyp"), choices=QUESTION_TYPE_CHOICES,
                           invalid_choice_message=_l("Välj en av frågetyperna."))
        key = StringField(_l("Nyckel"), description=_l(
            "Små bokstäver a–z, siffror och _. Använd samma nyckel i flera enkäter för att kunna följa frågan över "
            "tid. Lämnas den tom skapas en."), validators=[Optional(), Length(max=40)])
        required = BooleanField(_l("Obligatorisk fråga (måste besvaras)"))
        options = TextAreaField(_l("Svarsalternativ"), description=_l(
            "För enkelval, flerval och matris med egna alternativ. En rad per alternativ: ett värde (a–z, 0–9, _) "
            "och texten på varje språk, åtskilda med |, i ordningen %(order)s. Exempel: buss | Buss",
            order=" | ".join(languages)), validators=[Optional(), Length(max=20000)], render_kw={"rows": 6})
        other = BooleanField(_l("Lägg till alternativet ”Annat, nämligen …” med ett textfält"))
        min_choices = IntegerField(_l("Minsta antal val"), description=_l("Endast flerval."),
                                   validators=[Optional(), NumberRange(min=1, max=100)])
        max_choices = IntegerField(_l("Högsta antal val"), description=_l("Endast flerval."),
                                   validators=[Optional(), NumberRange(min=1, max=100)])
        scale_min = IntegerField(_l("Skalans lägsta värde"), description=_l("Skala och matris, till exempel 1."),
                                 validators=[Optional(), NumberRange(min=-1000, max=1000)])
        scale_max = IntegerField(_l("Skalans högsta värde"), description=_l("Skala och matris, till exempel 5."),
                                 validators=[Optional(), NumberRange(min=-1000, max=1000)])
        dont_know = BooleanField(_l("Lägg till ”Vet ej” sist på skalan"))
        items = TextAreaField(_l("Påståenden i matrisen"), description=_l(
            "En rad per påstående: en nyckel (a–z, 0–9, _) och texten på varje språk, åtskilda med |, i ordningen "
            "%(order)s.", order=" | ".join(languages)), validators=[Optional(), Length(max=20000)],
            render_kw={"rows": 5})
        number_min = IntegerField(_l("Lägsta tillåtna tal"), validators=[Optional()])
        number_max = IntegerField(_l("Högsta tillåtna tal"), validators=[Optional()])
        max_length = IntegerField(_l("Högsta antal tecken"), description=_l("Fritext. Tomt ger 200 för kort och "
                                                                            "5000 för lång fritext."),
                                  validators=[Optional(), NumberRange(min=1, max=10000)])
        condition_question = SelectField(_l("Visa bara när frågan"), choices=condition_choices, description=_l(
            "Villkor kan bara gälla frågor på tidigare sidor."), validate_choice=False)
        condition_value = StringField(_l("har svaret (värde)"), description=_l(
            "Alternativets värde, till exempel buss, yes eller 5. För flerval: när svaren innehåller värdet."),
            validators=[Optional(), Length(max=40)])

    _per_language(QuestionForm, languages, "text", _l("Frågetext"), field_class=TextAreaField,
                  render_kw={"rows": 2})
    _per_language(QuestionForm, languages, "help", _l("Hjälptext"))
    _per_language(QuestionForm, languages, "other_label", _l("Text för ”Annat”"),
                  description=_l("Tomt ger standardtexten."))
    _per_language(QuestionForm, languages, "low", _l("Text vid lägsta värdet"))
    _per_language(QuestionForm, languages, "high", _l("Text vid högsta värdet"))
    _per_language(QuestionForm, languages, "dont_know_label", _l("Text för ”Vet ej”"),
                  description=_l("Tomt ger standardtexten."))
    return QuestionForm


def page_form(languages: tuple[str, ...], condition_choices: list[SelectChoice]) -> type[EditForm]:
    class PageForm(EditForm):
        key = StringField(_l("Nyckel"), description=_l("Små bokstäver a–z, siffror och _. Lämnas den tom skapas en."),
                          validators=[Optional(), Length(max=40)])
        condition_question = SelectField(_l("Visa bara sidan när frågan"), choices=condition_choices,
                                         description=_l("Villkor kan bara gälla frågor på tidigare sidor."),
                                         validate_choice=False)
        condition_value = StringField(_l("har svaret (värde)"), validators=[Optional(), Length(max=40)])

    _per_language(PageForm, languages, "title", _l("Sidans rubrik"), max=200)
    return PageForm


def settings_form(languages: tuple[str, ...]) -> type[EditForm]:
    class SettingsForm(EditForm):
        internal_title = StringField(_l("Internt namn"),
                                     validators=[Optional(), no_control_characters, Length(max=200)])
        anonymous = BooleanField(_l("Anonym enkät (svaren sparas utan koppling till personen)"), description=_l(
            "Standard. Stäng av bara när analysen behöver veta vem som svarat; det sägs då till den som svarar."))

    _per_language(SettingsForm, languages, "title", _l("Enkätens rubrik"), max=200)
    _per_language(SettingsForm, languages, "intro", _l("Inledning"), field_class=TextAreaField, max=MAX_MARKDOWN,
                  description=_l("Enkel Markdown: stycken, *kursiv*, **fet**, listor med - och länkar [text](https://…)."),
                  render_kw={"rows": 6})
    _per_language(SettingsForm, languages, "closing", _l("Avslutning"), field_class=TextAreaField, max=MAX_MARKDOWN,
                  render_kw={"rows": 4})
    return SettingsForm


# --- between forms and the file format ----------------------------------------------------


def language_fields(form: FlaskForm, prefix: str, languages: tuple[str, ...]) -> list:
    return [form[f"{prefix}_{language}"] for language in languages]


def texts_from(form: FlaskForm, prefix: str, languages: tuple[str, ...]) -> dict[str, str]:
    return {language: (form[f"{prefix}_{language}"].data or "").strip() for language in languages
            if (form[f"{prefix}_{language}"].data or "").strip()}


def _lines(text: str | None, first: str, label_name: str, languages: tuple[str, ...]) -> tuple[list[dict], list[str]]:
    """Parse "value | text sv | text en" lines; returns (entries, problems)."""
    entries, problems = [], []
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) - 1 > len(languages):
            problems.append(str(_l("Rad %(n)s har fler texter än enkäten har språk (%(order)s).", n=number,
                                   order=" | ".join(languages))))
            continue
        texts = {language: part for language, part in zip(languages, parts[1:]) if part}
        entries.append({first: parts[0], label_name: texts})
    return entries, problems


def _line_text(value: str, texts: dict[str, str], languages: tuple[str, ...]) -> str:
    return " | ".join([value] + [texts.get(language, "") for language in languages])


def condition_from_form(form: FlaskForm, defn: SurveyDefinition) -> dict | None:
    target_key = form.condition_question.data
    if not target_key:
        return None
    target = defn.question(target_key)
    operator = "includes" if target is not None and target.type == QuestionType.MULTIPLE_CHOICE else "equals"
    value: Any = (form.condition_value.data or "").strip()
    # a whole number in ASCII digits only: "²".isdigit() and "--5".lstrip("-").isdigit(), but int() fails on both
    if target is not None and target.type == QuestionType.SCALE and re.fullmatch(r"-?[0-9]+", value):
        value = int(value)
    return {"question": target_key, operator: value}


def question_from_form(form: FlaskForm, defn: SurveyDefinition) -> tuple[dict[str, Any], list[str]]:
    """The question (file format) described by a question form, and line problems found."""
    languages = defn.languages
    qtype = form.type.data
    data: dict[str, Any] = {"type": qtype, "text": texts_from(form, "text", languages), "required": form.required.data}
    if form.key.data and form.key.data.strip():
        data["key"] = form.key.data.strip()
    help_texts = texts_from(form, "help", languages)
    if help_texts:
        data["help"] = help_texts
    problems: list[str] = []
    if qtype in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE) or (
            qtype == QuestionType.MATRIX and (form.options.data or "").strip()):
        data["options"], found = _lines(form.options.data, "value", "label", languages)
        problems += found
    if qtype in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE) and form.other.data:
        data["other"] = _label_or_default(texts_from(form, "other_label", languages), "other", languages)
    if qtype == QuestionType.MULTIPLE_CHOICE:
        for name in ("min_choices", "max_choices"):
            if form[name].data is not None:
                data[name] = form[name].data
    if qtype == QuestionType.SCALE or (qtype == QuestionType.MATRIX and not (form.options.data or "").strip()):
        scale: dict[str, Any] = {"min": form.scale_min.data, "max": form.scale_max.data}
        for name, prefix in (("low_label", "low"), ("high_label", "high")):
            texts = texts_from(form, prefix, languages)
            if texts:
                scale[name] = texts
        if form.dont_know.data:
            scale["dont_know"] = _label_or_default(texts_from(form, "dont_know_label", languages), "dont_know", languages)
        data["scale"] = scale
    if qtype == QuestionType.MATRIX:
        data["items"], found = _lines(form.items.data, "key", "text", languages)
        problems += found
    if qtype == QuestionType.NUMBER:
        for name, field_name in (("min", "number_min"), ("max", "number_max")):
            if form[field_name].data is not None:
                data[name] = form[field_name].data
    if qtype in (QuestionType.SHORT_TEXT, QuestionType.LONG_TEXT) and form.max_length.data is not None:
        data["max_length"] = form.max_length.data
    condition = condition_from_form(form, defn)
    if condition:
        data["condition"] = condition
    return data, problems


def _label_or_default(texts: dict[str, str], kind: str, languages: tuple[str, ...]) -> dict[str, str] | bool:
    """Given texts, with built-in ones filling the gaps; ``True`` (built-in) when none given."""
    if not texts:
        return True
    defaults = DEFAULT_LABELS[kind]
    return {language: texts.get(language) or defaults.get(language, "") for language in languages}


def question_form_data(question: Question, page_key: str, languages: tuple[str, ...]) -> dict[str, Any]:
    """Initial data of the question form for an existing question."""
    data: dict[str, Any] = {"page": page_key, "type": question.type.value, "key": question.key,
                            "required": question.required}
    for language in languages:
        data[f"text_{language}"] = text_in(question.text, language, fallback="")
        data[f"help_{language}"] = text_in(question.help, language, fallback="")
    if question.type != QuestionType.YES_NO and question.options:
        data["options"] = "\n".join(_line_text(o.value, o.label, languages) for o in question.options)
    if question.other:
        data["other"] = True
        for language in languages:
            data[f"other_label_{language}"] = question.other.get(language, "")
    data["min_choices"], data["max_choices"] = question.min_choices, question.max_choices
    if question.scale:
        data["scale_min"], data["scale_max"] = question.scale.min, question.scale.max
        for language in languages:
            data[f"low_{language}"] = text_in(question.scale.low_label, language, fallback="")
            data[f"high_{language}"] = text_in(question.scale.high_label, language, fallback="")
            data[f"dont_know_label_{language}"] = text_in(question.scale.dont_know, language, fallback="")
        data["dont_know"] = question.scale.dont_know is not None
    if question.items:
        data["items"] = "\n".join(_line_text(item.key, item.text, languages) for item in question.items)
    data["number_min"], data["number_max"] = question.min, question.max
    data["max_length"] = question.max_length
    if question.condition:
        data["condition_question"] = question.condition.question_key
        data["condition_value"] = str(question.condition.value)
    return data


def keep_yes_no_labels(data: dict[str, Any], existing: Question | None) -> None:
    """Yes/no labels are not on the form: keep a question's own, else use the built-in ones."""
    if data.get("type") == QuestionType.YES_NO and existing is not None and existing.type == QuestionType.YES_NO:
        existing_data = question_to_dict(existing)
        data["yes_label"], data["no_label"] = existing_data["yes_label"], existing_data["no_label"]


def condition_choices(defn: SurveyDefinition, before_page: str | None, language: str = "sv") -> list[SelectChoice]:
    """Questions a condition on a page (or its questions) may use: those on earlier pages."""
    choices = [SelectChoice("", str(_l("Ingen – visa alltid")))]
    for page in defn.pages:
        if page.key == before_page:
            break
        for question in page.questions:
            if question.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE, QuestionType.SCALE,
                                 QuestionType.YES_NO):
                text = text_in(question.text, language)
                short = text if len(text) <= 60 else text[:57] + "…"
                choices.append(SelectChoice(question.key, f"{question.key}: {short}"))
    return choices


def page_choices(defn: SurveyDefinition, language: str = "sv") -> list[SelectChoice]:
    choices = []
    for number, page in enumerate(defn.pages, 1):
        title = text_in(page.title, language)
        label = str(_l("Sida %(n)s", n=number)) + (f": {title}" if title else "")
        choices.append(SelectChoice(page.key, label))
    return choices
