"""Writing email into the outbox, in the caller's transaction.

Every email is a pair of templates, ``templates/email/<name>.txt`` and
``templates/email/<name>.html``. The text template sets the subject with
``{% set subject %}...{% endset %}``. Templates are rendered in the recipient's
language. Links are built from PANEL_BASE_URL only (never from the request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy.orm import Session

from panel.models import OutboxMessage


def absolute_url(path: str) -> str:
    """A link for an email: PANEL_BASE_URL + path."""
    if not path.startswith("/"):
        raise ValueError("email links are built from a path starting with '/'")
    return current_app.config["PANEL_BASE_URL"] + path


def render_email(template: str, language: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """Return (subject, text, html) for an email template in ``language``."""
    env = current_app.jinja_env
    context = {"municipality": current_app.config["PANEL_MUNICIPALITY"],
               "contact_email": current_app.config["PANEL_CONTACT_EMAIL"], **context}
    with force_locale(language):
        text_module = env.get_template(f"email/{template}.txt").make_module(context)
        html = env.get_template(f"email/{template}.html").render(context)
    subject = " ".join(str(getattr(text_module, "subject", "")).split())
    if not subject:
        raise ValueError(f"email/{template}.txt sets no subject")
    return subject, str(text_module).strip() + "\n", html


def _clean_header(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("header values may not contain line breaks")
    return value


def queue_email(
    session: Session,
    *,
    kind: str,
    to: str,
    template: str,
    language: str = "sv",
    context: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> OutboxMessage:
    """Render an email and add it to the outbox. The caller commits."""
    subject, text, html = render_email(template, language, context or {})
    header_lines = "\n".join(f"{_clean_header(k)}: {_clean_header(v)}" for k, v in (headers or {}).items())
    message = OutboxMessage(kind=kind, to_address=_clean_header(to), subject=subject,
                            body_text=text, body_html=html, headers=header_lines)
    session.add(message)
    return message
