from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length

from panel.accounts.services import MIN_PASSWORD_LENGTH
from panel.members.forms import no_control_characters  # a NUL cannot even be stored on PostgreSQL

ROLE_CHOICES = [
    SelectChoice("analyst", _l("Analytiker")),
    SelectChoice("committee", _l("Ledamot (beredning/nämnd)")),
    SelectChoice("admin", _l("Administratör")),
]


class LoginForm(FlaskForm):
    email = EmailField(_l("E-postadress"), validators=[DataRequired(), no_control_characters, Length(max=254)])
    password = PasswordField(_l("Lösenord"), validators=[DataRequired(), Length(max=200)])


class StaffForm(FlaskForm):
    name = StringField(_l("Namn"), validators=[DataRequired(), no_control_characters, Length(max=200)])
    email = EmailField(_l("E-postadress"), validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    role = SelectField(_l("Roll"), choices=ROLE_CHOICES)
    password = PasswordField(
        _l("Lösenord"),
        description=_l("Minst %(n)s tecken.", n=MIN_PASSWORD_LENGTH),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)],
    )


class RoleForm(FlaskForm):
    role = SelectField(_l("Roll"), choices=ROLE_CHOICES)
