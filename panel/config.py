"""Configuration read from the environment, with safe defaults for a demo.

Every setting can be given as an environment variable of the same name.
``create_app(overrides)`` lets tests and the demo replace any of them.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

DEFAULT_SQLITE = f"sqlite:///{Path.cwd() / 'instance' / 'medborgarpanel.sqlite'}"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def from_environment() -> dict[str, object]:
    """Return the application configuration as a plain mapping."""
    env = os.environ.get
    return {
        "SECRET_KEY": env("SECRET_KEY"),
        "DATABASE_URL": env("DATABASE_URL", DEFAULT_SQLITE),
        "PANEL_BASE_URL": env("PANEL_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "PANEL_MUNICIPALITY": env("PANEL_MUNICIPALITY", "Exempelkommun"),
        "PANEL_CONTACT_EMAIL": env("PANEL_CONTACT_EMAIL", "medborgarpanel@example.se"),
        # Mail (flask-mail names)
        "MAIL_SERVER": env("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL", False),
        "MAIL_USERNAME": env("MAIL_USERNAME"),
        "MAIL_PASSWORD": env("MAIL_PASSWORD"),
        "MAIL_DEFAULT_SENDER": env("MAIL_DEFAULT_SENDER", "Medborgarpanelen <noreply@example.se>"),
        "MAIL_TIMEOUT": _int("MAIL_TIMEOUT", 10),
        # true: the dispatcher's "sent" records wait for PostgreSQL's disk (see panel/mail/dispatcher.py)
        "MAIL_DURABLE_OUTCOMES": _bool("MAIL_DURABLE_OUTCOMES", False),
        # Reconnect after this many messages on one SMTP connection (0: never).
        "MAIL_MAX_EMAILS": _int("MAIL_MAX_EMAILS", 0),
        # A folder (Maildir) whose messages the dev-only mailbox page shows. Demo only.
        "PANEL_DEV_MAILBOX": env("PANEL_DEV_MAILBOX"),
        # Residents
        "PANEL_CONFIRM_HOURS": _int("PANEL_CONFIRM_HOURS", 72),
        "PANEL_MAGIC_LINK_MINUTES": _int("PANEL_MAGIC_LINK_MINUTES", 30),
        "PANEL_MIN_AGE": _int("PANEL_MIN_AGE", 16),
        # How long a resident stays signed in after opening a magic link.
        "PANEL_MEMBER_SESSION_MINUTES": _int("PANEL_MEMBER_SESSION_MINUTES", 120),
        # Staff login throttling: failures per account+address within the window.
        "PANEL_LOGIN_MAX_FAILURES": _int("PANEL_LOGIN_MAX_FAILURES", 5),
        "PANEL_LOGIN_WINDOW_MINUTES": _int("PANEL_LOGIN_WINDOW_MINUTES", 15),
        # Recruitment codes typed at /join: wrong codes per address within the window.
        "PANEL_CODE_MAX_FAILURES": _int("PANEL_CODE_MAX_FAILURES", 10),
        "PANEL_CODE_WINDOW_MINUTES": _int("PANEL_CODE_WINDOW_MINUTES", 10),
        # Residents' public requests per address within the window, each kind counted apart
        # (panel/members/throttle.py): sign-up forms, magic-link requests, unknown links from email.
        "PANEL_SIGNUP_MAX": _int("PANEL_SIGNUP_MAX", 20),
        "PANEL_SIGNUP_WINDOW_MINUTES": _int("PANEL_SIGNUP_WINDOW_MINUTES", 60),
        "PANEL_LINK_REQUEST_MAX": _int("PANEL_LINK_REQUEST_MAX", 20),
        "PANEL_LINK_REQUEST_WINDOW_MINUTES": _int("PANEL_LINK_REQUEST_WINDOW_MINUTES", 60),
        "PANEL_BAD_LINK_MAX": _int("PANEL_BAD_LINK_MAX", 20),
        "PANEL_BAD_LINK_WINDOW_MINUTES": _int("PANEL_BAD_LINK_WINDOW_MINUTES", 10),
        # Survey links: unknown tokens per address within the window; how long after a
        # survey closes its links still say "closed" rather than "not valid".
        "SURVEY_LINK_MAX_FAILURES": _int("SURVEY_LINK_MAX_FAILURES", 20),
        "SURVEY_LINK_WINDOW_MINUTES": _int("SURVEY_LINK_WINDOW_MINUTES", 10),
        "SURVEY_LINK_GRACE_DAYS": _int("SURVEY_LINK_GRACE_DAYS", 30),
        # Published reports: cells whose unweighted base is below this are suppressed.
        "PANEL_SUPPRESSION_MIN_N": _int("PANEL_SUPPRESSION_MIN_N", 5),
        # Web
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 5 * 1024 * 1024),
        "BABEL_DEFAULT_LOCALE": "sv",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Stockholm",
        "LANGUAGES": ("sv", "en"),  # staff pages
        # Resident pages (sign-up, member pages, answering, public results, emails to members):
        # each needs a catalog in panel/translations; Arabic is right to left.
        "PANEL_RESIDENT_LANGUAGES": tuple(
            code.strip() for code in env("PANEL_RESIDENT_LANGUAGES", "sv,en,ar").split(",") if code.strip()),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure cookies whenever the public address is https (override with SESSION_COOKIE_SECURE).
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE",
                                       env("PANEL_BASE_URL", "").lower().startswith("https://")),
        # A staff login lasts this long after the last request (sliding); residents' own
        # login after a magic link has PANEL_MEMBER_SESSION_MINUTES on top of it.
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=_int("PANEL_STAFF_SESSION_MINUTES", 480)),
        "WTF_CSRF_TIME_LIMIT": None,
        # Every page sends "Referrer-Policy: no-referrer" (tokens live in resident URLs), so
        # browsers send no Referer for Flask-WTF's HTTPS same-origin check to compare. POSTs
        # stay protected by the session-bound CSRF token and SameSite=Lax cookies.
        "WTF_CSRF_SSL_STRICT": False,
        # Production: how many reverse proxies in front of the app set X-Forwarded-For/-Proto/
        # -Host (werkzeug ProxyFix; 0 = trust none), and HSTS max-age on HTTPS (0 = no header).
        "PANEL_TRUSTED_PROXIES": _int("PANEL_TRUSTED_PROXIES", 0),
        "PANEL_HSTS_SECONDS": _int("PANEL_HSTS_SECONDS", 31536000),
        # Retention (GDPR), in days: see panel.retention and the DPO page.
        # Letter names and addresses of recruitment samples (and their codes stop working).
        "PANEL_RETAIN_RECRUITMENT_DAYS": _int("PANEL_RETAIN_RECRUITMENT_DAYS", 180),
        # Sent emails (address, personal links) in the outbox.
        "PANEL_RETAIN_SENT_MAIL_DAYS": _int("PANEL_RETAIN_SENT_MAIL_DAYS", 30),
        # Members who unsubscribed from all mail and changed nothing since: removed as if they left.
        "PANEL_RETAIN_INACTIVE_DAYS": _int("PANEL_RETAIN_INACTIVE_DAYS", 730),
        # Identified surveys: the link from a response to the member and invitation,
        # counted from the survey's closing.
        "PANEL_RETAIN_IDENTIFIED_DAYS": _int("PANEL_RETAIN_IDENTIFIED_DAYS", 365),
        # Throttling records (failed logins, wrong codes, counted requests: emails and IP addresses).
        "PANEL_RETAIN_THROTTLE_DAYS": _int("PANEL_RETAIN_THROTTLE_DAYS", 1),
        # The DPO page and the public privacy text: controller, legal basis, DPO contact;
        # PANEL_PRIVACY_TEXT_FILE (Markdown) replaces the generated public text.
        "PANEL_PRIVACY_CONTROLLER": env("PANEL_PRIVACY_CONTROLLER"),
        "PANEL_PRIVACY_LEGAL_BASIS": env("PANEL_PRIVACY_LEGAL_BASIS"),
        "PANEL_PRIVACY_DPO_CONTACT": env("PANEL_PRIVACY_DPO_CONTACT"),
        "PANEL_PRIVACY_TEXT_FILE": env("PANEL_PRIVACY_TEXT_FILE"),
    }


def instance_path() -> str:
    """Where local state lives (SQLite file, generated secret key, demo mailbox)."""
    return os.environ.get("PANEL_INSTANCE_PATH", str(Path.cwd() / "instance"))


def ensure_secret_key(app) -> None:
    """Use SECRET_KEY from the environment, or a key generated once per instance.

    A generated key is stored in the instance folder, so several workers on one
    host share it and sessions survive restarts. In production set SECRET_KEY.
    """
    if app.config.get("SECRET_KEY"):
        return
    import secrets

    path = Path(app.instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    app.config["SECRET_KEY"] = path.read_text().strip()
