"""Forms for residents. Every message is plain Swedish; the views add the district choices."""

from __future__ import annotations

import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional, StopValidation, ValidationError

from panel.i18n import resident_languages
from panel.members.services import birth_year_range
from panel.numerals import ascii_digits
from panel.models.member import Gender, LeaveReason

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

GENDER_CHOICES = [
    SelectChoice(Gender.KVINNA, _l("Kvinna")),
    SelectChoice(Gender.MAN, _l("Man")),
    SelectChoice(Gender.ANNAN, _l("Annan / icke-binär")),
    SelectChoice(Gender.UPPGER_EJ, _l("Vill inte uppge")),
]
# Each language named in itself, so that everyone finds their own.
LANGUAGE_CHOICES = [
    SelectChoice("sv", "Svenska", render_kw={"lang": "sv"}),
    SelectChoice("en", "English", render_kw={"lang": "en"}),
    SelectChoice("ar", "العربية", render_kw={"lang": "ar", "dir": "rtl"}),
]


def _language_choices():
    """The languages of this panel's resident pages (panel.i18n.resident_languages)."""
    offered = resident_languages()
    return [choice for choice in LANGUAGE_CHOICES if choice.value in offered]


PAUSE_CHOICES = [
    SelectChoice("1", _l("En månad")),
    SelectChoice("3", _l("Tre månader")),
    SelectChoice("6", _l("Sex månader")),
    SelectChoice("12", _l("Ett år")),
]
LEAVE_REASON_CHOICES = [
    SelectChoice(LeaveReason.TOO_MANY, _l("Det blev för många enkäter")),
    SelectChoice(LeaveReason.NOT_INTERESTED, _l("Jag är inte intresserad längre")),
    SelectChoice(LeaveReason.PRIVACY, _l("Jag vill inte att kommunen har mina uppgifter")),
    SelectChoice(LeaveReason.MOVING, _l("Jag flyttar från kommunen")),
    SelectChoice(LeaveReason.OTHER, _l("Något annat")),
]


FORM_EXPIRED = _l("Formuläret hade gått ut och skickades inte. Det du skrev finns kvar här nedanför: "
                  "kontrollera och skicka igen.")


def strip(value):
    return value.strip() if isinstance(value, str) else value


def digits_0_to_9(value):
    """Digits of any script as 0-9 (panel.numerals.ascii_digits), so that ١٢٣ ٤٥ is the postcode 123 45."""
    return ascii_digits(value) if isinstance(value, str) else value


def no_control_characters(form, field) -> None:
    """Line breaks, NUL and other control characters never belong in these fields."""
    if isinstance(field.data, str) and _CONTROL.search(field.data):
        raise StopValidation(_l("Fältet får inte innehålla radbrytningar eller andra kontrolltecken."))


class MaxLength(Length):
    """Length(max=...) that stops the chain, so an over-long value gets one message only."""

    def __init__(self, max: int, message: str) -> None:
        super().__init__(max=max, message=message)

    def __call__(self, form, field) -> None:
        try:
            super().__call__(form, field)
        except ValidationError as error:
            raise StopValidation(str(error)) from None


def birth_year(form, field) -> None:
    """Four digits (of any script: ١٩٩٠ is 1990) within the ages that may join; turns the field's data into an int."""
    text = ascii_digits(field.data or "")
    if not re.fullmatch(r"[0-9]{4}", text):
        raise StopValidation(_l("Skriv födelseåret med fyra siffror, till exempel 1985."))
    year = int(text)
    oldest, youngest = birth_year_range()
    if year > youngest:
        raise StopValidation(_l("Du behöver fylla minst %(n)s år i år för att vara med i panelen.",
                                n=current_app.config["PANEL_MIN_AGE"]))
    if year < oldest:
        raise StopValidation(_l("Kontrollera födelseåret. Det kan inte vara tidigare än %(year)s.", year=oldest))
    field.data = year


def _email_field(label):
    return EmailField(label, filters=[strip], validators=[
        InputRequired(_l("Skriv din e-postadress.")),
        no_control_characters,
        MaxLength(254, _l("E-postadressen får ha högst 254 tecken.")),
        Email(_l("Skriv en e-postadress i formen namn@exempel.se."), check_deliverability=False),
    ], render_kw={"autocomplete": "email", "spellcheck": "false"})


