"""Response forms built from a survey definition, one page at a time.

``build_page_form(defn, page, language, answers_so_far, formdata)`` gives a Flask-WTF
form (CSRF included) with one field per visible question (a matrix has one radio
group per item; an "annat, nämligen" option has a text field of its own), labelled in
the survey's language. Render it with ``templates/surveys/_questions.html``, which
uses the shared macro of ``templates/_forms.html``. After ``form.validate()``,
``clean_answers(form)`` gives the page's answers as JSON values (see
:mod:`surveys.definition` for their shapes).

The form refuses what a resident's browser would never send: fields for questions
that are hidden or do not exist, option values that are not offered, two values for
a one-value question. The caller (the view) should run inside
``flask_babel.force_locale(language)`` so that messages follow the survey language.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, session
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from flask_wtf.csrf import _FlaskFormCSRF
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from wtforms import Field, HiddenField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.csrf.core import CSRFTokenField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from panel.numerals import parse_whole_number
from surveys.definition import (
    DONT_KNOW,
    OTHER_VALUE,
    Page,
    Question,
    QuestionType,
    SurveyDefinition,
    other_key,
    text_in,
)

# Names a page form accepts besides its questions: the CSRF token and the
# navigation button ("next", "back").
CONTROL_NAMES = frozenset({"csrf_token", "nav"})


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes; ``templates/_forms.html`` puts them in a fieldset with a legend."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def clean_free_text(value: Any) -> Any:
    """Free text as stored: no NUL or other control characters, Unix line ends, trimmed."""
    if not isinstance(value, str):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = "".join(ch for ch in value if ch in "\n\t" or (ord(ch) >= 32 and not 127 <= ord(ch) < 160))
    return value.strip()


# --- validators ---------------------------------------------------------------------------


def _raw_values(field: Field) -> list[str]:
    return [value for value in (field.raw_data or []) if isinstance(value, str)]


def _has_input(field: Field) -> bool:
    return any(clean_free_text(value) for value in _raw_values(field))


class _Answer:
    """Required questions must be answered; optional ones stop validating when empty."""

    def __init__(self, required: bool, message: str) -> None:
        self.required = required
        self.message = message
        self.field_flags = {"required": True} if required else {}

    def __call__(self, form, field) -> None:
        if _has_input(field):
            return
        field.errors[:] = []
        if self.required:
            raise StopValidation(self.message)
        raise StopValidation()


class _OneOf:
    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = frozenset(allowed)

    def __call__(self, form, field) -> None:
        values = _raw_values(field)
        if len(values) > 1:
            raise StopValidation(_("Välj bara ett alternativ."))
        if values and values[0] not in self.allowed:
            raise StopValidation(_("Välj ett av alternativen."))


class _SomeOf:
    def __init__(self, allowed: Iterable[str], low: int | None, high: int | None) -> None:
        self.allowed = frozenset(allowed)
        self.low, self.high = low, high

    def __call__(self, form, field) -> None:
        values = _raw_values(field)
        if len(set(values)) != len(values) or any(value not in self.allowed for value in values):
            raise StopValidation(_("Välj bland alternativen."))
        if self.low is not None and len(values) < self.low:
            raise StopValidation(_("Välj minst %(n)s alternativ.", n=self.low))
        if self.high is not None and len(values) > self.high:
            raise StopValidation(_("Välj högst %(n)s alternativ.", n=self.high))


class _WholeNumber:
    def __init__(self, low: int | None, high: int | None) -> None:
        self.low, self.high = low, high

    def __call__(self, form, field) -> None:
        number = parse_whole_number(field.data)
        if number is None:
            raise StopValidation(_("Skriv ett heltal, till exempel 12."))
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise StopValidation(_range_text(self.low, self.high))


class _TextLength:
    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, form, field) -> None:
        if len(field.data or "") > self.limit:
            raise StopValidation(_("Texten får vara högst %(n)s tecken lång. Nu är den %(m)s tecken.",
                                   n=self.limit, m=len(field.data)))


def _range_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return _("Skriv ett heltal mellan %(low)s och %(high)s.", low=low, high=high)
    if low is not None:
        return _("Skriv ett heltal som är %(low)s eller mer.", low=low)
    if high is not None:
        return _("Skriv ett heltal som är högst %(high)s.", high=high)
    return _("Skriv ett heltal, till exempel 12.")


# --- conditions and pages -----------------------------------------------------------------


def page_is_visible(page: Page, answers: Mapping[str, Any]) -> bool:
    return page.condition is None or page.condition.holds(answers)


def visible_questions(defn: SurveyDefinition, page: Page, answers: Mapping[str, Any]) -> list[Question]:
    """The page's questions whose conditions hold for ``answers`` (none when the page is hidden)."""
    if not page_is_visible(page, answers):
        return []
    return [q for q in page.questions if q.condition is None or q.condition.holds(answers)]


