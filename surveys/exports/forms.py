"""The export form: which file, which separator, codes or labels, the labels' language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from surveys.languages import autonym

CHOOSE_ONE = _l("Välj ett av alternativen.")

FORMAT_CHOICES = [
    SelectChoice("csv", _l("CSV (öppnas i Excel, R, Stata m.fl.)")),
    SelectChoice("xlsx", _l("Excel (XLSX), med kodboken på ett eget blad")),
    SelectChoice("sav", _l("SPSS (.sav), med variabel- och värdeetiketter")),
    SelectChoice("codebook", _l("Bara kodboken (CSV)")),
]
SEPARATOR_CHOICES = [
    SelectChoice("semicolon", _l("Semikolon ; och decimalkomma (svenska Excel)")),
    SelectChoice("comma", _l("Komma , och decimalpunkt")),
]
VALUE_CHOICES = [
    SelectChoice("codes", _l("Koder (1, 2, 3 …), som i kodboken")),
    SelectChoice("labels", _l("Svarsalternativens text")),
]


class ExportForm(FlaskForm):
    format = RadioField(_l("Filformat"), choices=FORMAT_CHOICES, default="csv",
                        validators=[InputRequired(CHOOSE_ONE)], invalid_choice_message=CHOOSE_ONE)
    separator = RadioField(_l("Avgränsare i CSV"), choices=SEPARATOR_CHOICES, default="semicolon",
                           validators=[InputRequired(CHOOSE_ONE)], invalid_choice_message=CHOOSE_ONE,
                           description=_l("Gäller CSV-filer och kodboken som CSV."))
    values = RadioField(_l("Svaren som"), choices=VALUE_CHOICES, default="codes",
                        validators=[InputRequired(CHOOSE_ONE)], invalid_choice_message=CHOOSE_ONE,
                        description=_l("Gäller CSV och Excel. SPSS-filen har alltid koder med etiketter."))
    language = SelectField(_l("Språk för frågetexter och etiketter"), choices=[], default="sv",
                           validators=[InputRequired(CHOOSE_ONE)], invalid_choice_message=CHOOSE_ONE)


def export_form(languages: tuple[str, ...] | list[str]) -> ExportForm:
    """The form with the survey's languages to choose from (Swedish first)."""
    form = ExportForm()
    form.language.choices = [SelectChoice(code, autonym(code)) for code in languages]
    return form
