"""Population figures for analysts (/staff/population): upload, preview, confirm, versions."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from panel import audit
from panel.accounts.access import role_required
from panel.extensions import db
from panel.models import PopulationDataset
from panel.overview.views import LABELS
from panel.population import services
from panel.population.notes import importer_note
from panel.population.forms import ButtonForm, ConfirmForm, UploadForm

bp = Blueprint("population", __name__, url_prefix="/staff/population")
bp.add_app_template_filter(importer_note, "importer_note")


def _index(form: UploadForm, problem: services.PopulationRejected | None = None, status: int = 200):
    in_use = services.population_in_use(db.session)
    return render_template("population/index.html", form=form, problem=problem,
                           versions=services.population_versions(db.session),
                           in_use=in_use, button=ButtonForm()), status


@bp.get("/")
@role_required("analyst")
def index():
    return _index(UploadForm())


@bp.post("/")
@role_required("analyst")
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        return _index(form, status=400)
    data = form.population.data.read(services.MAX_UPLOAD_BYTES + 1)
    filename = form.population.data.filename or ""
    try:
        services.read_upload(db.session, data, filename=filename, period=form.period.data or "",
                             region=form.region.data or "")
    except services.PopulationRejected as problem:
        db.session.rollback()
        return _index(form, problem, 400)
    pending = services.create_pending(db.session, staff_id=current_user.id, data=data, filename=filename,
                                      name=form.name.data, period=form.period.data or "",
                                      region=form.region.data or "")
    db.session.commit()
    return redirect(url_for(".preview", pending_id=pending.id))


def _pending_or_404(pending_id: str):
    pending = services.find_pending(db.session, pending_id, staff_id=current_user.id)
    if pending is None:
        abort(404)
    return pending


def _problems(table) -> list[services.FitProblem]:
    return services.check_fit(db.session, table, municipality=current_app.config.get("PANEL_MUNICIPALITY", ""))


def _preview(pending, table, form: ConfirmForm, status: int = 200):
    problems = _problems(table)
    serious = services.serious(problems)
    if serious:
        form.accept.label.text = _("Jag har läst varningarna och vill spara och använda uppgifterna ändå, fast "
                                   "%(problems)s.", problems="; ".join(problem.short for problem in serious))
    return render_template("population/preview.html", pending=pending, summary=services.summarize(table),
                           problems=problems, serious=serious, form=form, button=ButtonForm(),
                           labels=LABELS), status


@bp.get("/preview/<pending_id>")
@role_required("analyst")
def preview(pending_id: str):
    pending = _pending_or_404(pending_id)
    return _preview(pending, services.pending_table(db.session, pending), ConfirmForm())


@bp.post("/preview/<pending_id>")
@role_required("analyst")
def confirm(pending_id: str):
    pending = _pending_or_404(pending_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    table = services.pending_table(db.session, pending)
    serious = services.serious(_problems(table))
    if serious and not form.accept.data:
        form.accept.errors = [_("Uppgifterna passar inte panelen. Kryssa i rutan om du ändå vill spara dem, "
                                "eller avbryt och ladda upp en annan fil.")]
        return _preview(pending, table, form, 400)
    dataset = services.confirm_pending(db.session, pending, table)
    detail = {"name": dataset.name}
    if serious:
        detail["accepted_problems"] = [problem.code for problem in serious]
    audit.record(db.session, actor=current_user, action="population.import", target=dataset,
                 detail=detail, remote_addr=request.remote_addr)
    db.session.commit()
    flash(_("Befolkningsuppgifterna %(name)s är sparade och används nu.", name=dataset.name), "success")
    return redirect(url_for(".index"))


@bp.post("/preview/<pending_id>/cancel")
@role_required("analyst")
def cancel(pending_id: str):
    pending = _pending_or_404(pending_id)
    if ButtonForm().validate_on_submit():
        db.session.delete(pending)
        db.session.commit()
        flash(_("Filen sparades inte."), "success")
    return redirect(url_for(".index"))


@bp.get("/<int:dataset_id>")
@role_required("analyst")
def version(dataset_id: int):
    dataset = db.get_or_404(PopulationDataset, dataset_id)
    table = services.load_population(dataset)
    summary = services.summarize(table)
    in_use = services.population_in_use(db.session)
    return render_template("population/version.html", dataset=dataset, summary=summary, problems=_problems(table),
                           in_use=in_use is not None and in_use.id == dataset.id, form=ButtonForm(),
                           labels=LABELS)


@bp.post("/<int:dataset_id>/use")
@role_required("analyst")
def use(dataset_id: int):
    dataset = db.get_or_404(PopulationDataset, dataset_id)
    if ButtonForm().validate_on_submit():
        services.use_population(db.session, dataset, staff_id=current_user.id)
        audit.record(db.session, actor=current_user, action="population.use", target=dataset,
                     remote_addr=request.remote_addr)
        db.session.commit()
        flash(_("%(name)s används nu för panelens hälsa och rekryteringsplanen.", name=dataset.name), "success")
    return redirect(url_for(".index"))
