"""Residents' pages: home, join, confirm, my page by magic link, pause, leave, unsubscribe.

Every link from an email opens a page with a button: a GET never changes anything
(mail scanners open links), the POST behind the button does.
"""

from __future__ import annotations

import json

import click
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from panel.db import utcnow
from panel.extensions import csrf, db
from panel.i18n import prefer_member_language
from panel.members import login, services, throttle, tokens
from panel.members import terms as panel_terms
from panel.members.forms import (FORM_EXPIRED, ButtonForm, EmailChangeForm, JoinForm, LeaveForm, PauseForm,
                                 ProfileForm, RequestLinkForm)
from panel.models import Member
from panel.models.member import MemberStatus, RequestKind, TokenPurpose
from panel.web import render_error, replace_csrf_error, same_origin_post

bp = Blueprint("members", __name__)


def _with_districts(form):
    form.set_districts(services.list_districts(db.session), postcodes=services.has_postcodes(db.session))
    return form


def _postcode(form) -> str | None:
    return form.postcode.data if form._fields.get("postcode") is not None else None


def _show_error(form, error: services.MemberDataError) -> None:
    field = form._fields.get(error.field)
    (field.errors if field is not None else form.form_errors).append(error.message)


def _status(*forms) -> int:
    return 400 if any(form.errors for form in forms) else 200


_TO_MY_PAGE = ("members.request_link", _l("Gå till mina uppgifter"))
_NEW_LINK = ("members.request_link", _l("Få en ny länk"))
_BROKEN_LINK = (404, _l("Länken fungerar inte. Kontrollera att du fick med hela länken från mejlet."),
                "members.home", _l("Till startsidan"))
# purpose -> error -> (status, message, next endpoint, its label)
LINK_PROBLEMS = {
    TokenPurpose.CONFIRM: {
        tokens.LinkExpired: (410, _l("Länken har gått ut. Anmäl dig igen, så skickar vi en ny länk."),
                             "members.join", _l("Anmäl dig igen")),
        tokens.LinkUsed: (410, _l("Länken är redan använd. Har du bekräftat är du redan med i panelen."),
                          *_TO_MY_PAGE),
    },
    TokenPurpose.MANAGE: {
        tokens.LinkExpired: (410, _l("Länken har gått ut. Be om en ny länk."), *_NEW_LINK),
        tokens.LinkUsed: (410, _l("Länken har redan använts. Be om en ny länk."), *_NEW_LINK),
    },
    TokenPurpose.EMAIL: {
        tokens.LinkExpired: (410, _l("Länken har gått ut. Byt e-postadress en gång till på sidan Mina uppgifter."),
                             *_TO_MY_PAGE),
        tokens.LinkUsed: (410, _l("Länken är redan använd. Din e-postadress är redan ändrad."), *_TO_MY_PAGE),
    },
}


THROTTLED = {
    RequestKind.SIGNUP: _l("Det har kommit för många anmälningar från din uppkoppling. "
                           "Vänta en stund och försök igen."),
    RequestKind.LINK_REQUEST: _l("Du har bett om för många länkar. Vänta en stund och försök igen."),
    RequestKind.BAD_LINK: _l("Du har öppnat för många länkar som inte fungerar. Vänta tio minuter och försök igen."),
}


def count_request(kind: str) -> None:
    """Count this request towards the per-address limit of ``kind``; raises throttle.Throttled past it."""
    throttle.count(db.session, kind, request.remote_addr or "-", throttle.limit_from(current_app.config, kind),
                   now=utcnow())


def check_bad_links() -> None:
    """Raises throttle.Throttled when this address has opened too many unknown links lately."""
    throttle.check(db.session, RequestKind.BAD_LINK, request.remote_addr or "-",
                   throttle.limit_from(current_app.config, RequestKind.BAD_LINK), now=utcnow())


def too_many(error: throttle.Throttled):
    db.session.rollback()
    response, status = render_error(429, str(THROTTLED[error.kind]))
    return response, status, {"Retry-After": str(error.retry_after)}


def _speak_to(member: Member | None) -> None:
    """A page reached from a member's email speaks the email's language (see panel.i18n)."""
    if member is not None:
        prefer_member_language(member.language)


def _member_of(link) -> Member | None:
    return db.session.get(Member, link.member_id) if link is not None else None


def _link_problem(error: tokens.LinkError, purpose: str):
    if isinstance(error, tokens.LinkInvalid):  # a mistyped or guessed link counts towards the limit
        db.session.rollback()
        throttle.record(db.session, RequestKind.BAD_LINK, request.remote_addr or "-", now=utcnow())
        db.session.commit()
    else:  # expired or used: the member it was sent to is known
        _speak_to(_member_of(error.link))
    status, message, endpoint, label = LINK_PROBLEMS.get(purpose, {}).get(type(error), _BROKEN_LINK)
    return render_template("members/link_problem.html", message=message, next_url=url_for(endpoint),
                           next_label=label), status