def visible_pages(defn: SurveyDefinition, answers: Mapping[str, Any]) -> list[Page]:
    """Pages a resident with these answers sees: condition holds and at least one question shows."""
    return [page for page in defn.pages if visible_questions(defn, page, answers)]


def expected_pages(defn: SurveyDefinition, answers: Mapping[str, Any]) -> list[Page]:
    """Pages a resident may still see, for "page 2 of 3": a condition on a question not yet
    answered counts as possibly true, so the total only shrinks as answers rule pages out."""

    def possible(condition) -> bool:
        return condition is None or condition.question_key not in answers or condition.holds(answers)

    return [page for page in defn.pages
            if possible(page.condition) and any(possible(q.condition) for q in page.questions)]


def next_page(defn: SurveyDefinition, after: Page | None, answers: Mapping[str, Any]) -> Page | None:
    """The first visible page after ``after`` (the first page when None); None at the end."""
    start = 0 if after is None else defn.pages.index(after) + 1
    return next((p for p in defn.pages[start:] if visible_questions(defn, p, answers)), None)


def previous_page(defn: SurveyDefinition, before: Page, answers: Mapping[str, Any]) -> Page | None:
    """The last visible page before ``before``; None on the first page."""
    end = defn.pages.index(before)
    return next((p for p in reversed(defn.pages[:end]) if visible_questions(defn, p, answers)), None)


