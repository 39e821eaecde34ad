"""Recruitment waves for analysts (/staff/recruitment), and joining with a letter's code (/join)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask import session as browser
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from panel.accounts.access import role_required
from panel.extensions import csrf, db
from panel.mail.outbox import absolute_url
from panel.members import services as members
from panel.members import terms, throttle
from panel.members import views as member_views
from panel.members.forms import FORM_EXPIRED, GENDER_CHOICES, JoinForm
from panel.models import RecruitmentInvite, RecruitmentWave
from panel.models.member import RequestKind
from panel.models.recruitment import WaveStatus
from panel.recruitment import letters, services
from panel.recruitment.forms import ButtonForm, CodeForm, WaveForm
from panel.web import render_error, replace_csrf_error, same_origin_post

bp = Blueprint("recruitment", __name__, cli_group="recruitment")
STAFF = "/staff/recruitment"
INVITE_KEY = "recruitment_invite"  # the invite whose code was accepted, between /join and its second step
GENDER_LABELS = {choice.value: choice.label for choice in GENDER_CHOICES}


# ---------------------------------------------------------------- analysts


@bp.get(f"{STAFF}/")
@role_required("analyst")
def index():
    return render_template("recruitment/index.html", waves=services.wave_totals(db.session))


@bp.route(f"{STAFF}/new", methods=["GET", "POST"])
@role_required("analyst")
def new_wave():
    form = WaveForm()
    problems = []
    if form.validate_on_submit():
        try:
            wave = services.create_wave(db.session, name=form.name.data, sample=form.sample.data.read(),
                                        created_by=current_user, letter_text=form.letter_text.data or "",
                                        reply_by=form.reply_by.data)
        except services.ImportRejected as rejected:
            db.session.rollback()
            problems = rejected.problems
        else:
            db.session.commit()
            flash(_("Rekryteringen är skapad med %(n)s inbjudningar och koder.", n=len(wave.invites)), "success")
            return redirect(url_for(".wave", wave_id=wave.id))
    status = 400 if form.errors or problems else 200
    return render_template("recruitment/new.html", form=form, problems=problems), status


@bp.get(f"{STAFF}/<int:wave_id>")
@role_required("analyst")
def wave(wave_id: int):
    wave = db.get_or_404(RecruitmentWave, wave_id)
    return render_template("recruitment/wave.html", wave=wave, stats=services.wave_stats(db.session, wave),
                           genders=GENDER_LABELS, form=ButtonForm(), join_url=_join_url())


@bp.post(f"{STAFF}/<int:wave_id>/status")
@role_required("analyst")
def change_status(wave_id: int):
    wave = db.get_or_404(RecruitmentWave, wave_id)
    if ButtonForm().validate_on_submit():
        closing = wave.status == WaveStatus.OPEN
        services.set_status(db.session, wave, WaveStatus.CLOSED if closing else WaveStatus.OPEN)
        db.session.commit()
        flash(_("Koderna i %(name)s gäller inte längre.", name=wave.name) if closing
              else _("Koderna i %(name)s gäller igen.", name=wave.name), "success")
    return redirect(url_for(".wave", wave_id=wave.id))


@bp.get(f"{STAFF}/<int:wave_id>/letters.csv")
@role_required("analyst")
def letters_csv(wave_id: int):
    wave = db.get_or_404(RecruitmentWave, wave_id)
    body = letters.merge_csv(services.letter_invites(db.session, wave), join_url=_join_url(), reply_by=wave.reply_by)
    return _download(body, "text/csv; charset=utf-8", f"brev-{wave.id}.csv")


@bp.get(f"{STAFF}/<int:wave_id>/letters.pdf")
@role_required("analyst")
def letters_pdf(wave_id: int):
    wave = db.get_or_404(RecruitmentWave, wave_id)
    municipality = current_app.config["PANEL_MUNICIPALITY"]
    pages = [letters.letter_for(invite, wave, join_url=_join_url(), municipality=municipality,
                                contact_email=current_app.config["PANEL_CONTACT_EMAIL"])
             for invite in services.letter_invites(db.session, wave)]
    body = letters.letters_pdf(pages, title=f"{wave.name} – {municipality}")
    return _download(body, "application/pdf", f"brev-{wave.id}.pdf")


def _join_url() -> str:
    """The address printed in the letters: PANEL_BASE_URL/join (never the request's host)."""
    return absolute_url(url_for("recruitment.join", _external=False))


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, content_type=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"  # names and addresses
    return response


# ---------------------------------------------------------------- residents


@bp.route("/join", methods=["GET", "POST"])
def join():
    form = CodeForm()
    if form.validate_on_submit():
        try:
            invite = services.find_invite(
                db.session, form.code.data, remote_addr=request.remote_addr or "-",
                max_failures=current_app.config.get("PANEL_CODE_MAX_FAILURES", 10),
                window=timedelta(minutes=current_app.config.get("PANEL_CODE_WINDOW_MINUTES", 10)))
        except services.CodeThrottled:
            return render_error(429, _("Du har skrivit fel kod för många gånger. Vänta tio minuter och försök igen."))
        except services.CodeProblem as problem:
            db.session.commit()  # the wrong code counts towards the throttle
            form.code.errors.append(problem.message)
        else:
            browser[INVITE_KEY] = invite.id
            return redirect(url_for(".join_details"))
    return render_template("recruitment/join.html", form=form), 400 if form.errors else 200


@bp.route("/join/details", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token: an expired one shows the form again with what was typed
@same_origin_post  # so Flask-WTF's same-origin check is made here
def join_details():
    invite = db.session.get(RecruitmentInvite, browser.get(INVITE_KEY) or 0)
    if invite is None:
        return redirect(url_for(".join"))
    try:
        services.check_usable(invite)  # used by someone else, or the wave closed, since the code was typed
    except services.CodeProblem as problem:
        browser.pop(INVITE_KEY, None)
        return render_error(400, problem.message)
    form = _prefilled(invite)
    if form.validate_on_submit():
        try:
            member_views.count_request(RequestKind.SIGNUP)
            services.join_with_code(db.session, invite, email=form.email.data, birth_year=form.birth_year.data,
                                    gender=form.gender.data, district=form.district.data, language=form.language.data,
                                    terms_version=form.terms_version.data)
        except throttle.Throttled as error:
            return member_views.too_many(error)
        except members.MemberDataError as error:
            db.session.rollback()
            (form[error.field].errors if error.field in form else form.form_errors).append(error.message)
        else:
            db.session.commit()
            browser.pop(INVITE_KEY, None)
            return redirect(url_for("members.join_sent"))
    replace_csrf_error(form, FORM_EXPIRED)
    return render_template("recruitment/join_details.html", form=form), 400 if form.errors else 200


def _prefilled(invite: RecruitmentInvite) -> JoinForm:
    """The sign-up form with the sample's gender, birth year and district filled in (the resident may correct them)."""
    form = JoinForm(birth_year=str(invite.birth_year), gender=invite.gender, district=str(invite.district_id),
                    terms_version=terms.CURRENT, language=str(get_locale()))
    form.set_districts(members.list_districts(db.session), postcodes=False)
    return form
