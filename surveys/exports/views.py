"""Analyst pages: a survey's export page, the download (a logged POST) and the codebook."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_babel import force_locale
from flask_login import current_user

from panel.accounts.access import role_required
from panel.extensions import db
from surveys.exports import formats, services
from surveys.exports.forms import export_form
from surveys.models import Survey

bp = Blueprint("exports", __name__, url_prefix="/staff/surveys")


def _page(survey: Survey, form, status: int = 200):
    defn = services.definition_of(survey)
    return render_template("exports/index.html", survey=survey, defn=defn, form=form,
                           responses=services.response_count(db.session, survey),
                           weighting=services.survey_weighting(db.session, survey)), status


@bp.get("/<int:survey_id>/export")
@role_required("analyst")
def index(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    return _page(survey, export_form(services.definition_of(survey).languages))


@bp.post("/<int:survey_id>/export")
@role_required("analyst")
def download(survey_id: int):
    # A POST, not a link: every export is logged, and a GET must never change anything.
    survey = db.get_or_404(Survey, survey_id)
    form = export_form(services.definition_of(survey).languages)
    if not form.validate_on_submit():
        return _page(survey, form, 400)
    options = services.ExportOptions(format=form.format.data, separator=form.separator.data,
                                     values=form.values.data, language=form.language.data)
    try:
        services.check_size(db.session, survey, options)  # said in the page's language
    except services.ExportTooLarge as error:
        form.format.errors.append(str(error))
        return _page(survey, form, 400)
    with force_locale(options.language):  # the file's fixed labels ("Valt", "Ej besvarad") in its language
        exported = services.export_survey(db.session, survey, options, actor=current_user._get_current_object(),
                                          remote_addr=request.remote_addr)
    db.session.commit()
    response = Response(exported.content, content_type=exported.mimetype)  # its charset, said once
    response.headers.set("Content-Disposition", "attachment", filename=exported.filename)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:survey_id>/export/codebook")
@role_required("analyst")
def codebook(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    table = services.export_table(db.session, survey, language=request.args.get("language", "sv"))
    return render_template("exports/codebook.html", survey=survey, table=table,
                           headers=formats.codebook_headers(), rows=formats.codebook_rows(table))
