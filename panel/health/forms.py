import inspect
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField
from wtforms.validators import NumberRange, Optional, StopValidation
from wtforms.widgets import TextInput

from analysis.recruitment import plan_recruitment

#: How many invitations' worth of weight the assumed join rate carries per group
#: (``analysis.plan_recruitment``'s ``prior_strength``, which the planner leaves at its default).
PRIOR_STRENGTH = inspect.signature(plan_recruitment).parameters["prior_strength"].default
PRIOR_STRENGTH = int(PRIOR_STRENGTH) if float(PRIOR_STRENGTH).is_integer() else PRIOR_STRENGTH


class SwedishDecimalField(DecimalField):
    """A decimal number written with a comma ("2,5") or a point ("2.5"), in a text box: a
    number box would drop a comma silently in browsers whose locale uses a point."""

    widget = TextInput()

    def process_formdata(self, valuelist):
        if valuelist:
            text = (valuelist[0] or "").strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
            try:
                finite = Decimal(text).is_finite()
            except (InvalidOperation, ValueError):
                finite = True  # not a number at all: DecimalField says so
            # "nan" and "inf" are Decimals, but not numbers anyone means (and NaN cannot be compared)
            valuelist = [text if finite else "?"]
        try:
            super().process_formdata(valuelist)
        except ValueError as error:  # one message of our own, instead of WTForms' generic one
            raise ValueError(_("Skriv ett tal, till exempel 2 eller 2,5.")) from error

    def pre_validate(self, form):
        if self.process_errors:  # not a number: the range check would only say so again
            raise StopValidation()

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return format(Decimal(self.data).normalize(), "f").replace(".", ",")


class PlanForm(FlaskForm):
    """The planner's settings, sent with GET (computing a plan changes nothing)."""

    class Meta:
        csrf = False

    tolerance = SwedishDecimalField(
        _l("Tillåten avvikelse (procentenheter)"),
        description=_l("Hur långt från befolkningens andel varje grupp får ligga efter "
                       "rekryteringen. Till exempel 2."),
        default=2, places=1, render_kw={"inputmode": "decimal", "class": "short"},
        validators=[Optional(), NumberRange(Decimal(0), Decimal(50), _l("Skriv ett tal mellan 0 och 50."))])
    new_members = IntegerField(_l("Minst så här många nya medlemmar (valfritt)"),
                               description=_l("Tomt: så få inbjudningar som möjligt."),
                               validators=[Optional(), NumberRange(1, 100000, _l("Skriv ett heltal från 1."))])
    prior_rate = SwedishDecimalField(
        _l("Antagen andel som går med (procent, valfritt)"),
        description=_l("Varje grupps andel räknas som ett vägt medel av andelen i tidigare rekryteringar och den "
                       "här andelen, som om den gällde %(n)s extra brev till gruppen: grupper som inte bjudits in "
                       "förut får den här andelen, grupper med få tidigare brev dras mot den. Tomt: den andel som "
                       "gått med i alla tidigare rekryteringar.", n=PRIOR_STRENGTH),
        places=2, render_kw={"inputmode": "decimal", "class": "short"},
        validators=[Optional(), NumberRange(Decimal("0.01"), Decimal(100),
                                            _l("Skriv en procentsats från 0,01 till 100."))])