def prune_answers(defn: SurveyDefinition, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only answers to questions that exist and are visible given the answers kept.

    Run after a resident changes an earlier answer: answers to questions that are now
    hidden (and their "annat" texts) are dropped, page by page in survey order.
    """
    kept: dict[str, Any] = {}
    for page in defn.pages:
        for question in visible_questions(defn, page, kept):
            if question.key in answers:
                kept[question.key] = answers[question.key]
                if question.other and other_key(question.key) in answers and _chose_other(kept[question.key]):
                    kept[other_key(question.key)] = answers[other_key(question.key)]
    return kept


def _chose_other(value: Any) -> bool:
    return value == OTHER_VALUE or (isinstance(value, list) and OTHER_VALUE in value)


# --- building the form ---------------------------------------------------------------------


@dataclass
class QuestionFields:
    """One visible question on a page form, with its bound fields and resolved texts."""

    question: Question
    language: str
    text: str
    help: str
    fields: list[Field] = field(default_factory=list)  # one field, or one per matrix item
    other: Field | None = None

    @property
    def key(self) -> str:
        return self.question.key

    @property
    def is_matrix(self) -> bool:
        return self.question.type == QuestionType.MATRIX

    @property
    def dom_id(self) -> str:
        return f"question-{self.question.key}"


class _LazyCSRFTokenField(CSRFTokenField):
    """The CSRF field, making its token only when the page is written (a POST that is
    saved and redirected never shows it)."""

    @property
    def current_token(self) -> str:
        token = self.__dict__.get("_token")
        if token is None:
            token = self._token = self.csrf_impl.generate_csrf_token(self)
        return token

    @current_token.setter
    def current_token(self, value: str | None) -> None:
        self._token = value

    def process(self, *args, **kwargs) -> None:
        HiddenField.process(self, *args, **kwargs)


class SessionCSRF(_FlaskFormCSRF):
    """Flask-WTF's per-session CSRF check, with a token that is cheap to make and check.

    As in Flask-WTF, the session holds a random secret (``session["csrf_token"]``, made
    on first use) and the form carries a token derived from it with the application's
    key, checked against the session of the request that sends the form, and older than
    ``WTF_CSRF_TIME_LIMIT`` seconds (when set) refused. Flask-WTF signs with itsdangerous,
    which derives its key and builds a serializer for every token (a tenth of a page
    request); here the token is ``<time>.<HMAC-SHA256(key, secret.time)>`` with the key
    made once per application key.
    """

    field_class = _LazyCSRFTokenField

    def generate_csrf_token(self, csrf_token_field) -> str:
        return _session_csrf_token(self.meta.csrf_secret, self.meta.csrf_field_name)

    def validate_csrf_token(self, form, field) -> None:
        secret = session.get(self.meta.csrf_field_name)
        token = field.data
        if not isinstance(token, str) or not token:
            raise ValidationError("The CSRF token is missing.")
        if not isinstance(secret, str):
            raise ValidationError("The CSRF session token is missing.")
        stamp, _dot, mac = token.partition(".")
        if not 0 < len(stamp) <= 12 or not all(c in "0123456789abcdef" for c in stamp):
            raise ValidationError("The CSRF token is invalid.")
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
        expected = _csrf_mac(self.meta.csrf_secret, secret, stamp).encode()
        if not hmac.compare_digest(mac.encode("utf-8", "replace"), expected):
            raise ValidationError("The CSRF token is invalid.")
        limit = self.meta.csrf_time_limit
        if limit is not None and time.time() - int(stamp, 16) > limit:
            raise ValidationError("The CSRF token has expired.")


def _session_csrf_token(key: str | bytes, name: str) -> str:
    secret = session.get(name)
    if not isinstance(secret, str):
        secret = session[name] = hashlib.sha1(os.urandom(64)).hexdigest()
    stamp = format(int(time.time()), "x")
    return f"{stamp}.{_csrf_mac(key, secret, stamp)}"


_csrf_keys: dict[str | bytes, Any] = {}


def _csrf_mac(key: str | bytes, secret: str, stamp: str) -> str:
    base = _csrf_keys.get(key)
    if base is None:
        raw = key.encode() if isinstance(key, str) else key
        base = _csrf_keys[key] = hmac.new(hashlib.sha256(b"surveys.forms.SessionCSRF" + raw).digest(),
                                          digestmod=hashlib.sha256)
    mac = base.copy()
    mac.update(f"{secret}.{stamp}".encode())
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


# For build_page_form(..., meta=RESPONDENT_META): the answering pages check CSRF through
# their forms (they are exempt from the global CSRFProtect, whose check only knows
# Flask-WTF's own tokens, as the staff preview's pages need).
RESPONDENT_META = {"csrf_class": SessionCSRF}


class SurveyPageForm(FlaskForm):
    """Base class of the page forms built by :func:`build_page_form`."""

    questions: list[QuestionFields]
    language: str
    page: Page
    _submitted_names: frozenset[str] | None

    def validate(self, extra_validators=None) -> bool:
        super().validate(extra_validators)
        if self._submitted_names is not None:
            known = {f.name for f in self} | CONTROL_NAMES
            if self._submitted_names - known:
                self.form_errors.append(_("Svaret innehöll fält som inte finns på den här sidan. "
                                          "Ladda om sidan och försök igen."))
        for entry in self.questions:
            if entry.other is not None:
                _check_other(entry)
        return not self.errors


def _check_other(entry: QuestionFields) -> None:
    """The "annat, nämligen" text goes with choosing "annat" (see _imply_other)."""
    choice, other = entry.fields[0], entry.other
    if choice.errors or other.errors:
        return  # already reported
    chosen = _raw_values(choice)
    label = text_in(entry.question.other, entry.language)
    if other.data and OTHER_VALUE not in chosen:
        other.errors.append(_("Du har skrivit något här men valt ett annat alternativ. "
                              "Välj ”%(option)s” eller töm fältet.", option=label))
    elif OTHER_VALUE in chosen and not other.data:
        other.errors.append(_("Skriv vad du menar med ”%(option)s”.", option=label))


def _imply_other(formdata: MultiDict, questions: Iterable[Question]) -> MultiDict:
    """Typing in an "annat" field counts as choosing "annat" when that is unambiguous.

    Without JavaScript the text field is always visible, and residents often type in it
    without ticking the box: for multiple choice the box is ticked for them, for single
    choice when nothing else was chosen.
    """
    patched: MultiDict | None = None
    for question in questions:
        if not question.other:
            continue
        text = formdata.get(other_key(question.key))
        chosen = formdata.getlist(question.key)
        if not (isinstance(text, str) and clean_free_text(text)) or OTHER_VALUE in chosen:
            continue
        if question.type == QuestionType.MULTIPLE_CHOICE or not chosen:
            patched = patched if patched is not None else MultiDict(formdata)
            patched.add(question.key, OTHER_VALUE)
    return patched if patched is not None else formdata


def build_page_form(
    defn: SurveyDefinition,
    page: Page,
    language: str,
    answers_so_far: Mapping[str, Any],
    formdata: MultiDict | None = None,
    **form_kwargs: Any,
) -> SurveyPageForm:
    """A form for ``page`` in ``language``, with the questions ``answers_so_far`` make visible.

    With ``formdata`` (a POST) the form holds what was submitted; without it, it is filled
    with the answers so far (resuming). ``form_kwargs`` go to Flask-WTF (``meta`` ...).
    The form class of a page (its fields, labels, choices and messages) depends only on
    the definition, the page, the visible questions and the languages, so it is made
    once and kept (see :func:`_page_form_class`); each request only binds it.
    """
    if language not in defn.languages:
        language = defn.default_language
    questions = visible_questions(defn, page, answers_so_far)
    form_class, entries = _page_form_class(defn, page, language, questions)
    if formdata is not None:
        submitted_names = frozenset(formdata.keys())
        formdata = _imply_other(formdata, questions)
        form = form_class(formdata=formdata, **form_kwargs)
        form._submitted_names = submitted_names
    else:
        form = form_class(formdata=None, data=_prefill(entries, answers_so_far), **form_kwargs)
        form._submitted_names = None
    form.language = language
    form.page = page
    fields = form._fields
    form.questions = [
        QuestionFields(question=entry.question, language=language, text=entry.text, help=entry.help,
                       fields=[fields[attribute] for attribute in entry.attributes],
                       other=fields[entry.other_attribute] if entry.other_attribute else None)
        for entry in entries
    ]
    return form


class _ShownCSRF:
    """The CSRF field of a :class:`ShownPage` (what surveys.form_html writes of it)."""

    def __init__(self, name: str, token: str) -> None:
        self.id = self.name = name
        self.token = token

    def _value(self) -> str:
        return self.token


@dataclass
class ShownPage:
    """A page form as a GET shows it, for surveys.form_html: the questions' fields with the
    answers so far, no errors, the CSRF field. Made by :func:`shown_page` without binding a form."""

    questions: list[QuestionFields]
    language: str
    page: Page
    _fields: dict[str, Any]
    errors: dict[str, Any] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)
    # The questions' markup, kept for the same choices (see shown_page); when it was kept
    # before this request, ``questions`` is empty: no fields were filled.
    questions_markup: Any = None


# Question markup written for a page form class and the choices shown in it, kept per
# process: most pages are shown empty, or with the same few choices, to many residents.
# Never with typed text in it (see _markup_key).
_SHOWN_MARKUP: dict[tuple, Any] = {}
_TYPED = (QuestionType.SHORT_TEXT, QuestionType.LONG_TEXT, QuestionType.NUMBER)
SHOWN_MARKUP_MAX = 1024


def shown_page(defn: SurveyDefinition, page: Page, language: str, answers_so_far: Mapping[str, Any]) -> ShownPage:
    """What ``build_page_form(defn, page, language, answers_so_far, meta=RESPONDENT_META)``
    shows, for the price of copying fields: the page form class's fields are bound once
    (to a form of their own), and each GET processes copies of them with the answers so
    far, as binding would. Its CSRF token is that of :class:`SessionCSRF`. When the same
    choices were shown with this form class before (and nothing typed), the questions'
    markup is the one written then, and no fields are filled."""
    if language not in defn.languages:
        language = defn.default_language
    questions = visible_questions(defn, page, answers_so_far)
    form_class, entries = _page_form_class(defn, page, language, questions)
    data = _prefill(entries, answers_so_far)
    config = current_app.config
    name = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    csrf = _ShownCSRF(name, _session_csrf_token(config.get("WTF_CSRF_SECRET_KEY", current_app.secret_key), name))
    key = _markup_key(form_class, entries, data)
    kept = _SHOWN_MARKUP.get(key) if key is not None else None
    if kept is not None:
        return ShownPage(questions=[], language=language, page=page, _fields={name: csrf}, questions_markup=kept)
    bound = form_class.__dict__.get("_bound_once")
    if bound is None:
        bound = form_class._bound_once = dict(form_class(formdata=None, meta={"csrf": False})._fields)
    fields: dict[str, Any] = {}
    for attribute, original in bound.items():
        shown = fields[attribute] = object.__new__(type(original))
        shown.__dict__.update(original.__dict__)
        if attribute in data:
            shown.process(None, data[attribute])
        else:
            shown.process(None)
    fields[name] = csrf
    shown = ShownPage(
        questions=[QuestionFields(question=entry.question, language=language, text=entry.text, help=entry.help,
                                  fields=[fields[attribute] for attribute in entry.attributes],
                                  other=fields[entry.other_attribute] if entry.other_attribute else None)
                   for entry in entries],
        language=language, page=page, _fields=fields)
    if key is not None:
        from surveys.form_html import questions_html  # (it imports this module)

        if len(_SHOWN_MARKUP) >= SHOWN_MARKUP_MAX:
            _SHOWN_MARKUP.clear()
        shown.questions_markup = _SHOWN_MARKUP[key] = questions_html(shown)
    return shown


def _markup_key(form_class: type, entries: Iterable[_Entry], data: Mapping[str, Any]) -> tuple | None:
    """What the questions' markup of a shown page depends on besides its form class (which
    stands for the survey, page, visible questions and languages): the choices shown.
    None when a field holds something typed (text or a number): nothing a resident wrote
    is kept."""
    for entry in entries:
        if entry.other_attribute and data.get(entry.other_attribute):
            return None
        if entry.question.type in _TYPED and data.get(entry.attributes[0]) not in (None, ""):
            return None
    shown = []
    for name, value in sorted(data.items()):
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = tuple(value)
        elif not isinstance(value, (str, int, float, bool)):  # an answer of another shape (an older revision)
            return None
        shown.append((name, value))
    return (form_class, *shown)


@dataclass(frozen=True)
class _Entry:
    """A question of a page form class: the attribute names of its fields."""

    question: Question
    text: str
    help: str
    attributes: tuple[str, ...]
    other_attribute: str | None


_FORM_CLASSES: dict[tuple, tuple[SurveyDefinition, type[SurveyPageForm], tuple[_Entry, ...]]] = {}
_FORM_CLASSES_MAX = 512


def _page_form_class(defn: SurveyDefinition, page: Page, language: str,
                     questions: list[Question]) -> tuple[type[SurveyPageForm], tuple[_Entry, ...]]:
    """The form class for these visible questions of ``page``, made once per process.

    Kept per (definition object, page, visible questions, survey language, interface
    language -- the validators' messages are translated when the class is made). The
    cache holds the definition itself, so its ``id`` cannot be reused while the entry
    lives; it is emptied when it reaches ``_FORM_CLASSES_MAX`` entries.
    """
    key = (id(defn), page.key, language, str(get_locale()), tuple(question.key for question in questions))
    found = _FORM_CLASSES.get(key)
    if found is not None and found[0] is defn:
        return found[1], found[2]
    attributes: dict[str, Any] = {}
    entries = []
    for question in questions:
        names = []
        for unbound in _unbound_fields(question, language):
            names.append(f"field_{len(attributes)}")
            attributes[names[-1]] = unbound
        other_attribute = None
        if question.other:
            other_attribute = f"field_{len(attributes)}"
            attributes[other_attribute] = _other_field(question, language)
        entries.append(_Entry(question, text_in(question.text, language), text_in(question.help, language),
                              tuple(names), other_attribute))
    form_class = type("SurveyPageForm", (SurveyPageForm,), attributes)
    if len(_FORM_CLASSES) >= _FORM_CLASSES_MAX:
        _FORM_CLASSES.clear()
    _FORM_CLASSES[key] = (defn, form_class, tuple(entries))
    return form_class, tuple(entries)


def _prefill(entries: Iterable[_Entry], answers: Mapping[str, Any]) -> dict[str, Any]:
    """The fields' data from the answers so far (resuming a page), by attribute name."""
    data: dict[str, Any] = {}
    for entry in entries:
        question = entry.question
        previous = answers.get(question.key)
        if question.type == QuestionType.MATRIX:
            previous = previous if isinstance(previous, Mapping) else {}
            for item, attribute in zip(question.items, entry.attributes):
                if previous.get(item.key) is not None:
                    data[attribute] = str(previous[item.key])
        elif previous is not None:
            if question.type in (QuestionType.SCALE, QuestionType.NUMBER):
                data[entry.attributes[0]] = str(previous)
            elif question.type == QuestionType.MULTIPLE_CHOICE:
                if isinstance(previous, list):
                    data[entry.attributes[0]] = previous
            elif question.type in (QuestionType.SHORT_TEXT, QuestionType.LONG_TEXT):
                if isinstance(previous, str):
                    data[entry.attributes[0]] = previous
            else:
                data[entry.attributes[0]] = previous
        if entry.other_attribute and answers.get(other_key(question.key)):
            data[entry.other_attribute] = answers[other_key(question.key)]
    return data


def _unbound_fields(question: Question, language: str):
    """Yield the unbound field(s) of a question: one, or one per matrix item."""
    key, qtype = question.key, question.type
    label = text_in(question.text, language)
    hint = text_in(question.help, language)
    common = {"name": key, "id": f"q-{key}"}

    if qtype in (QuestionType.SINGLE_CHOICE, QuestionType.YES_NO):
        choices = _option_choices(question, language)
        yield RadioField(label, choices=choices, description=hint, validate_choice=False, validators=[
            _Answer(question.required, _("Välj ett alternativ.")), _OneOf(c.value for c in choices)], **common)
    elif qtype == QuestionType.MULTIPLE_CHOICE:
        choices = _option_choices(question, language)
        low = question.min_choices if question.min_choices is not None else (1 if question.required else None)
        message = (_("Välj minst %(n)s alternativ.", n=low) if low and low > 1 else _("Välj minst ett alternativ."))
        yield MultiCheckboxField(
            label, choices=choices, description=_join(hint, _choice_count_hint(question)), validate_choice=False,
            render_kw={"required": False},
            validators=[_Answer(question.required or bool(question.min_choices), message),
                        _SomeOf((c.value for c in choices), low, question.max_choices)], **common,
        )
    elif qtype == QuestionType.SCALE:
        choices = _scale_choices(question, language)
        yield RadioField(label, choices=choices, description=hint, validate_choice=False, validators=[
            _Answer(question.required, _("Välj ett alternativ.")), _OneOf(c.value for c in choices)], **common)
    elif qtype == QuestionType.MATRIX:
        choices = _scale_choices(question, language) if question.scale else _option_choices(question, language)
        for item in question.items:
            yield RadioField(
                text_in(item.text, language), choices=choices, validate_choice=False,
                validators=[_Answer(question.required, _("Välj ett alternativ för det här påståendet.")),
                            _OneOf(c.value for c in choices)],
                name=f"{key}-{item.key}", id=f"q-{key}-{item.key}",
            )
    elif qtype == QuestionType.NUMBER:
        yield StringField(
            label, description=_join(hint, _range_hint(question)), filters=[clean_free_text],
            render_kw={"inputmode": "numeric" if (question.min or 0) >= 0 else "text", "autocomplete": "off",
                       "class": "input-number"},
            validators=[_Answer(question.required, _("Skriv ett tal.")), _WholeNumber(question.min, question.max)],
            **common)
    elif qtype in (QuestionType.SHORT_TEXT, QuestionType.LONG_TEXT):
        field_class = StringField if qtype == QuestionType.SHORT_TEXT else TextAreaField
        render_kw = {"rows": 6} if qtype == QuestionType.LONG_TEXT else {}
        length_hint = _("Högst %(n)s tecken.", n=question.max_length) if qtype == QuestionType.LONG_TEXT else ""
        yield field_class(
            label, description=_join(hint, length_hint), filters=[clean_free_text], render_kw=render_kw,
            validators=[_Answer(question.required, _("Svara på frågan.")), _TextLength(question.max_length or 0)],
            **common)


def _other_field(question: Question, language: str) -> StringField:
    label = text_in(question.other, language)
    limit = 200
    return StringField(
        Markup('{} <span class="visually-hidden">– {}</span>').format(label, text_in(question.text, language)),
        filters=[clean_free_text], validators=[_Answer(False, ""), _TextLength(limit)],
        name=other_key(question.key), id=f"q-{question.key}-other",
    )


def _option_choices(question: Question, language: str) -> list[SelectChoice]:
    choices = [SelectChoice(option.value, text_in(option.label, language)) for option in question.options]
    if question.other:
        choices.append(SelectChoice(OTHER_VALUE, text_in(question.other, language)))
    return choices


def _scale_choices(question: Question, language: str) -> list[SelectChoice]:
    scale = question.scale
    assert scale is not None
    choices = []
    for point in range(scale.min, scale.max + 1):
        label = str(point)
        if point == scale.min and scale.low_label:
            label = f"{point} – {text_in(scale.low_label, language)}"
        elif point == scale.max and scale.high_label:
            label = f"{point} – {text_in(scale.high_label, language)}"
        choices.append(SelectChoice(str(point), label))
    if scale.dont_know:
        choices.append(SelectChoice(DONT_KNOW, text_in(scale.dont_know, language)))
    return choices


def _choice_count_hint(question: Question) -> str:
    low, high = question.min_choices, question.max_choices
    if low and high and low == high:
        return _("Välj %(n)s.", n=low)
    if low and high:
        return _("Välj mellan %(low)s och %(high)s.", low=low, high=high)
    if high:
        return _("Välj högst %(n)s.", n=high)
    if low and low > 1:
        return _("Välj minst %(n)s.", n=low)
    return _("Du kan välja flera.")


def _range_hint(question: Question) -> str:
    if question.min is None and question.max is None:
        return _("Skriv ett heltal.")
    return _range_text(question.min, question.max)


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


# --- reading the answers --------------------------------------------------------------------


def clean_answers(form: SurveyPageForm) -> dict[str, Any]:
    """The page's answers as JSON values keyed by question key (call after ``validate()``).

    Every visible question gets an entry (``None`` when left unanswered); the free text
    of an "annat, nämligen" answer is under ``other_key(key)``.
    """
    answers: dict[str, Any] = {}
    for entry in form.questions:
        question = entry.question
        main = entry.fields[0]
        if question.type in (QuestionType.SINGLE_CHOICE, QuestionType.YES_NO):
            answers[question.key] = main.data or None
        elif question.type == QuestionType.MULTIPLE_CHOICE:
            chosen = set(main.data or [])
            ordered = [value for value in question.values() if value in chosen]
            answers[question.key] = ordered or None
        elif question.type == QuestionType.SCALE:
            answers[question.key] = _scale_value(main.data)
        elif question.type == QuestionType.MATRIX:
            convert = _scale_value if question.scale else (lambda value: value or None)
            items = {item.key: convert(f.data) for item, f in zip(question.items, entry.fields)}
            answers[question.key] = {k: v for k, v in items.items() if v is not None} or None
        elif question.type == QuestionType.NUMBER:
            answers[question.key] = parse_whole_number(main.data)
        else:
            answers[question.key] = main.data or None
        if entry.other is not None and entry.other.data and _chose_other(answers[question.key]):
            answers[other_key(question.key)] = entry.other.data
    return answers


def only_unanswered(form: SurveyPageForm) -> bool:
    """True when a validated page's only errors are questions left unanswered: what
    was answered on it is valid and can be kept (call after ``validate()``)."""
    return not form.form_errors and all(not _has_input(field) for field in form if field.errors)


def _scale_value(raw: Any) -> int | str | None:
    if raw in (None, ""):
        return None
    if raw == DONT_KNOW:
        return DONT_KNOW
    return int(raw)
