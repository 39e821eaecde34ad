from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from panel.districts.services import MAX_CODE, MAX_NAME

IMPORT_KINDS = [
    SelectChoice("districts", _l("Områden: kolumnerna code och name")),
    SelectChoice("postcodes", _l("Postnummer: kolumnerna postcode och district_code")),
    SelectChoice("deso", _l("SCB:s DeSO-områden: kolumnerna deso och district_code")),
]


class DistrictForm(FlaskForm):
    code = StringField(_l("Kod"), description=_l("Till exempel 0980-01. Inledande nollor behålls."),
                       validators=[DataRequired(), Length(max=MAX_CODE)])
    name = StringField(_l("Namn"), validators=[DataRequired(), Length(max=MAX_NAME)])


class ImportForm(FlaskForm):
    kind = RadioField(_l("Vad innehåller filen?"), choices=IMPORT_KINDS, default="districts",
                      validators=[DataRequired()])
    file = FileField(
        _l("CSV-fil"),
        description=_l("Första raden är rubriker. Semikolon eller komma som avgränsare; UTF-8 eller "
                       "Latin-1 (Excels CSV-format fungerar). Befintliga rader uppdateras, nya läggs till."),
        validators=[FileRequired(_l("Välj en fil."))],
    )
    scb_key = FileField(
        _l("SCB:s nyckelfil DeSO–RegSO (valfri)"),
        description=_l("Bara för DeSO: med SCB:s fil koppling-deso2018-regso2020.csv kontrolleras "
                       "DeSO-koderna och RegSO-koden fylls i."),
    )


class DeleteForm(FlaskForm):
    """Only the CSRF token: deleting is a POST of its own."""