# ---------------------------------------------------------------- public pages


@bp.get("/")
def home():
    return render_template("members/home.html")


@bp.get("/panel/terms")
def terms():
    return terms_version(panel_terms.CURRENT)


@bp.get("/panel/terms/<version>")
def terms_version(version: str):
    if not panel_terms.is_known(version):
        abort(404)
    language = panel_terms.text_language(version, str(get_locale()))
    return render_template("members/terms.html", version=version, current=panel_terms.CURRENT,
                           published=panel_terms.VERSIONS[version], language=language,
                           text_template=panel_terms.template_for(version, language))


@bp.route("/panel/join", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token: an expired one shows the form again with what was typed
@same_origin_post  # so Flask-WTF's same-origin check is made here
def join():
    form = _with_districts(JoinForm(terms_version=panel_terms.CURRENT, language=str(get_locale())))
    if form.validate_on_submit():
        try:
            count_request(RequestKind.SIGNUP)
            services.register(db.session, email=form.email.data, birth_year=form.birth_year.data,
                              gender=form.gender.data, district=form.district.data or None,
                              postcode=_postcode(form), language=form.language.data,
                              terms_version=form.terms_version.data)
        except throttle.Throttled as error:
            return too_many(error)
        except services.MemberDataError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            return redirect(url_for(".join_sent"))
    replace_csrf_error(form, FORM_EXPIRED)
    return render_template("members/join.html", form=form), _status(form)


@bp.get("/panel/join/sent")
def join_sent():
    return render_template("members/join_sent.html")


@bp.route("/panel/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    form = ButtonForm()
    try:
        check_bad_links()
    except throttle.Throttled as error:
        return too_many(error)
    try:
        _speak_to(_member_of(services.check_link(db.session, token, TokenPurpose.CONFIRM)))
        if not form.validate_on_submit():
            return render_template("members/confirm.html", form=form)
        member = services.confirm(db.session, token)
    except tokens.LinkError as error:
        return _link_problem(error, TokenPurpose.CONFIRM)
    db.session.commit()
    login.log_in(member)
    flash(_("Tack! Nu är du med i panelen. Här ser du dina uppgifter."), "success")
    return redirect(url_for(".profile"))


@bp.route("/panel/me", methods=["GET", "POST"])
def request_link():
    if request.method == "GET" and login.current_member() is not None:
        return redirect(url_for(".profile"))
    form = RequestLinkForm()
    if form.validate_on_submit():
        try:
            count_request(RequestKind.LINK_REQUEST)
        except throttle.Throttled as error:
            return too_many(error)
        services.request_magic_link(db.session, form.email.data)
        db.session.commit()
        return redirect(url_for(".link_sent"))
    return render_template("members/request_link.html", form=form), _status(form)


@bp.get("/panel/me/sent")
def link_sent():
    return render_template("members/link_sent.html")


@bp.route("/panel/me/<token>", methods=["GET", "POST"])
def open_link(token: str):
    form = ButtonForm()
    try:
        check_bad_links()
    except throttle.Throttled as error:
        return too_many(error)
    try:
        _speak_to(_member_of(services.check_link(db.session, token, TokenPurpose.MANAGE)))
        if not form.validate_on_submit():
            return render_template("members/open_link.html", form=form)
        member = services.open_magic_link(db.session, token)
    except tokens.LinkError as error:
        return _link_problem(error, TokenPurpose.MANAGE)
    db.session.commit()
    login.log_in(member)
    return redirect(url_for(".profile"))


@bp.route("/panel/email/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    form = ButtonForm()
    try:
        check_bad_links()
    except throttle.Throttled as error:
        return too_many(error)
    try:
        _speak_to(_member_of(services.check_link(db.session, token, TokenPurpose.EMAIL)))
        if not form.validate_on_submit():
            return render_template("members/confirm_email.html", form=form)
        member = services.confirm_email_change(db.session, token)
    except tokens.LinkError as error:
        return _link_problem(error, TokenPurpose.EMAIL)
    except services.EmailTaken:
        db.session.rollback()
        return render_template("members/link_problem.html", next_url=url_for(".request_link"),
                               message=_("Adressen används redan av någon annan i panelen. Välj en annan adress."),
                               next_label=_("Gå till mina uppgifter")), 409
    db.session.commit()
    login.log_in(member)
    flash(_("Din e-postadress är ändrad."), "success")
    return redirect(url_for(".profile"))


@bp.route("/panel/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: the mail provider POSTs without our form; the signed token is the proof
def unsubscribe(token: str):
    try:
        check_bad_links()
    except throttle.Throttled as error:
        return too_many(error)
    try:
        member = tokens.member_for_unsubscribe_token(db.session, token)
    except tokens.LinkInvalid as error:
        return _link_problem(error, "unsubscribe")
    _speak_to(member)
    if request.method == "GET":  # opened again after unsubscribing: say so, without the button
        done = member is not None and member.status == MemberStatus.UNSUBSCRIBED
        return render_template("members/unsubscribe.html", member=member, done=done)
    if request.form.get("List-Unsubscribe") != "One-Click":
        abort(400)
    if member is not None:
        services.unsubscribe(db.session, member)
        db.session.commit()
    return render_template("members/unsubscribe.html", member=member, done=True)


@bp.get("/panel/left")
def left():
    return render_template("members/left.html")


# ---------------------------------------------------------------- my page (logged in by magic link)


def _profile_form(member: Member) -> ProfileForm:
    return _with_districts(ProfileForm(data={
        "birth_year": str(member.birth_year), "gender": member.gender, "district": str(member.district_id),
        "postcode": member.postcode, "language": member.language}))


def _profile_page(member: Member, *, form=None, email_form=None, pause_form=None):
    forms = {"form": form or _profile_form(member), "email_form": email_form or EmailChangeForm(prefix="email"),
             "pause_form": pause_form or PauseForm(prefix="pause"), "button": ButtonForm()}
    return render_template("members/profile.html", member=member, **forms), _status(*forms.values())


@bp.route("/panel/me/profile", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token (see join)
@same_origin_post
@login.member_required
def profile(member: Member):
    form = _profile_form(member)
    if form.validate_on_submit():
        try:
            services.update_profile(db.session, member, birth_year=form.birth_year.data, gender=form.gender.data,
                                    district=form.district.data or None, postcode=_postcode(form),
                                    language=form.language.data)
        except services.MemberDataError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            _speak_to(member)  # a new language is the language from now on
            flash(_("Dina uppgifter är sparade."), "success")
            return redirect(url_for(".profile"))
    replace_csrf_error(form, FORM_EXPIRED)
    return _profile_page(member, form=form)


@bp.post("/panel/me/email")
@csrf.exempt  # the form checks its own token (see join)
@same_origin_post
@login.member_required
def change_email(member: Member):
    form = EmailChangeForm(prefix="email")
    if form.validate_on_submit():
        try:
            services.request_email_change(db.session, member, form.email.data)
        except services.MemberDataError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            flash(_("Vi har skickat en länk till den nya adressen. Adressen ändras när du klickar på länken."),
                  "success")
            return redirect(url_for(".profile"))
    replace_csrf_error(form, FORM_EXPIRED)
    return _profile_page(member, email_form=form)


@bp.post("/panel/me/pause")
@login.member_required
def pause(member: Member):
    form = PauseForm(prefix="pause")
    if form.validate_on_submit():
        until = services.add_months(utcnow().date(), int(form.period.data))
        services.pause(db.session, member, until)
        db.session.commit()
        flash(_("Du får inga enkäter förrän %(date)s.", date=format_date(until, "long")), "success")
        return redirect(url_for(".profile"))
    return _profile_page(member, pause_form=form)


@bp.post("/panel/me/unpause")
@login.member_required
def unpause(member: Member):
    services.unpause(db.session, member)
    db.session.commit()
    flash(_("Pausen är slut. Du kan få enkäter igen."), "success")
    return redirect(url_for(".profile"))


@bp.post("/panel/me/resubscribe")
@login.member_required
def resubscribe(member: Member):
    services.resubscribe(db.session, member)
    db.session.commit()
    flash(_("Du får mejl från panelen igen."), "success")
    return redirect(url_for(".profile"))


@bp.get("/panel/me/export.json")
@login.member_required
def export(member: Member):
    data = services.export_member_data(db.session, member)
    response = Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="medborgarpanelen-mina-uppgifter.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/panel/me/leave", methods=["GET", "POST"])
@login.member_required
def leave(member: Member):
    form = LeaveForm()
    if form.validate_on_submit():
        language = str(get_locale())  # the member is gone on the next page: say its language there
        services.leave(db.session, member, reason=form.reason.data or None)
        db.session.commit()
        login.log_out()
        return redirect(url_for(".left", lang=language))
    return render_template("members/leave.html", form=form), _status(form)


@bp.post("/panel/me/logout")
def logout():
    _speak_to(login.current_member())
    language = str(get_locale())  # the start page does not know the member: say the language
    login.log_out()
    flash(_("Du är utloggad."), "info")
    return redirect(url_for(".home", lang=language))


# ---------------------------------------------------------------- CLI


@bp.cli.command("purge")
def purge_command() -> None:
    """Delete sign-ups never confirmed in time, and old used or expired links."""
    count = services.purge_unconfirmed(db.session)
    db.session.commit()
    click.echo(f"Deleted {count} unconfirmed sign-up(s).")
