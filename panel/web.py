"""Cross-cutting web behaviour: templates folder, error pages, security headers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from panel.extensions import db
from panel.i18n import AUTONYMS, direction, languages_here
from panel.sessions import RememberingSessionInterface

_PACKAGE = Path(__file__).resolve().parent
# An installed wheel carries the templates inside the package (see pyproject);
# a source checkout keeps them in the top-level templates/ folder.
TEMPLATES = _PACKAGE / "templates" if (_PACKAGE / "templates").is_dir() else _PACKAGE.parent / "templates"

ERROR_TITLES = {
    400: _l("Felaktig begäran"),
    403: _l("Du har inte behörighet"),
    404: _l("Sidan finns inte"),
    405: _l("Det går inte att göra så här"),
    413: _l("Det du skickade var för stort"),
    429: _l("För många försök"),
    500: _l("Något gick fel hos oss"),
    503: _l("Tjänsten är tillfälligt otillgänglig"),
}
ERROR_TEXTS = {
    400: _l("Sidan kunde inte ta emot det som skickades. Gå tillbaka och försök igen."),
    403: _l("Du saknar behörighet till den här sidan."),
    404: _l("Kontrollera adressen, eller gå till startsidan."),
    405: _l("Den här sidan tar inte emot den sortens begäran."),
    413: _l("Försök igen med en mindre fil eller kortare text."),
    429: _l("Vänta en stund och försök sedan igen."),
    500: _l("Försök igen om en stund. Felet har loggats."),
    503: _l("Databasen svarar inte just nu. Försök igen om en stund."),
}


SECURITY_HEADERS = (
    ("Content-Security-Policy",
     "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` bounded to what an INTEGER column holds (PostgreSQL's 2**31 − 1).

    A larger number in a path is an address that cannot exist: 404, instead of the
    database driver's overflow error (a 500) when it is used as a key.
    """

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002 (werkzeug's names)
                 max: int | None = 2**31 - 1, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def render_error(status: int, message: str | None = None, kept_form: list[tuple[str, str]] | None = None):
    title = str(ERROR_TITLES.get(status, ERROR_TITLES[400]))
    body = message or str(ERROR_TEXTS.get(status, ERROR_TEXTS[400]))
    try:
        return render_template("error.html", status=status, title=title, message=body, kept_form=kept_form or [],
                               kept_action=request.full_path.rstrip("?")), status
    except Exception:  # the error page itself must never fail
        current_app.logger.exception("error page failed to render")
        return Response(f"{title}\n\n{body}\n", status=status, mimetype="text/plain")


def _form_to_keep() -> list[tuple[str, str]]:
    """The fields of a POSTed form, to give back on the "database unavailable" page.

    Only url-encoded forms of at most 256 KiB (every answering page; not file uploads),
    never a password field.
    """
    if request.method != "POST" or request.mimetype != "application/x-www-form-urlencoded":
        return []
    if (request.content_length or 0) > 256 * 1024:
        return []
    try:
        return [(name, value) for name, value in request.form.items(multi=True) if "password" not in name.lower()]
    except Exception:  # a body that cannot be read (too large, cut off): nothing to keep
        return []


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseIdConverter  # before any blueprint adds its routes
    app.session_interface = RememberingSessionInterface()  # Flask's cookies, each checked once per process
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_error(400, _("Formuläret hade gått ut eller saknade säkerhetskod. Ladda om sidan och försök igen."))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        if status in (301, 302, 303, 307, 308):
            return error
        return render_error(status)

    @app.errorhandler(OperationalError)
    def database_down(error: OperationalError):
        app.logger.error("database unavailable: %s", error)
        db.session.rollback()
        # A form sent while the database is away (restarting) comes back on the page,
        # to be sent again with one button: nothing the resident typed is lost.
        response = app.make_response(render_error(503, kept_form=_form_to_keep()))
        response.headers["Cache-Control"] = "no-store"  # it may hold what was typed
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)

    @app.after_request
    def security_headers(response):
        # Each one unless the view set its own. One pass over the response's headers:
        # werkzeug's setdefault looks for each name by raising and catching a KeyError.
        headers = response.headers
        present = {name.lower() for name, _value in headers.items()}
        for name, value in SECURITY_HEADERS:
            if name.lower() not in present:
                headers.add(name, value)
        # request.is_secure sees the client's scheme behind a trusted proxy (ProxyFix below).
        hsts = app.config.get("PANEL_HSTS_SECONDS", 0)
        if request.is_secure and hsts > 0 and "strict-transport-security" not in present:
            headers.add("Strict-Transport-Security", f"max-age={hsts}")
        return response

    # Also in emails (rendered outside a request, without context processors).
    app.add_template_global(direction, "text_direction")
    app.add_template_global(AUTONYMS, "language_names")

    @app.context_processor
    def globals_for_templates():
        return {
            "municipality": app.config["PANEL_MUNICIPALITY"],
            "languages": languages_here(),  # staff pages: sv/en; resident pages: also Arabic
            "get_locale": get_locale,
        }

    @app.get("/healthz")
    def health():
        """For load balancers and monitoring: 200 when the database answers, else 503."""
        try:
            db.session.execute(text("SELECT 1"))
        except Exception as error:  # any failure to reach the database means "not ready"
            app.logger.error("health check: database unavailable: %s", error)
            db.session.rollback()
            response = jsonify(status="unavailable", reason="database unavailable")
            response.status_code = 503
        else:
            response = jsonify(status="ok")
        response.headers["Cache-Control"] = "no-store"
        return response

    proxies = app.config.get("PANEL_TRUSTED_PROXIES", 0)
    if proxies > 0:
        # Only headers set by that many proxies are believed: the client address (login
        # throttling, audit log), the scheme (HSTS, secure cookies) and the host.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)


