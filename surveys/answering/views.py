"""The respondent's pages: ``/s/<token>`` (landing), ``/s/answer/<page>``, ``/s/thanks``.

``GET /s/<token>`` is read-only apart from noting that the link was fetched (mail
scanners fetch every link): it shows the intro and a start button. The POST behind the
button starts a respondent session -- the invitation is kept in the signed session
cookie -- and redirects to pages whose addresses carry no token. Each page is saved
when the resident goes on; the last one stores the response.

These views check CSRF through their forms (Flask-WTF) instead of the global
CSRFProtect: so the request body limit of each page can be set before the body is
read, and a page whose form expired is shown again with what the resident typed.
Every page is rendered in the survey's language (``lang``/``dir`` of the page too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

import click
from babel import Locale
from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from panel.db import utcnow
from panel.sessions import renew_if_older
from panel.extensions import csrf, db
from panel.web import render_error, replace_csrf_error
from surveys.answering import services
from surveys.answering.forms import BACK_NOT_SAVED, EXPIRED_FORM, NOT_SAVED, START_EXPIRED, StartForm
from surveys.answering.pages import render_page
from surveys.definition import Page, SurveyDefinition, text_in
from surveys.fielding.models import Invitation
from surveys.form_html import csrf_html, error_summary_html, questions_html
from surveys.forms import (RESPONDENT_META, build_page_form, clean_answers, only_unanswered, previous_page,
                           shown_page)
from surveys.languages import autonym, direction
from surveys.markdown import render_markdown

bp = Blueprint("answering", __name__, url_prefix="/s", cli_group="answering")
bp.add_app_template_filter(render_markdown, "markdown")
bp.add_app_template_global(questions_html, "survey_questions")  # templates/surveys/_questions.html
bp.add_app_template_global(error_summary_html, "survey_error_summary")
bp.add_app_template_global(csrf_html, "survey_csrf")
SESSION_KEY = "respondent"
START_BODY_LIMIT = 4096


_LOCALES: dict[str, Locale] = {}


def _locale(language: str) -> Locale:
    """The Babel locale of ``language``, parsed once (parsing looks for a file every time)."""
    locale = _LOCALES.get(language)
    if locale is None:
        locale = _LOCALES[language] = Locale.parse(language)
    return locale


def _grace() -> timedelta:
    return timedelta(days=current_app.config.get("SURVEY_LINK_GRACE_DAYS", 30))


def _throttle() -> services.Throttle:
    config = current_app.config
    return services.Throttle(max_failures=config.get("SURVEY_LINK_MAX_FAILURES", 20),
                             window=timedelta(minutes=config.get("SURVEY_LINK_WINDOW_MINUTES", 10)))


def _render(template: str, defn: SurveyDefinition, language: str, status: int = 200, **context):
    return render_template(f"surveys/answering/{template}", defn=defn, language=language, text_in=text_in,
                           autonym=autonym, direction=direction, title=text_in(defn.title, language),
                           page_lang=language, page_dir=direction(language), **context), status


def _invalid_link():
    return render_template("surveys/answering/invalid.html"), 404


def _too_many_guesses():
    response, status = render_error(429, _("Du har öppnat för många länkar som inte fungerar. "
                                           "Vänta tio minuter och försök igen."))
    return response, status, {"Retry-After": "600"}


def _no_session():
    return render_template("surveys/answering/no_session.html"), 403


def _stopped(error: services.AnsweringError, survey, defn: SurveyDefinition, language: str):
    """The page for a survey that cannot be answered now, said plainly."""
    if isinstance(error, services.LinkInvalid):
        return _invalid_link()
    if isinstance(error, services.NoRespondent):
        return _no_session()
    return _render("stopped.html", defn, language, survey=survey, error=error, phase=type(error).__name__)


# --- the personal link -----------------------------------------------------------------


@bp.route("/<path:token>", methods=["GET", "POST"])
@csrf.exempt
def landing(token: str):
    if not services.is_well_formed(token):
        return _invalid_link()  # before any database access
    request.max_content_length = START_BODY_LIMIT
    now = utcnow()
    try:
        invitation = services.find_invitation(db.session, token, remote_addr=request.remote_addr or "-",
                                              throttle=_throttle(), now=now, grace=_grace())
    except services.TooManyGuesses:
        return _too_many_guesses()
    except services.LinkInvalid:
        db.session.commit()  # an unknown token counts towards the throttle
        return _invalid_link()
    form, defn = StartForm(), services.definition(invitation.survey)
    wanted = form.language.data if form.is_submitted() else request.args.get("language")
    language = services.language_for(defn, wanted, invitation.language)
    with force_locale(language):
        try:
            services.check_answerable(invitation, now)
        except services.AnsweringError as error:
            return _stopped(error, invitation.survey, defn, language)
        if form.validate_on_submit():
            return _start(invitation, language, now)
        return _landing_page(invitation, defn, language, form, now)


def _start(invitation: Invitation, language: str, now):
    """The start button: a draft to save answers in, the invitation in the session cookie."""
    try:
        services.start(db.session, invitation, language=language, now=now)
        db.session.commit()
    except IntegrityError:  # a double click: the other request has just made the draft
        db.session.rollback()
    session[SESSION_KEY] = {"invitation": invitation.id, "survey": invitation.survey_id, "language": language}
    return redirect(url_for(".resume"))


def _landing_page(invitation: Invitation, defn: SurveyDefinition, language: str, form: StartForm, now):
    """The intro and the start button; notes the first fetch of the link (perhaps by a mail scanner)."""
    if replace_csrf_error(form, START_EXPIRED):
        form.language.data = language
    services.mark_opened(db.session, invitation, now)
    draft = services.find_draft(db.session, invitation)
    db.session.commit()
    return _render("landing.html", defn, language, 400 if form.errors else 200, form=form,
                   survey=invitation.survey, started=draft is not None and bool(draft.pages_done))


# --- the respondent session -------------------------------------------------------------
# The busiest requests of the application: plain rows through one Core connection per
# request (no ORM session), the page written around a kept shell (pages.py).


@dataclass
class Respondent:
    invitation: services.Link
    draft: services.Draft | None
    defn: SurveyDefinition
    language: str
    connection: Connection


def respondent_view(view):
    """Give the view the respondent of this session, in the survey's language.

    No session gives a page saying to open the link again; a link revoked since gives
    the "link not valid" page; a survey that has closed says so; an already stored
    response leads to the thanks page. The view gets the request's database connection
    (``respondent.connection``) and commits on it.

    Every request first runs in autocommit, its draft read without a lock: a GET is one
    SELECT, a saved page one SELECT and one UPDATE that checks the draft's version. A
    POST that cannot be saved so (:class:`services.SaveUnderLock`: the draft changed
    meanwhile, or the page stores the response) is done again in a transaction with the
    draft's row locked.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        state = session.get(SESSION_KEY) or {}
        # Answering keeps the session alive: its cookie expires PERMANENT_SESSION_LIFETIME
        # after it was signed, so it is signed again once a quarter of that has passed.
        renew_if_older(session, current_app.permanent_session_lifetime.total_seconds() / 4)
        try:
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT")
                return _respond(view, connection, state, False, args, kwargs)
        except services.SaveUnderLock:
            with db.engine.connect() as connection:
                return _respond(view, connection, state, True, args, kwargs)

    return wrapper


