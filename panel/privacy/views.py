from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from panel import audit
from panel.accounts.access import role_required
from panel.extensions import db
from panel.privacy import services
from panel.privacy.forms import AuditFilterForm, ExtractForm

# Staff pages under /staff (admin only); the public privacy text at /panel/privacy.
bp = Blueprint("privacy", __name__)


@bp.get("/staff/audit")
@role_required("admin")
def audit_log():
    form = AuditFilterForm(request.args)
    form.action.choices = [("", _("Alla händelser"))] + [(a, a) for a in audit.actions(db.session)]
    valid = form.validate() if request.args else True
    page = request.args.get("page", 1, type=int) or 1
    log = audit.events(
        db.session,
        action=form.action.data or None if valid else None,
        since=form.since.data if valid else None,
        until=form.until.data if valid else None,
        page=page,
    )
    filters = {k: request.args[k] for k in ("action", "since", "until") if request.args.get(k)}
    return render_template("privacy/audit.html", form=form, log=log, filters=filters), 200 if valid else 400


def _dpo_page(form: ExtractForm, status: int = 200):
    config = current_app.config
    return render_template(
        "privacy/dpo.html", form=form, settings=services.settings(config), stored=services.STORED,
        retention=services.retention_rows(config), purges=services.recent_purges(db.session),
        job=services.retention_job(db.session),
    ), status


@bp.get("/staff/privacy")
@role_required("admin")
def dpo():
    return _dpo_page(ExtractForm())


@bp.post("/staff/privacy/extract")
@role_required("admin")
def extract():
    form = ExtractForm()
    if not form.validate_on_submit():
        return _dpo_page(form, 400)
    data = services.register_extract(db.session, form.email.data, actor=current_user,
                                     remote_addr=request.remote_addr)
    if data is None:
        form.email.errors.append(_("Det finns ingen medlem med den e-postadressen."))
        return _dpo_page(form, 404)
    db.session.commit()
    response = Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="registerutdrag-{data["member"]["id"]}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/panel/privacy")
def public():
    """For residents: who is responsible, on what basis, what is kept and for how long."""
    config = current_app.config
    return render_template("privacy/public.html", settings=services.settings(config), stored=services.STORED,
                           retention=services.retention_rows(config))
