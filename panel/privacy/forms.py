from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, SelectField
from wtforms.validators import DataRequired, Email, Length, Optional


class AuditFilterForm(FlaskForm):
    """The audit log's filter: a GET form, so no CSRF token (it changes nothing)."""

    class Meta:
        csrf = False

    action = SelectField(_l("Händelse"), choices=[], validate_choice=True, validators=[Optional()])
    since = DateField(_l("Från och med (datum)"), validators=[Optional()])
    until = DateField(_l("Till och med (datum)"), validators=[Optional()])


class ExtractForm(FlaskForm):
    email = EmailField(
        _l("Medlemmens e-postadress"),
        description=_l("Registerutdraget laddas ner som en JSON-fil och loggas i granskningsloggen."),
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )
