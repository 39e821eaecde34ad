"""Forms of the publication pages. Messages in plain Swedish (English through the catalog)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectMultipleField, TextAreaField
from wtforms.validators import InputRequired, Length, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from surveys.publication.services import MAX_DECISION


def _whole_number(form, field) -> None:
    text = (field.data or "").strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:  # "²".isdigit(), but int("²") fails
        raise StopValidation(_l("Sidan var inaktuell. Ladda om den och försök igen."))
    field.data = text


class PublishForm(FlaskForm):
    # The version this press creates: a second press (or a colleague in between) is refused.
    version = HiddenField(validators=[_whole_number])
    notify_all_members = BooleanField(
        _l("Skicka resultatmejlet till alla aktiva medlemmar, inte bara till dem som svarade"),
        description=_l("De som svarade får alltid mejlet, utom de som har avregistrerat sig eller pausat."))


class ApprovalForm(FlaskForm):
    """Checkboxes of the free-text answers; the view sets the choices."""

    approved = SelectMultipleField(_l("Godkända svar"), choices=[], validate_choice=False,
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())


class DecisionForm(FlaskForm):
    text = TextAreaField(
        _l("Beslut eller planerade åtgärder"),
        description=_l("Vad nämnden beslutade eller vad kommunen tänker göra. Du kan använda enkel Markdown: "
                       "stycken, listor, *kursiv*, **fet** och länkar. Texten visas på rapporten och skickas i "
                       "ett mejl till dem som fick resultatet."),
        validators=[InputRequired(_l("Skriv vad som beslutades.")),
                    Length(max=MAX_DECISION, message=_l("Texten får vara högst %(max)d tecken."))],
        render_kw={"rows": 8})
