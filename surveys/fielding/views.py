"""Fielding pages for analysts (/staff/surveys/<id>/fielding/...) and the ``fielding`` CLI.

Target → preview → send → progress, reminders and closing; a statistics page with
invited / opened / started / completed per stratum and per margin. Every page shows the
numbers as they are when it is loaded (no JavaScript: a reload shows current numbers).
"""

from __future__ import annotations

import functools
import time

import click
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from panel.accounts.access import role_required
from panel.charts import format_number
from panel.db import utcnow
from panel.extensions import db
from panel.members.forms import GENDER_CHOICES
from panel.web import render_error
from surveys.authoring.services import definition_of, readiness_problems
from surveys.fielding import services
from surveys.fielding.forms import ButtonForm, ScheduleForm, TargetForm, as_local_input
from surveys.fielding.sampling import NO_AGE_BAND, Reason, Target
from surveys.models import Survey

bp = Blueprint("fielding", __name__, url_prefix="/staff/surveys/<int:survey_id>/fielding", cli_group="fielding")

REASON_LABELS = {
    Reason.PENDING: _l("Har inte bekräftat sin anmälan"),
    Reason.UNSUBSCRIBED: _l("Vill inte få mejl (avregistrerade)"),
    Reason.PAUSED: _l("Har pausat"),
    Reason.OUTSIDE_FILTER: _l("Utanför villkoren (ålder, område, kön eller hur de kom med)"),
    Reason.CONTACT_LIMIT: _l("Har redan fått för många inbjudningar under perioden"),
    Reason.NOT_SAMPLED: _l("Kom inte med i urvalet"),
}
STATUS_LABELS = {
    "draft": _l("Utkast, inte skickad"),
    "scheduled": _l("Inbjudningarna är klara och skickas när enkäten öppnar"),
    "open": _l("Öppen"),
    "closed": _l("Stängd"),
}


def _labels() -> dict:
    """Labels for strata keys in the templates (genders; the age group below every band)."""
    return {**{choice.value: choice.label for choice in GENDER_CHOICES}, NO_AGE_BAND: _l("Utanför åldersgrupperna")}


def _page(template: str, survey: Survey, status: int = 200, **context):
    return render_template(f"surveys/fielding/{template}.html", survey=survey, labels=_labels(),
                           districts=services.district_names(db.session), reasons=REASON_LABELS,
                           statuses=STATUS_LABELS, **context), status


def _target_form(survey: Survey) -> TargetForm:
    settings = services.fielding_of(db.session, survey)
    target = Target.from_json(settings.target)
    form = TargetForm(data={
        "mode": settings.mode, "allocation": settings.allocation,
        "age_min": _text(target.age_min), "age_max": _text(target.age_max),
        "genders": sorted(target.genders), "districts": sorted(target.districts), "sources": sorted(target.sources),
        "sample_size": _text(settings.sample_size), "seed": _text(settings.seed),
        "contact_limit": _text(settings.contact_limit), "contact_window_days": _text(settings.contact_window_days),
        "reminder_after_days": _text(settings.reminder_after_days), "max_reminders": _text(settings.max_reminders),
        "opens_at": as_local_input(survey.opens_at), "closes_at": as_local_input(survey.closes_at)})
    form.districts.choices = [SelectChoice(d.code, d.name) for d in services.list_districts(db.session)]
    return form


def _text(value) -> str:
    return "" if value is None else str(value)