def _birth_year_field():
    return StringField(_l("Födelseår"), filters=[strip], description=_l("Fyra siffror, till exempel 1985."),
                       validators=[InputRequired(_l("Skriv ditt födelseår.")), no_control_characters,
                                   MaxLength(4, _l("Skriv födelseåret med fyra siffror, till exempel 1985.")),
                                   birth_year],
                       render_kw={"inputmode": "numeric", "autocomplete": "bday-year", "class": "short"})


def _gender_field():
    return RadioField(_l("Kön"), choices=GENDER_CHOICES,
                      description=_l("Vi frågar för att kunna se att panelen liknar befolkningen i kommunen."),
                      validators=[InputRequired(_l("Välj ett av alternativen."))],
                      invalid_choice_message=_l("Välj ett av alternativen."))


def _district_field():
    # Choices are set by the view from the database; the value is the district's id.
    return SelectField(_l("Område"), choices=[], description=_l("Det område i kommunen där du bor."),
                       validate_choice=False)  # checked by DistrictChoices.validate_district


def _postcode_field():
    return StringField(_l("Postnummer"), filters=[strip, digits_0_to_9],
                       description=_l("Vet du inte vilket område du bor i? Skriv ditt postnummer i stället."),
                       validators=[Optional(), no_control_characters,
                                   MaxLength(6, _l("Skriv postnumret med fem siffror, till exempel 621 41."))],
                       render_kw={"inputmode": "numeric", "autocomplete": "postal-code", "class": "short"})


def _language_field():
    return RadioField(_l("Språk i mejlen från panelen"), choices=_language_choices,
                      validators=[InputRequired(_l("Välj ett av alternativen."))],
                      invalid_choice_message=_l("Välj ett av alternativen."))


class DistrictChoices:
    """Forms asking for a district: the view gives the choices, and says whether postcodes are known."""

    def set_districts(self, districts, *, postcodes: bool) -> None:
        """Offer ``districts``; without a postcode table the postcode field goes and a district is required."""
        self.district.choices = [SelectChoice("", _l("Välj område"))] + [
            SelectChoice(str(d.id), d.name) for d in districts
        ]
        if not postcodes:
            del self["postcode"]
            self.district.flags.required = True

    def validate_district(self, field) -> None:
        postcode = self._fields.get("postcode")
        if not field.data:
            if postcode is not None and postcode.data:
                return  # the district comes from the postcode
            if postcode is not None:
                raise StopValidation(_l("Välj ditt område, eller skriv ditt postnummer."))
            raise StopValidation(_l("Välj ditt område."))
        if field.data not in {choice.value for choice in field.choices if choice.value}:
            raise StopValidation(_l("Välj ett område i listan."))


class JoinForm(DistrictChoices, FlaskForm):
    email = _email_field(_l("E-postadress"))
    birth_year = _birth_year_field()
    gender = _gender_field()
    district = _district_field()
    postcode = _postcode_field()
    language = _language_field()
    accept_terms = BooleanField(_l("Jag har läst villkoren och vill vara med i panelen"),
                                validators=[InputRequired(_l("Du behöver godkänna villkoren för att gå med."))])
    terms_version = HiddenField(validators=[no_control_characters])


class ProfileForm(DistrictChoices, FlaskForm):
    birth_year = _birth_year_field()
    gender = _gender_field()
    district = _district_field()
    postcode = _postcode_field()
    language = _language_field()


class RequestLinkForm(FlaskForm):
    email = _email_field(_l("Din e-postadress"))


class EmailChangeForm(FlaskForm):
    email = _email_field(_l("Ny e-postadress"))


class PauseForm(FlaskForm):
    period = RadioField(_l("Hur länge vill du pausa?"), choices=PAUSE_CHOICES,
                        validators=[InputRequired(_l("Välj hur länge du vill pausa."))],
                        invalid_choice_message=_l("Välj hur länge du vill pausa."))


class LeaveForm(FlaskForm):
    reason = RadioField(_l("Vill du berätta varför du går ur? (frivilligt)"), choices=LEAVE_REASON_CHOICES,
                        validators=[Optional()], validate_choice=True,
                        invalid_choice_message=_l("Välj ett av alternativen."))


class ButtonForm(FlaskForm):
    """A form that is only a button (and its CSRF token)."""