def _respond(view, connection: Connection, state: dict, lock: bool, args, kwargs):
    try:
        invitation, draft = services.respondent(connection, state.get("invitation"), state.get("survey"),
                                                now=utcnow(), grace=_grace(), lock=lock)
    except services.NoRespondent:
        return _no_session()
    except services.LinkInvalid:
        return _invalid_link()
    defn = services.definition(invitation.survey, connection)
    language = services.language_for(defn, draft.language if draft else state.get("language"), invitation.language)
    with force_locale(_locale(language)):
        try:
            return view(Respondent(invitation, draft, defn, language, connection), *args, **kwargs)
        except services.AlreadyAnswered:
            connection.rollback()
            return redirect(url_for(".thanks"))
        except services.AnsweringError as error:
            connection.rollback()
            return _stopped(error, invitation.survey, defn, language)


def _answering(respondent: Respondent) -> services.Draft:
    """The draft, once the survey is known to take answers from this respondent."""
    services.check_answerable(respondent.invitation, utcnow())
    if respondent.draft is None:
        raise services.NoRespondent()
    return respondent.draft


@bp.get("/answer")
@respondent_view
def resume(respondent: Respondent):
    draft = _answering(respondent)
    return _to_page(services.resume_page(respondent.defn, draft).key)


@bp.route("/answer/<page_key>", methods=["GET", "POST"])
@csrf.exempt
@respondent_view
def page(respondent: Respondent, page_key: str):
    draft, defn = _answering(respondent), respondent.defn
    page = defn.page(page_key)
    if page is None or not services.is_reachable(defn, page, draft):
        return _to_page(services.resume_page(defn, draft).key)
    if request.method == "GET":
        return _page(respondent, page, shown_page(defn, page, respondent.language, draft.answers))
    request.max_content_length = services.body_limit(defn, page, draft.answers)
    if sum(len(values) for _name, values in request.form.lists()) > services.value_limit(defn, page, draft.answers):
        abort(413)
    form = build_page_form(defn, page, respondent.language, draft.answers, request.form, meta=RESPONDENT_META)
    valid = form.validate()
    if replace_csrf_error(form, EXPIRED_FORM):
        return _page(respondent, page, form, 400)
    if request.form.get("nav") == "back":
        if not valid and not only_unanswered(form):  # going back would lose what is wrong
            form.form_errors.append(str(BACK_NOT_SAVED))
            return _page(respondent, page, form, 400)
        return _save(respondent, page, form, back=True, valid=valid)
    if not valid:
        return _page(respondent, page, form, 400)
    return _save(respondent, page, form, back=False, valid=True)