@bp.get("/")
@role_required("analyst")
def show(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    settings = services.fielding_of(db.session, survey)
    return _page("show", survey, settings=settings, invitations=services.mail_progress(db.session, survey),
                 reminders=services.mail_progress(db.session, survey, services.REMINDER_KIND),
                 due=services.reminders_due(db.session, survey), stats=services.fielding_stats(db.session, survey),
                 schedule=ScheduleForm(data={"closes_at": as_local_input(survey.closes_at),
                                             "reminder_after_days": str(settings.reminder_after_days),
                                             "max_reminders": str(settings.max_reminders)}),
                 button=ButtonForm(), retain_days=current_app.config["PANEL_RETAIN_SENT_MAIL_DAYS"])


@bp.route("/target", methods=["GET", "POST"])
@role_required("analyst")
def target(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    if services.is_sent(db.session, survey):
        flash(_("Inbjudningarna är redan skickade, så vem som får enkäten kan inte ändras."), "info")
        return redirect(url_for(".show", survey_id=survey.id))
    form = _target_form(survey)
    if form.validate_on_submit():
        try:
            services.save_settings(db.session, survey, **_settings_from(form))
        except services.FieldingError as error:
            db.session.rollback()
            (form[error.field].errors if error.field in form else form.form_errors).append(error.message)
        else:
            db.session.commit()
            flash(_("Inställningarna är sparade. Kontrollera urvalet innan du skickar."), "success")
            return redirect(url_for(".preview", survey_id=survey.id))
    return _page("target", survey, 400 if form.errors or form.form_errors else 200, form=form)


def _settings_from(form: TargetForm) -> dict:
    target = Target(age_min=form.age_min.data, age_max=form.age_max.data, genders=frozenset(form.genders.data or ()),
                    districts=frozenset(form.districts.data or ()), sources=frozenset(form.sources.data or ()))
    return {"target": target, "mode": form.mode.data, "sample_size": form.sample_size.data,
            "allocation": form.allocation.data, "seed": form.seed.data, "contact_limit": form.contact_limit.data,
            "contact_window_days": form.contact_window_days.data, "opens_at": form.opens_at.data,
            "reminder_after_days": form.reminder_after_days.data, "max_reminders": form.max_reminders.data,
            "closes_at": form.closes_at.data}


@bp.get("/preview")
@role_required("analyst")
def preview(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    return _preview_page(survey)


def _preview_page(survey: Survey, problem: str | None = None, status: int = 200):
    settings = services.fielding_of(db.session, survey)
    result = services.preview(db.session, survey)
    return _page("preview", survey, status, settings=settings, preview=result, problem=problem,
                 target=Target.from_json(settings.target), readiness=readiness_problems(definition_of(survey)),
                 sent=settings.sent_at is not None, button=ButtonForm())


@bp.post("/send")
@role_required("analyst")
def send(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    if not ButtonForm().validate_on_submit():
        return render_error(400)
    started = time.monotonic()
    try:
        result = services.send_invitations(db.session, survey, sent_by=current_user._get_current_object())
    except services.FieldingError as error:
        db.session.rollback()
        return _preview_page(survey, problem=str(error.message),
                             status=409 if isinstance(error, services.AlreadySent) else 400)
    db.session.commit()
    flash(_("%(n)s inbjudningar är köade för utskick (%(s)s sekunder).", n=result.invited,
            s=format_number(time.monotonic() - started, 1)), "success")
    return redirect(url_for(".show", survey_id=survey.id))


@bp.post("/reminders")
@role_required("analyst")
def remind(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    if not ButtonForm().validate_on_submit():
        return render_error(400)
    total = 0
    while batch := services.remind_batch(db.session, survey):
        db.session.commit()  # each batch on its own: answers coming in meanwhile are left out
        total += batch
    flash(_("%(n)s påminnelser är köade för utskick.", n=total) if total else _("Ingen behöver en påminnelse nu."),
          "success" if total else "info")
    return redirect(url_for(".show", survey_id=survey.id))


@bp.post("/schedule")
@role_required("analyst")
def schedule(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    form = ScheduleForm()
    if form.validate_on_submit():
        try:
            services.update_schedule(db.session, survey, closes_at=form.closes_at.data,
                                     reminder_after_days=form.reminder_after_days.data,
                                     max_reminders=form.max_reminders.data)
        except services.FieldingError as error:
            db.session.rollback()
            (form[error.field].errors if error.field in form else form.form_errors).append(error.message)
        else:
            db.session.commit()
            flash(_("Stängningstiden och påminnelserna är ändrade."), "success")
            return redirect(url_for(".show", survey_id=survey.id))
    return _page("schedule", survey, 400, form=form)


@bp.post("/close")
@role_required("analyst")
def close(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    if not ButtonForm().validate_on_submit():
        return render_error(400)
    try:
        services.close_now(db.session, survey)
    except services.FieldingError as error:
        return render_error(409, str(error.message))
    db.session.commit()
    flash(_("Enkäten är stängd. Inga fler svar tas emot."), "success")
    return redirect(url_for(".show", survey_id=survey.id))


@bp.get("/stats")
@role_required("analyst")
def stats(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    return _page("stats", survey, stats=services.fielding_stats(db.session, survey), now=utcnow())


# ---------------------------------------------------------------- CLI


def _in_default_language(command):
    """Run a CLI command in the default language: there is no request to choose one from."""

    @functools.wraps(command)
    def wrapped(*args, **kwargs):
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            return command(*args, **kwargs)

    return wrapped


def _cli_error(message) -> click.ClickException:
    return click.ClickException(str(message))


def _survey_or_fail(survey_id: int) -> Survey:
    survey = db.session.get(Survey, survey_id)
    if survey is None:
        raise click.ClickException(f"No survey {survey_id}.")
    return survey


@bp.cli.command("preview")
@click.argument("survey_id", type=int)
@_in_default_language
def preview_command(survey_id: int) -> None:
    """Print what sending would do: counts per stratum and who is left out."""
    result = services.preview(db.session, _survey_or_fail(survey_id))
    click.echo(f"Panel {result.panel_size}, eligible {result.eligible}, would be invited {result.invited}")
    for reason, count in result.excluded.items():
        click.echo(f"  left out, {reason}: {count}")
    for row in result.strata:
        click.echo(f"  {row.gender:10} {row.age_group:6} {row.district_code:10} {row.eligible:7} {row.invited:7}")
    if result.problem:
        raise _cli_error(result.problem)


@bp.cli.command("send")
@click.argument("survey_id", type=int)
@_in_default_language
def send_command(survey_id: int) -> None:
    """Create and queue the invitations with the settings saved on the fielding page."""
    survey = _survey_or_fail(survey_id)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        click.echo(f"queued {done}/{total} invitations ({time.monotonic() - started:.1f} s)")

    try:
        result = services.send_invitations(db.session, survey, progress=progress)
    except services.FieldingError as error:
        db.session.rollback()
        raise _cli_error(error.message) from error
    db.session.commit()
    click.echo(f"Committed {result.invited} invitations in {time.monotonic() - started:.1f} s; "
               f"survey is {result.status}. The mail dispatcher sends them; "
               f"'medborgarpanel fielding status {survey_id}' shows progress.")


@bp.cli.command("remind")
@click.argument("survey_id", type=int)
@_in_default_language
def remind_command(survey_id: int) -> None:
    """Queue the reminders that are due now, batch by batch."""
    survey = _survey_or_fail(survey_id)
    total = 0
    while batch := services.remind_batch(db.session, survey):
        db.session.commit()
        total += batch
        click.echo(f"queued {total} reminders")
    click.echo(f"{total} reminders queued.")


@bp.cli.command("status")
@click.argument("survey_id", type=int)
@_in_default_language
def status_command(survey_id: int) -> None:
    """Print the survey's sending progress and its invited/opened/started/completed totals."""
    survey = _survey_or_fail(survey_id)
    for name, kind in (("invitations", services.INVITATION_KIND), ("reminders", services.REMINDER_KIND)):
        mail = services.mail_progress(db.session, survey, kind)
        click.echo(f"{name}: {mail.sent}/{mail.total} sent, {mail.queued + mail.sending} waiting, {mail.failed} failed")
    total = services.fielding_stats(db.session, survey).total
    click.echo(f"invited {total.invited}, opened {total.opened}, started {total.started}, completed {total.completed}")


@bp.cli.command("tick")
@_in_default_language
def tick_command() -> None:
    """Open and close surveys whose time has come, and queue due reminders (run every minute)."""
    opened, closed = services.open_and_close_due(db.session)
    db.session.commit()
    reminded = 0
    for survey in services.open_surveys(db.session):
        while batch := services.remind_batch(db.session, survey):
            db.session.commit()
            reminded += batch
    click.echo(f"opened {opened}, closed {closed}, reminders queued {reminded}")
