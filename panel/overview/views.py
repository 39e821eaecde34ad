from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from panel.accounts.access import role_required
from panel.db import utcnow
from panel.extensions import db
from panel.members.forms import GENDER_CHOICES
from panel.overview import services

bp = Blueprint("overview", __name__, url_prefix="/staff")

STATUS_LABELS = {
    "pending": _l("Har inte bekräftat ännu"),
    "active": _l("Aktiva"),
    "paused": _l("Pausade"),
    "unsubscribed": _l("Får inga mejl (avregistrerade)"),
}
LABELS = {
    **STATUS_LABELS,
    **{choice.value: choice.label for choice in GENDER_CHOICES},
    "open": _l("Öppen anmälan"),
    services.NO_AGE_BAND: _l("Utanför åldersgrupperna"),
}


@bp.get("/")
@role_required("analyst", "committee")
def index():
    overview = services.panel_overview(db.session, today=utcnow().date())
    return render_template("overview/index.html", overview=overview, labels=LABELS)
