"""Cross-cutting web behaviour: templates folder, error pages, security headers."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from panel.extensions import db

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


def render_error(status: int, message: str | None = None):
    title = str(ERROR_TITLES.get(status, ERROR_TITLES[400]))
    body = message or str(ERROR_TEXTS.get(status, ERROR_TEXTS[400]))
    try:
        return render_template("error.html", status=status, title=title, message=body), status
    except Exception:  # the error page itself must never fail
        current_app.logger.exception("error page failed to render")
        return Response(f"{title}\n\n{body}\n", status=status, mimetype="text/plain")


def init_app(app: Flask) -> None:
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
        return render_error(503)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    @app.context_processor
    def globals_for_templates():
        return {
            "municipality": app.config["PANEL_MUNICIPALITY"],
            "languages": app.config["LANGUAGES"],
            "get_locale": get_locale,
        }

    @app.get("/healthz")
    def health():
        db.session.execute(text("SELECT 1"))
        return {"status": "ok"}
