"""Forms of the fielding pages. Every message is plain Swedish; the view adds the district choices.

Numbers and times are text fields with validators of their own, so a wrong value gets a
Swedish sentence saying what to write (WTForms' own messages are English). Times are
entered in Swedish time (Europe/Stockholm) and stored in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from panel.members.forms import GENDER_CHOICES
from surveys.fielding.models import Allocation, TargetMode

MODE_CHOICES = [
    SelectChoice(TargetMode.ALL, _l("Alla i panelen som passar in på villkoren")),
    SelectChoice(TargetMode.SAMPLE, _l("Ett slumpmässigt urval, stratifierat på kön × åldersgrupp × område")),
]
ALLOCATION_CHOICES = [
    SelectChoice(Allocation.PROPORTIONAL, _l("Proportionell: varje grupp får en andel som motsvarar dess storlek")),
    SelectChoice(Allocation.EQUAL, _l("Lika många i varje grupp (så långt gruppen räcker)")),
]
SOURCE_CHOICES = [
    SelectChoice("open", _l("Har anmält sig själva")),
    SelectChoice("wave", _l("Har gått med med en kod från ett rekryteringsbrev")),
]
MAX_SEED = 2**31 - 1
_DATETIME = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::\d{2})?\s*$")
CHOOSE_ONE = _l("Välj ett av alternativen.")
UNKNOWN_CHOICE = _l("Okänt val: %(value)s.")


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes; ``templates/_forms.html`` puts them in a fieldset with a legend."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def whole_number(low: int, high: int, message) -> Callable[..., None]:
    """A validator: the text is a whole number from ``low`` to ``high``; the data becomes an int."""

    def validate(form, field) -> None:
        text = field.data or ""
        if not text:
            field.data = None
            return
        if not re.fullmatch(r"[0-9]{1,10}", text) or not low <= int(text) <= high:
            raise StopValidation(message)
        field.data = int(text)

    return validate


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Stockholm"))


def local_datetime(form, field) -> None:
    """``2026-05-04T18:00`` (as a datetime-local input sends it), read as Swedish time, into aware UTC."""
    text = field.data or ""
    if not text:
        field.data = None
        return
    match = _DATETIME.match(text)
    try:
        if not match:
            raise ValueError
        year, month, day, hour, minute = (int(part) for part in match.groups())
        local = datetime(year, month, day, hour, minute, tzinfo=_zone())
    except ValueError:
        raise StopValidation(_l("Skriv datum och tid som 2026-05-04 18:00.")) from None
    field.data = local.astimezone(timezone.utc)


def as_local_input(value: datetime | None) -> str:
    """A stored UTC time as the text of a datetime-local input, in Swedish time."""
    return value.astimezone(_zone()).strftime("%Y-%m-%dT%H:%M") if value else ""


def _number(label, low: int, high: int, message, *, required: bool = False, description=None,
            default: str | None = None) -> StringField:
    validators = [InputRequired(message)] if required else []
    return StringField(label, filters=[_strip], description=description, default=default,
                       validators=[*validators, whole_number(low, high, message)],
                       render_kw={"inputmode": "numeric", "class": "short"})


def _when(label, *, required: bool, description) -> StringField:
    validators = [InputRequired(_l("Skriv när enkäten stänger."))] if required else []
    return StringField(label, filters=[_strip], description=description,
                       validators=[*validators, local_datetime], render_kw={"type": "datetime-local"})


def _reminder_fields(form_class):
    form_class.reminder_after_days = _number(
        _l("Påminnelse efter antal dagar"), 1, 60, _l("Skriv ett antal dagar från 1 till 60."), required=True,
        default="7", description=_l("Påminnelsen går till dem som inte har svarat så här många dagar "
                                    "efter inbjudan (eller efter förra påminnelsen)."))
    form_class.max_reminders = _number(
        _l("Högst antal påminnelser"), 0, 5, _l("Skriv ett antal från 0 till 5."), required=True, default="1",
        description=_l("0 betyder inga påminnelser."))
    return form_class


@_reminder_fields
class TargetForm(FlaskForm):
    mode = RadioField(_l("Vilka ska få enkäten?"), choices=MODE_CHOICES, default=TargetMode.ALL,
                      validators=[InputRequired(CHOOSE_ONE)], invalid_choice_message=CHOOSE_ONE)
    age_min = _number(_l("Lägsta ålder"), 0, 120, _l("Skriv en ålder från 0 till 120, eller lämna tomt."),
                      description=_l("Ålder som man fyller i år. Lämna tomt för ingen gräns."))
    age_max = _number(_l("Högsta ålder"), 0, 120, _l("Skriv en ålder från 0 till 120, eller lämna tomt."),
                      description=_l("Till exempel 25 för en ungdomspanel på 16–25 år."))
    genders = MultiCheckboxField(_l("Kön"), choices=GENDER_CHOICES, invalid_choice_message=UNKNOWN_CHOICE,
                                 description=_l("Kryssa inget för att ta med alla."))
    districts = MultiCheckboxField(_l("Områden"), choices=[], invalid_choice_message=UNKNOWN_CHOICE,
                                   description=_l("Kryssa inget för att ta med alla områden."))
    sources = MultiCheckboxField(_l("Hur medlemmen kom med i panelen"), choices=SOURCE_CHOICES,
                                 invalid_choice_message=UNKNOWN_CHOICE,
                                 description=_l("Kryssa inget för att ta med alla."))
    sample_size = _number(_l("Antal i urvalet"), 1, 1_000_000, _l("Skriv ett antal från 1 till 1 000 000."),
                          description=_l("Bara för urval. Urvalet dras bland dem som passar in på villkoren."))
    allocation = RadioField(_l("Fördelning av urvalet på grupperna"), choices=ALLOCATION_CHOICES,
                            default=Allocation.PROPORTIONAL, validators=[InputRequired(CHOOSE_ONE)],
                            invalid_choice_message=CHOOSE_ONE)
    seed = _number(_l("Slumpfrö"), 0, MAX_SEED, _l("Skriv ett heltal från 0 till 2147483647, eller lämna tomt."),
                   description=_l("Lämna tomt för ett nytt. Samma frö och samma panel ger samma urval."))
    contact_limit = _number(_l("Högst antal inbjudningar per medlem"), 1, 100,
                            _l("Skriv ett antal från 1 till 100, eller lämna tomt."),
                            description=_l("Medlemmar som redan har fått så många inbjudningar under perioden "
                                           "nedan får inte den här. Lämna tomt för ingen gräns."))
    contact_window_days = _number(_l("Period för gränsen, i dagar"), 1, 365,
                                  _l("Skriv ett antal dagar från 1 till 365."),
                                  required=True, default="30")
    opens_at = _when(_l("Öppnar"), required=False,
                     description=_l("Svensk tid. Inbjudningarna skickas då. Lämna tomt för att öppna när du skickar."))
    closes_at = _when(_l("Stänger"), required=True, description=_l("Svensk tid, till exempel 2026-05-04 18:00."))


@_reminder_fields
class ScheduleForm(FlaskForm):
    closes_at = _when(_l("Stänger"), required=True, description=_l("Svensk tid, till exempel 2026-05-04 18:00."))


class ButtonForm(FlaskForm):
    """A form that is only a button (send, remind, close): the CSRF token."""