def _save(respondent: Respondent, page: Page, form, *, back: bool, valid: bool):
    """Save the page and go on. A page going back with questions still unanswered keeps
    what was answered on it, and is not done.

    A database failure shows the page again, with what the resident typed and a
    message that it was not saved: it is rendered from what is in memory.
    """
    draft, defn, connection, now = respondent.draft, respondent.defn, respondent.connection, utcnow()
    assert draft is not None
    context = _page_context(respondent, page)  # as the page was shown, before the answers change the draft
    try:
        if valid:
            target = services.save_page(draft, defn, page, clean_answers(form), now=now)
        else:
            services.keep_unfinished(draft, defn, page, clean_answers(form), now=now)
            target = page
        if back:
            target = services.go_back(draft, defn, page, now=now)
        if target is None and not draft.locked:
            raise services.SaveUnderLock()  # the response is stored with the draft locked
        if target is None:
            services.complete(connection, respondent.invitation, draft, defn,
                              anonymous=respondent.invitation.survey.anonymous, now=now)
        else:
            services.store_draft(connection, draft)
        connection.commit()
    except SQLAlchemyError:
        connection.rollback()
        if _completed_meanwhile(connection, respondent.invitation.id):
            return redirect(url_for(".thanks"))
        current_app.logger.exception("answers to page %s of survey %s not saved", page.key,
                                     respondent.invitation.survey_id)
        form.form_errors.append(str(NOT_SAVED))
        return _page(respondent, page, form, 503, context)
    if target is None:
        return redirect(url_for(".thanks"))
    return _to_page(target.key)


def _to_page(page_key: str):
    """Redirect to a question page; its address is built once per page (and script root)."""
    urls = current_app.extensions.setdefault("answering_page_urls", {})
    key = (request.script_root, page_key)
    url = urls.get(key)
    if url is None:
        if len(urls) >= 4096:
            urls.clear()
        url = urls[key] = url_for(".page", page_key=page_key)
    return redirect(url)


def _completed_meanwhile(connection: Connection, invitation_id: int) -> bool:
    """After a failed save: did another tab or click store the response? (No, if the database is down.)"""
    try:
        return services.is_completed(connection, invitation_id)
    except SQLAlchemyError:
        connection.rollback()
        return False


def _page_context(respondent: Respondent, page: Page) -> dict:
    draft, defn = respondent.draft, respondent.defn
    assert draft is not None
    number, total = services.page_position(defn, page, draft)
    return {"number": number, "total": total, "last": services.is_last(defn, page, draft),
            "first": previous_page(defn, page, draft.answers) is None,
            "anonymous": respondent.invitation.survey.anonymous}


def _page(respondent: Respondent, page: Page, form, status: int = 200, context: dict | None = None):
    return render_page(respondent.defn, respondent.invitation.survey, page, respondent.language, form,
                       **(context or _page_context(respondent, page))), status


@bp.get("/thanks")
@respondent_view
def thanks(respondent: Respondent):
    if respondent.invitation.completed_at is None:
        return redirect(url_for(".resume"))
    return _render("thanks.html", respondent.defn, respondent.language, survey=respondent.invitation.survey)


# --- command line ----------------------------------------------------------------------


@bp.cli.command("purge-drafts")
def purge_drafts() -> None:
    """Delete unfinished answers of surveys closed longer ago than SURVEY_LINK_GRACE_DAYS
    and of members who have left the panel (run daily, for instance from cron)."""
    removed = services.delete_abandoned_drafts(db.session, now=utcnow(), grace=_grace())
    db.session.commit()
    click.echo(f"deleted {removed} unfinished answer drafts")
