from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from panel.recruitment.services import CODE_LENGTH, SAMPLE_EXAMPLE


class WaveForm(FlaskForm):
    name = StringField(_l("Namn på rekryteringen"), description=_l("Till exempel Rekrytering våren 2027."),
                       validators=[DataRequired(_l("Skriv ett namn.")), Length(max=200)])
    sample = FileField(
        _l("Urvalet (CSV-fil)"),
        description=_l("En rad per person, med rubrikraden %(columns)s. Kön som kvinna/man (eller K/M, 2/1), "
                       "födelseår med fyra siffror, området som kod eller namn. UTF-8 eller Latin-1, "
                       "semikolon eller komma.", columns=SAMPLE_EXAMPLE),
        validators=[FileRequired(_l("Välj urvalsfilen."))],
    )
    reply_by = DateField(_l("Sista dag att gå med (valfri)"), description=_l("Skrivs i breven. Till exempel 2027-03-31."),
                         validators=[Optional()], format="%Y-%m-%d")
    letter_text = TextAreaField(
        _l("Brevets text (valfri)"),
        description=_l("Lämna tomt för standardtexten. Stycken skiljs med en tom rad. Koden, adressen till "
                       "webbplatsen och kontaktuppgifterna läggs alltid till."),
        validators=[Optional(), Length(max=5000)],
    )


class CodeForm(FlaskForm):
    code = StringField(
        _l("Koden från brevet"),
        description=_l("Åtta tecken, till exempel ACDE-3479. Stora eller små bokstäver, med eller utan bindestreck."),
        validators=[InputRequired(_l("Skriv koden från brevet.")),
                    Length(max=4 * CODE_LENGTH, message=_l("Koden har åtta tecken, till exempel ACDE-3479."))],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false", "class": "code"},
    )


class ButtonForm(FlaskForm):
    """Only a button (and its CSRF token)."""
