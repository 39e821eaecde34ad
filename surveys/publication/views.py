"""Publication pages: analysts publish and add decisions, the committee reads, the public sees results.

- ``/staff/surveys/<id>/publication`` (analyst): versions, publish, free-text approval,
  decisions and the feedback emails they sent.
- ``/committee/reports`` (committee; analysts and admins too): published reports, each
  version's page, a print page and the PDF. Only suppressed versions are reachable
  here, with the fixed breakdowns; nothing unpublished, no free text unless approved.
- ``/resultat/<id>`` (anyone): the latest published version, for residents.

Decisions are added by analysts and admins, not committee members: the text goes out
by email to every resident who got the results, so it is written by the staff who
answer for the panel's communication (the committee secretary, usually an analyst).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from panel import audit
from panel.accounts.access import role_required
from panel.charts import format_number, format_value
from panel.db import utcnow
from panel.extensions import db
from surveys.markdown import render_markdown
from surveys.models import Survey
from surveys.publication import services
from surveys.publication.charts import question_chart
from surveys.publication.forms import ApprovalForm, DecisionForm, PublishForm
from surveys.publication.pdf import report_pdf
from surveys.publication.presentation import (hidden_note, hidden_rates_note, in_language, lang_attributes,
                                              language_attributes, present)

bp = Blueprint("publication", __name__)

COMMITTEE_ROLES = ("committee", "analyst")


@bp.app_template_filter("chart_value")
def chart_value(value, value_format: str = "percent") -> str:
    """A share as "42,5\u00a0%" or a number as "3,25" in the page's locale (as the charts write them)."""
    return format_value(value, value_format)  # type: ignore[arg-type]


@bp.app_template_filter("chart_count")
def chart_count(value: int | None) -> str:
    """A count with the locale's digit grouping: "1\u00a0234" (sv), "1,234" (en)."""
    return format_number(value, 0)


# Marking the parts of a page (or an HTML email) that are not in its language (WCAG 3.1.2).
bp.add_app_template_filter(in_language, "in_language")
bp.add_app_template_global(lang_attributes, "lang_attributes")
bp.add_app_template_global(language_attributes, "language_attributes")
bp.add_app_template_global(hidden_note, "hidden_note")
bp.add_app_template_global(hidden_rates_note, "hidden_rates_note")


# ---------------------------------------------------------------- analyst


def _staff_page(survey: Survey, status: int = 200, **forms):
    published = services.versions(db.session, survey)
    forms.setdefault("publish", PublishForm(data={"version": str(services.next_version(db.session, survey))}))
    forms.setdefault("decision", DecisionForm())
    return render_template("publication/staff.html", survey=survey, versions=published,
                           not_publishable=services.not_publishable_reason(survey, utcnow()),
                           decisions=services.decisions(db.session, survey.id),
                           counts=services.feedback_counts(db.session, survey.id),
                           free_text=services.free_text_answers(db.session, survey),
                           render_markdown=render_markdown, **forms), status


@bp.get("/staff/surveys/<int:survey_id>/publication")
@role_required("analyst")
def staff(survey_id: int):
    return _staff_page(db.get_or_404(Survey, survey_id))


@bp.post("/staff/surveys/<int:survey_id>/publication/publish")
@role_required("analyst")
def publish(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    form = PublishForm()
    if not form.validate_on_submit():
        return _staff_page(survey, 400, publish=form)
    try:
        result = services.publish(db.session, survey, by=current_user, expected_version=int(form.version.data),
                                  notify_all_members=form.notify_all_members.data)
        audit.record(db.session, actor=current_user, action="publication.publish", target=survey,
                     detail={"version": result.report.version, "emails": result.emails},
                     remote_addr=request.remote_addr)
        db.session.commit()
    except services.SurveyNotClosedError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _staff_page(survey, 409, publish=form)
    except services.PublicationError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for(".staff", survey_id=survey.id))
    except IntegrityError:  # a concurrent press published the same version first
        db.session.rollback()
        flash(_("Rapporten publicerades samtidigt av någon annan. Ladda om sidan."), "error")
        return redirect(url_for(".staff", survey_id=survey.id))
    flash(_("Version %(v)s är publicerad. %(n)s resultatmejl ligger i kön.", v=result.report.version,
            n=format_number(result.emails, 0)), "success")
    return redirect(url_for(".staff", survey_id=survey.id))


