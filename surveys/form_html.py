"""The questions of a survey page form as HTML, written out in Python.

Residents' pages are the busiest in the application, and rendering their questions
through WTForms widgets and the shared ``_forms.html`` macro cost about half of each
request (a Jinja macro call per field and per option, ``html_params`` per input).
These functions print exactly the markup of that macro -- the same elements,
attributes in the same (sorted) order, the same ids -- in one pass over the fields:

- radio and checkbox groups in ``fieldset``/``legend`` with the question text, hint
  and error in paragraphs that the fieldset's ``aria-describedby`` names;
- other fields with a ``label``, hint and error named by the input's
  ``aria-describedby``, and ``aria-invalid`` when in error;
- a matrix as a fieldset holding one radio group per item;
- the error summary at the top, each error a link to its field's first input.

``templates/surveys/_questions.html`` calls them, for the answering pages and the
analysts' preview alike. Every text is escaped (``markupsafe.escape``); a label that
is already ``Markup`` (the "annat, nämligen" field's) is kept as it is.
"""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

GROUP_TYPES = frozenset({"RadioField", "MultiCheckboxField"})


def _attribute_text(value: Any) -> str:
    return str(escape(value)).replace('"', "&quot;")


def _attributes(attributes: dict[str, Any]) -> str:
    """``html_params`` of WTForms: sorted by name, True as a bare name, False left out."""
    parts = []
    for name in sorted(attributes):
        value = attributes[name]
        if value is True:
            parts.append(name)
        elif value is not False and value is not None:
            parts.append(f'{name}="{_attribute_text(value)}"')
    return " ".join(parts)


def _describedby(field) -> str:
    ids = []
    if field.description:
        ids.append(f"{field.id}-hint")
    if field.errors:
        ids.append(f"{field.id}-error")
    return " ".join(ids)


def _messages(field, out: list[str], error_label: str) -> None:
    if field.description:
        out.append(f'<p class="hint" id="{escape(field.id)}-hint">{escape(field.description)}</p>')
    if field.errors:
        errors = " ".join(str(escape(error)) for error in field.errors)
        out.append(f'<p class="field-error" id="{escape(field.id)}-error">'
                   f'<span class="visually-hidden">{error_label}</span> {errors}</p>')


def _is_required(field) -> bool:
    return bool(field.flags.required)


def _group(field, out: list[str], texts: dict[str, str]) -> None:
    """A radio or checkbox group: fieldset, legend, hint, error, one list item per choice."""
    describedby = _describedby(field)
    out.append(f'<fieldset class="field{" has-error" if field.errors else ""}"'
               + (f' aria-describedby="{escape(describedby)}"' if describedby else "") + ">")
    required = _is_required(field)
    out.append(f"<legend>{escape(field.label.text)}{texts['required'] if required else ''}</legend>")
    _messages(field, out, texts["error"])
    out.append('<ul class="choices">')
    if field.type == "RadioField":
        kind, data, required_attribute = "radio", field.data, " required" if required else ""
        chosen = (lambda value: value == data)  # noqa: E731 -- RadioField's coerce is str
    else:
        kind, data, required_attribute = "checkbox", set(field.data or ()), ""
        chosen = (lambda value: value in data)  # noqa: E731
    name = _attribute_text(field.name)
    for index, choice in enumerate(field.choices):
        value, label = choice.value, choice.label
        option_id = _attribute_text(f"{field.id}-{index}")
        checked = "checked " if chosen(value) else ""
        out.append(f'<li><input {checked}id="{option_id}" name="{name}"{required_attribute} type="{kind}" '
                   f'value="{_attribute_text(value)}"> <label for="{option_id}">{escape(label or value)}</label></li>')
    out.append("</ul></fieldset>")


def _single(field, out: list[str], texts: dict[str, str]) -> None:
    """A text, number or long-text field: label, hint, error, the input."""
    out.append(f'<div class="field{" has-error" if field.errors else ""}">')
    required = _is_required(field)
    out.append(f'<label for="{_attribute_text(field.id)}">{escape(field.label.text)}'
               f"{texts['required'] if required else ''}</label>")
    _messages(field, out, texts["error"])
    attributes = dict(field.render_kw or {})
    describedby = _describedby(field)
    if describedby:
        attributes["aria-describedby"] = describedby
    if field.errors:
        attributes["aria-invalid"] = "true"
    attributes.setdefault("id", field.id)
    attributes.setdefault("required", required)
    attributes["name"] = field.name
    if field.type == "TextAreaField":
        out.append(f"<textarea {_attributes(attributes)}>\r\n{escape(field._value())}</textarea>")
    else:
        attributes.setdefault("type", "text")
        attributes.setdefault("value", field._value())
        out.append(f"<input {_attributes(attributes)}>")
    out.append("</div>")


def _field(field, out: list[str], texts: dict[str, str]) -> None:
    if field.type in GROUP_TYPES:
        _group(field, out, texts)
    else:
        _single(field, out, texts)


_TEXTS: dict[str, dict[str, str]] = {}


def _texts() -> dict[str, str]:
    """The markup's own words in the page's language (made once per language)."""
    language = str(get_locale())
    texts = _TEXTS.get(language)
    if texts is None:
        texts = _TEXTS[language] = {"required": f' <span class="required">({escape(_("obligatorisk"))})</span>',
                                    "error": str(escape(_("Fel:")))}
    return texts


def questions_html(form) -> Markup:
    """Every question of a page form (see :func:`surveys.forms.build_page_form`)."""
    kept = getattr(form, "questions_markup", None)  # a shown page's, written before (surveys.forms.shown_page)
    if kept is not None:
        return kept
    texts = _texts()
    out: list[str] = []
    for entry in form.questions:
        dom_id = escape(entry.dom_id)
        out.append(f'<div class="question" id="{dom_id}">')
        if entry.is_matrix:
            out.append('<fieldset class="matrix"' + (f' aria-describedby="{dom_id}-hint"' if entry.help else "")
                       + f'><legend class="question-text">{escape(entry.text)}</legend>')
            if entry.help:
                out.append(f'<p class="hint" id="{dom_id}-hint">{escape(entry.help)}</p>')
            for field in entry.fields:
                _group(field, out, texts)
            out.append("</fieldset>")
        else:
            _field(entry.fields[0], out, texts)
            if entry.other is not None:
                _field(entry.other, out, texts)
        out.append("</div>")
    return Markup("\n".join(out))


def csrf_html(form) -> Markup:
    """The form's hidden CSRF field, as WTForms writes it (nothing when the form has none)."""
    field = form._fields.get("csrf_token")
    if field is None:
        return Markup("")
    return Markup(f'<input id="{_attribute_text(field.id)}" name="{_attribute_text(field.name)}" type="hidden" '
                  f'value="{_attribute_text(field._value())}">')


def error_summary_html(form) -> Markup:
    """The error summary of ``_forms.html`` (empty when the form has no errors)."""
    if not form.errors:
        return Markup("")
    items = []
    for field in form:
        suffix = "-0" if field.type in GROUP_TYPES else ""
        for error in field.errors:
            items.append(f'<li><a href="#{_attribute_text(field.id)}{suffix}">{escape(field.label.text)}: '
                         f"{escape(error)}</a></li>")
    items.extend(f"<li>{escape(error)}</li>" for error in form.form_errors)
    return Markup('<div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1" '
                  f'id="error-summary">\n<h2 id="error-summary-title">{escape(_("Det finns fel i formuläret"))}</h2>\n'
                  "<ul>\n" + "\n".join(items) + "\n</ul>\n</div>")
