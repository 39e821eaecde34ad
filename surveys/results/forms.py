"""The weighting settings form. Every message is plain Swedish; the view adds the choices
that depend on the database (population datasets) and checks the question keys.

Collapsing rules and cross-tabs are text, one per line, so that any number can be given
without JavaScript:

* collapsing: ``age_group: 65-74 + 75+`` (merge these categories of the variable);
* cross-tabs: ``trygg × gender`` (a single-choice question by a background variable
  or by another single-choice question; ``x`` or a comma also separates).
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, StopValidation

from surveys.fielding.forms import MultiCheckboxField
from surveys.results.services import VARIABLES

METHOD_CHOICES = [
    SelectChoice("rake", _l("Räfsning (iterativ proportionell anpassning), rekommenderas")),
    SelectChoice("poststratify", _l("Poststratifiering (en enda, gärna korsad, marginal)")),
    SelectChoice("linear", _l("Linjär kalibrering (GREG)")),
    SelectChoice("truncated_linear", _l("Linjär kalibrering med gränser för vikterna")),
    SelectChoice("logit", _l("Logit-kalibrering med gränser för vikterna")),
    SelectChoice("raking_ratio", _l("Multiplikativ kalibrering")),
]
MARGIN_CHOICES = [
    SelectChoice("gender", _l("Kön")),
    SelectChoice("age_group", _l("Åldersgrupp")),
    SelectChoice("district", _l("Område")),
    SelectChoice("gender×age_group", _l("Kön × åldersgrupp")),
    SelectChoice("gender×district", _l("Kön × område")),
    SelectChoice("age_group×district", _l("Åldersgrupp × område")),
]
CHOOSE_ONE = _l("Välj ett av alternativen.")
UNKNOWN_CHOICE = _l("Okänt val: %(value)s.")  # for multiple choices: WTForms fills in the values
UNKNOWN_DATASET = _l("De valda befolkningssiffrorna finns inte. Välj i listan.")
_DECIMAL = re.compile(r"^\d{1,4}([.,]\d{1,4})?$")
_JOIN = re.compile(r"\s\+\s|,")  # "65-74 + 75+": the plus of "75+" is part of the label
_PAIR = re.compile(r"\s*(?:×|\bx\b|,)\s*")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def decimal(low: float, high: float, message):
    """A validator: empty, or a decimal number strictly between ``low`` and ``high``; data becomes a float."""

    def validate(form, field) -> None:
        text = field.data or ""
        if not text:
            field.data = None
            return
        if not _DECIMAL.match(text):
            raise StopValidation(message)
        value = float(text.replace(",", "."))
        if not low < value < high:
            raise StopValidation(message)
        field.data = value

    return validate


def parse_collapse(text: str, known: dict[str, list[str]] | None = None) -> dict[str, list[list[str]]]:
    """``age_group: 65-74 + 75+`` per line → ``{"age_group": [["65-74", "75+"]]}``; ValueError in Swedish.

    ``known``: the groups each variable has (when given, any other group is refused).
    """
    rules: dict[str, list[list[str]]] = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        variable, sep, rest = line.partition(":")
        variable = variable.strip()
        if not sep or variable not in VARIABLES:
            raise ValueError(_l("Rad %(n)s: börja med gender, age_group eller district och ett kolon, "
                                "till exempel ”age_group: 65-74 + 75+”.", n=number))
        categories = [c.strip() for c in _JOIN.split(rest) if c.strip()]
        if len(categories) < 2:
            raise ValueError(_l("Rad %(n)s: skriv minst två grupper att slå ihop, åtskilda med ” + ” (plus med mellanslag runt).", n=number))
        if len(set(categories)) != len(categories):
            raise ValueError(_l("Rad %(n)s: samma grupp står två gånger.", n=number))
        unknown = [c for c in categories if known is not None and c not in known.get(variable, ())]
        if unknown:
            raise ValueError(_l("Rad %(n)s: %(unknown)s finns inte bland grupperna i %(variable)s, som är: %(known)s.",
                                n=number, unknown=", ".join(f"”{c}”" for c in unknown), variable=variable,
                                known=", ".join(known.get(variable, ())) or "–"))
        taken = {c for group in rules.get(variable, []) for c in group}
        if taken & set(categories):
            raise ValueError(_l("Rad %(n)s: en grupp kan bara slås ihop en gång.", n=number))
        rules.setdefault(variable, []).append(categories)
    return rules


def parse_crosstabs(text: str) -> list[tuple[str, str]]:
    """``trygg × gender`` per line → ``[("trygg", "gender")]``; ValueError in Swedish."""
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [p for p in _PAIR.split(line) if p]
        if len(parts) != 2 or parts[0] == parts[1]:
            raise ValueError(_l("Rad %(n)s: skriv två olika nycklar åtskilda med ×, till exempel ”trygg × gender”.",
                                n=number))
        if (parts[0], parts[1]) not in pairs:
            pairs.append((parts[0], parts[1]))
    return pairs


class SettingsForm(FlaskForm):
    enabled = BooleanField(_l("Vikta svaren till befolkningen"), default=True, description=_l(
        "Utan viktning är siffrorna oviktade, utom när urvalet drogs med lika många per grupp: då är de "
        "designviktade (varje svar väger som 1/sannolikheten att komma med i urvalet)."))
    method = RadioField(_l("Viktningsmetod"), choices=METHOD_CHOICES, default="rake",
                        validators=[InputRequired(CHOOSE_ONE)], invalid_choice_message=CHOOSE_ONE)
    margins = MultiCheckboxField(
        _l("Viktningsvariabler"), choices=MARGIN_CHOICES, invalid_choice_message=UNKNOWN_CHOICE,
        default=["gender", "age_group", "district"],
        description=_l("Befolkningssiffrorna måste ha variabeln. En korsad marginal (till exempel kön × "
                       "åldersgrupp) kräver svarande i varje kombination."))
    population_dataset = SelectField(
        _l("Befolkningssiffror"), choices=[], invalid_choice_message=UNKNOWN_DATASET,
        description=_l("Om du inte väljer andra används de befolkningssiffror som är markerade ”Används” på "
                       "sidan Befolkningsuppgifter (de senast uppladdade om inga har markerats)."))
    trim_lower = StringField(
        _l("Lägsta vikt, gånger medelvikten"), filters=[_strip],
        validators=[decimal(0, 1, _l("Skriv ett tal större än 0 och mindre än 1, till exempel 0,3, eller lämna tomt."))],
        description=_l("Lämna tomt för ingen gräns. För kalibrering med gränser är det gränsen för viktfaktorn."),
        render_kw={"inputmode": "decimal", "class": "short"})
    trim_upper = StringField(
        _l("Högsta vikt, gånger medelvikten"), filters=[_strip],
        validators=[decimal(1, 1000, _l("Skriv ett tal större än 1, till exempel 5, eller lämna tomt."))],
        description=_l("Vikter över gränsen trimmas och de andra justeras tills befolkningssiffrorna stämmer igen."),
        render_kw={"inputmode": "decimal", "class": "short"})
    collapse = TextAreaField(
        _l("Slå ihop grupper före viktning"), filters=[_strip],
        description=_l("En regel per rad, till exempel ”age_group: 65-74 + 75+”. Använd det när en grupp "
                       "saknar svarande."), render_kw={"rows": 3})
    crosstabs = TextAreaField(
        _l("Korstabeller"), filters=[_strip],
        description=_l("En per rad: en envalsfråga × en bakgrundsvariabel (gender, age_group, district) eller "
                       "en annan envalsfråga, till exempel ”trygg × age_group”. Lämna tomt för standardvalet."),
        render_kw={"rows": 4})

    #: The groups of each variable that can be merged (set by the view; None: not checked).
    known_groups: dict[str, list[str]] | None = None

    def validate_collapse(self, field) -> None:
        try:
            field.parsed = parse_collapse(field.data or "", self.known_groups)
        except ValueError as error:
            raise StopValidation(str(error)) from None

    def validate_crosstabs(self, field) -> None:
        try:
            field.parsed = parse_crosstabs(field.data or "")
        except ValueError as error:
            raise StopValidation(str(error)) from None

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not ok:
            return False
        if self.enabled.data and not self.margins.data:
            self.margins.errors = [_l("Välj minst en viktningsvariabel, eller stäng av viktningen.")]
            return False
        if self.method.data == "poststratify" and len(self.margins.data or []) != 1:
            self.margins.errors = [_l("Poststratifiering använder exakt en marginal, till exempel kön × åldersgrupp.")]
            return False
        return True
