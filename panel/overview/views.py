from __future__ import annotations

from flask import Blueprint, render_template

from panel.accounts.access import role_required

bp = Blueprint("overview", __name__, url_prefix="/staff")


@bp.get("/")
@role_required("analyst", "committee")
def index():
    return render_template("overview/index.html")
