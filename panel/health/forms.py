from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField
from wtforms.validators import NumberRange, Optional


class PlanForm(FlaskForm):
    """The planner's settings, sent with GET (computing a plan changes nothing)."""

    class Meta:
        csrf = False

    tolerance = DecimalField(_l("Tillåten avvikelse (procentenheter)"),
                             description=_l("Hur långt från befolkningens andel varje grupp får ligga efter "
                                            "rekryteringen. Till exempel 2."),
                             default=2, places=1,
                             validators=[Optional(), NumberRange(0, 50, _l("Skriv ett tal mellan 0 och 50."))])
    new_members = IntegerField(_l("Minst så här många nya medlemmar (valfritt)"),
                               description=_l("Tomt: så få inbjudningar som möjligt."),
                               validators=[Optional(), NumberRange(1, 100000, _l("Skriv ett heltal från 1."))])
    prior_rate = DecimalField(_l("Antagen andel som går med (procent, valfritt)"),
                              description=_l("Används för grupper som inte bjudits in förut. Tomt: den andel som "
                                             "gått med i tidigare rekryteringar."),
                              places=1,
                              validators=[Optional(), NumberRange(0.01, 100, _l("Skriv en procentsats över 0."))])
