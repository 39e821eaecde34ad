from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, Optional


class UploadForm(FlaskForm):
    name = StringField(_l("Namn på befolkningsuppgifterna"),
                       description=_l("Till exempel Folkmängd efter kön och ålder 2025-12-31 (SCB)."),
                       validators=[DataRequired(_l("Skriv ett namn.")), Length(max=200)])
    population = FileField(
        _l("Fil från SCB"),
        description=_l("Från SCB:s statistikdatabas: CSV (svensk eller engelsk), PX, JSON-stat2 eller API v1-JSON, "
                       "högst 4 MB. Siffror per DeSO summeras till panelens områden med DeSO-kopplingen."),
        validators=[FileRequired(_l("Välj filen."))],
    )
    period = StringField(_l("Period (valfri)"),
                         description=_l("Om filen har flera år eller månader, till exempel 2025 eller 2026M01. "
                                        "Tomt: den senaste."),
                         validators=[Optional(), Length(max=100)])
    region = StringField(_l("Region (valfri)"),
                         description=_l("Om filen har flera kommuner eller län: kommunens kod med fyra siffror "
                                        "(till exempel 0980 för Gotland), eller länets kod med två siffror om "
                                        "filen har siffror per län (09 för Gotlands län, som bara har en kommun)."),
                         validators=[Optional(), Length(max=40)])


class ButtonForm(FlaskForm):
    """Only a button (and its CSRF token)."""


class ConfirmForm(FlaskForm):
    """Save the previewed figures; ``accept`` must be ticked when they do not fit the panel.

    The view sets the checkbox's label to name the problems.
    """

    accept = BooleanField(_l("Spara ändå"))