@bp.route("/staff/surveys/<int:survey_id>/publication/free-text", methods=["GET", "POST"])
@role_required("analyst")
def free_text(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    answers = services.free_text_answers(db.session, survey)
    form = ApprovalForm(data=None if request.method == "POST" else {"approved": [a.ref for a in answers if a.approved]})
    form.approved.choices = [SelectChoice(a.ref, a.text) for a in answers]
    if form.validate_on_submit():
        try:
            added, withdrawn = services.set_approvals(db.session, survey, form.approved.data or [], by=current_user)
        except services.PublicationError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            flash(_("Godkännandena är sparade (%(a)s nya, %(w)s borttagna). De godkända svaren kommer med i nästa "
                    "version som publiceras.", a=added, w=withdrawn), "success")
            return redirect(url_for(".free_text", survey_id=survey.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("publication/free_text.html", survey=survey, answers=answers, form=form,
                           language=str(get_locale())), status


@bp.post("/staff/surveys/<int:survey_id>/publication/decision")
@role_required("analyst")
def decision(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _staff_page(survey, 400, decision=form)
    try:
        _decision, emails = services.add_decision(db.session, survey, text=form.text.data, by=current_user)
    except services.PublicationError as error:
        db.session.rollback()
        (form[error.field].errors if error.field in form else form.form_errors).append(error.message)
        return _staff_page(survey, 400, decision=form)
    audit.record(db.session, actor=current_user, action="publication.decision", target=survey,
                 detail={"emails": emails}, remote_addr=request.remote_addr)
    db.session.commit()
    flash(_("Beslutet är tillagt. %(n)s mejl om beslutet ligger i kön.", n=format_number(emails, 0)), "success")
    return redirect(url_for(".staff", survey_id=survey.id))


# ---------------------------------------------------------------- committee


def _version(survey_id: int, version: int | None):
    report = (services.latest_version(db.session, survey_id) if version is None
              else services.version_of(db.session, survey_id, version))
    if report is None:
        abort(404)
    return report


def _report_context(report, *, charts: bool = True) -> dict:
    language = str(get_locale())
    shown = present(report, language)
    return {"report": shown, "row": report,
            "charts": {q.key: question_chart(q, language) for q in shown.questions} if charts else {},
            "decisions": [(d, render_markdown(d.text)) for d in services.decisions(db.session, report.survey_id)],
            "decision_language": services.decision_language()}


@bp.get("/committee/reports")
@role_required(*COMMITTEE_ROLES)
def committee_index():
    reports = [(report, present(report, str(get_locale()))) for report in services.published_reports(db.session)]
    return render_template("publication/committee_index.html", reports=reports)


@bp.get("/committee/reports/<int:survey_id>")
@bp.get("/committee/reports/<int:survey_id>/versions/<int:version>")
@role_required(*COMMITTEE_ROLES)
def committee_report(survey_id: int, version: int | None = None):
    report = _version(survey_id, version)
    latest = services.latest_version(db.session, survey_id)
    older = [v.version for v in services.versions(db.session, db.get_or_404(Survey, survey_id))]
    return render_template("publication/committee_report.html", latest=latest, all_versions=older,
                           **_report_context(report))


@bp.get("/committee/reports/<int:survey_id>/versions/<int:version>/print")
@role_required(*COMMITTEE_ROLES)
def committee_print(survey_id: int, version: int):
    return render_template("publication/print.html", **_report_context(_version(survey_id, version)))


@bp.get("/committee/reports/<int:survey_id>/versions/<int:version>/report.pdf")
@role_required(*COMMITTEE_ROLES)
def committee_pdf(survey_id: int, version: int):
    report = _version(survey_id, version)
    language = str(get_locale())
    body = report_pdf(present(report, language), services.decisions(db.session, survey_id),
                      municipality=current_app.config["PANEL_MUNICIPALITY"])
    name = f"rapport-{survey_id}-v{version}.pdf"
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---------------------------------------------------------------- public


@bp.get("/resultat/<int:survey_id>")
def public_report(survey_id: int):
    report = _version(survey_id, None)
    return render_template("publication/public.html", **_report_context(report))