def replace_csrf_error(form, message: str) -> bool:
    """Turn a failed CSRF check into a form-level ``message``; True if there was one.

    A resident whose form has expired (a session gone, a page left open too long) should
    see what they typed again with a plain explanation and a fresh token, not a field
    called "CSRF Token" in the error summary or a "reload the page" error that loses it all.
    """
    field = form._fields.get("csrf_token")
    if field is None or not field.errors:
        return False
    field.errors = []
    form.form_errors.append(str(message))
    return True


def _same_origin(url: str) -> bool:
    """Whether ``url`` (an Origin or Referer header) has the scheme, host and port of this request."""
    theirs, ours = urlsplit(url.strip()), urlsplit(request.host_url)
    return (theirs.scheme.lower(), theirs.netloc.lower()) == (ours.scheme.lower(), ours.netloc.lower())


def cross_site_post() -> str | None:
    """Why this POST looks sent from another site (for the log), or None.

    Defence in depth for the forms that check their own CSRF token (views marked
    ``@csrf.exempt`` so that an expired token shows the form again with what was typed),
    which Flask-WTF's HTTPS Referer check (``WTF_CSRF_SSL_STRICT``) therefore skips. A
    legitimate browser is never refused: only a ``Sec-Fetch-Site: cross-site`` (sent by
    current browsers whatever the referrer policy) counts, and, over HTTPS with
    ``WTF_CSRF_SSL_STRICT``, an Origin or Referer that is present and names another
    origin. A missing Referer is allowed (every page sends ``Referrer-Policy:
    no-referrer``, and some privacy settings drop it), and so is ``Origin: null``, which
    browsers send for a POST from a no-referrer page.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    if request.is_secure and current_app.config.get("WTF_CSRF_SSL_STRICT"):
        origin = request.headers.get("Origin", "").strip()
        if origin and origin != "null" and not _same_origin(origin):
            return f"Origin {origin!r}"
        referrer = request.headers.get("Referer", "").strip()
        if referrer and not _same_origin(referrer):
            return f"Referer {urlsplit(referrer).netloc!r}"  # not the path: it may hold a token
    return None


def same_origin_post(view: Callable) -> Callable:
    """Refuse, with a Swedish 400 page, a POST to ``view`` that :func:`cross_site_post`
    finds sent from another site; for the views that check their own CSRF token."""

    @wraps(view)
    def checked(*args, **kwargs):
        reason = cross_site_post()
        if reason is not None:
            current_app.logger.warning("cross-site POST to %s refused: %s", request.path, reason)
            return render_error(400, _("Formuläret skickades från en annan webbplats och togs därför inte emot. "
                                       "Öppna sidan hos medborgarpanelen och skicka formuläret därifrån."))
        return view(*args, **kwargs)

    return checked
