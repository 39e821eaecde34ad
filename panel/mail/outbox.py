"""Writing email into the outbox, in the caller's transaction.

Every email is a pair of templates, ``templates/email/<name>.txt`` and
``templates/email/<name>.html``. The text template sets the subject with
``{% set subject %}...{% endset %}``. Templates are rendered in the recipient's
language. Links are built from PANEL_BASE_URL only (never from the request).

Nothing here talks to an SMTP server: ``queue_email`` only adds a row, so the
change that causes an email and the email itself are committed together (or not
at all), and a sign-up succeeds while the mail server is down. The dispatcher
(``panel.mail.dispatcher``, ``medborgarpanel mail dispatch``) sends the rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app
from flask_babel import force_locale
from markupsafe import escape
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from panel.models import OutboxMessage
from panel.models.outbox import OutboxBody

# Header field names (RFC 5322 ftext: printable ASCII except the colon).
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# Headers the dispatcher writes itself; a row may not set them.
RESERVED_HEADERS = frozenset({
    "from", "sender", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version",
    "content-type", "content-transfer-encoding", "return-path", "received",
})
PRIORITY_DIRECT = 0  # an answer to the resident's own action: confirmation, magic link
PRIORITY_BULK = 1  # invitations, reminders, results: anything carrying List-Unsubscribe
# Where a shared body (OutboxBody) takes each row's own links: URL-safe, so that
# url_for and HTML escaping leave them alone when a letter is rendered with them.
LINK_PLACEHOLDER = "XXSURVEYLINKXX"
UNSUBSCRIBE_PLACEHOLDER = "XXUNSUBSCRIBELINKXX"


def absolute_url(path: str) -> str:
    """A link for an email: PANEL_BASE_URL + path."""
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError("email links are built from a path starting with a single '/'")
    return current_app.config["PANEL_BASE_URL"] + path


def email_path(endpoint: str, **values: Any) -> str:
    """The URL path of ``endpoint`` for an email, inside or outside a request.

    Built from the app's URL map alone: the CLI and the dispatcher have no request,
    and a request's host must never end up in an email anyway.
    """
    return current_app.url_map.bind("panel.invalid", script_name="/").build(endpoint, values)


def email_url(endpoint: str, **values: Any) -> str:
    """An absolute link for an email to ``endpoint``: PANEL_BASE_URL + :func:`email_path`."""
    return absolute_url(email_path(endpoint, **values))


def render_email(template: str, language: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """Return (subject, text, html) for an email template in ``language``.

    Templates see ``municipality``, ``contact_email`` and ``language`` besides
    the caller's context (``templates/email/_layout.html`` uses ``language``).
    """
    env = current_app.jinja_env
    context = {"municipality": current_app.config["PANEL_MUNICIPALITY"],
               "contact_email": current_app.config["PANEL_CONTACT_EMAIL"],
               "language": language, **context}
    with force_locale(language):
        text_module = env.get_template(f"email/{template}.txt").make_module(context)
        html = env.get_template(f"email/{template}.html").render(context)
    subject = " ".join(str(getattr(text_module, "subject", "")).split())
    if not subject:
        raise ValueError(f"email/{template}.txt sets no subject")
    return subject, str(text_module).strip() + "\n", html


def clean_header_value(value: str) -> str:
    """``value`` unchanged, or ValueError if it could break out of its header line."""
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("header values may not contain line breaks")
    return value


def clean_header_name(name: str) -> str:
    """``name`` unchanged, or ValueError if it is not a header name a row may set."""
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"not a valid header name: {name!r}")
    if name.lower() in RESERVED_HEADERS:
        raise ValueError(f"the dispatcher sets {name} itself")
    return name


def format_headers(headers: Mapping[str, str]) -> str:
    """Extra headers as the outbox stores them: one "Name: value" per line."""
    return "\n".join(f"{clean_header_name(k)}: {clean_header_value(v)}" for k, v in headers.items())


def parse_headers(lines: str) -> list[tuple[str, str]]:
    """The stored "Name: value" lines back as pairs, checked again (rows can be edited)."""
    pairs = []
    for line in (lines or "").split("\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"header line without a colon: {line[:60]!r}")
        pairs.append((clean_header_name(name.strip()), clean_header_value(value.strip())))
    return pairs


def queue_email(
    session: Session,
    *,
    kind: str,
    to: str,
    template: str,
    language: str = "sv",
    context: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    priority: int | None = None,
) -> OutboxMessage:
    """Render an email and add it to the outbox. The caller commits.

    ``headers`` are extra headers such as List-Unsubscribe; names and values are
    checked (no line breaks, no From/To/Subject/...), ValueError otherwise.
    ``priority`` defaults to bulk for mail carrying List-Unsubscribe and to
    direct otherwise, so confirmations overtake a large send-out.
    """
    subject, text, html = render_email(template, language, context or {})
    header_lines = format_headers(headers or {})
    if priority is None:
        bulk = any(name.lower() == "list-unsubscribe" for name in (headers or {}))
        priority = PRIORITY_BULK if bulk else PRIORITY_DIRECT
    message = OutboxMessage(kind=kind, to_address=clean_header_value(to.strip()), subject=subject,
                            body_text=text, body_html=html, headers=header_lines, priority=priority)
    session.add(message)
    return message


# --- shared bodies (bulk mail) -----------------------------------------------------------


def add_shared_body(session: Session, text: str, html: str, *, headers: str = "",
                    send_out: str | None = None) -> int:
    """Store a body that many rows share (see :class:`panel.models.outbox.OutboxBody`); its id.

    ``text`` and ``html`` must hold nothing about one resident: each row's links go
    where LINK_PLACEHOLDER and UNSUBSCRIBE_PLACEHOLDER stand. ``headers`` ("Name: value"
    lines, checked here) are added to every row's own headers, with the same placeholders
    filled (e.g. ``list_unsubscribe_headers(UNSUBSCRIBE_PLACEHOLDER)``). ``send_out``
    labels the send-out, to find its rows later (:func:`send_out_rows`).
    """
    parse_headers(headers)  # ValueError for a header a row may not set
    body = OutboxBody(body_text=text, body_html=html, headers=headers, send_out=send_out)
    session.add(body)
    session.flush()
    return body.id


def list_unsubscribe_headers(link: str) -> str:
    """List-Unsubscribe (RFC 2369) with one-click (RFC 8058) for ``link``, as stored lines."""
    return format_headers({"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})


def fill_body(text: str, html: str, link: str | None, unsubscribe_link: str | None) -> tuple[str, str]:
    """A shared body with one row's links put in (escaped in the HTML part)."""
    link, unsubscribe_link = link or "", unsubscribe_link or ""
    return (text.replace(LINK_PLACEHOLDER, link).replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe_link),
            html.replace(LINK_PLACEHOLDER, str(escape(link)))
            .replace(UNSUBSCRIBE_PLACEHOLDER, str(escape(unsubscribe_link))))


def fill_headers(shared: str, own: str, link: str | None, unsubscribe_link: str | None) -> str:
    """A row's headers as sent: the shared body's, with the row's links put in, then its own."""
    if not shared:
        return own or ""
    shared = shared.replace(LINK_PLACEHOLDER, link or "").replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe_link or "")
    return f"{shared}\n{own}" if own else shared


def delete_unused_bodies(session: Session) -> int:
    """Delete shared bodies that no outbox row points at any more; how many."""
    used = exists().where(OutboxMessage.body_id == OutboxBody.id)
    return session.execute(delete(OutboxBody).where(~used).execution_options(synchronize_session=False)).rowcount


def full_bodies(session: Session, message: OutboxMessage) -> tuple[str, str]:
    """(text, html) of a row as it is sent: its own, or its shared body with its links put in."""
    if message.body_id is None:
        return message.body_text, message.body_html
    shared = session.execute(select(OutboxBody.body_text, OutboxBody.body_html)
                             .where(OutboxBody.id == message.body_id)).one()
    return fill_body(shared.body_text, shared.body_html, message.link, message.unsubscribe_link)


def full_headers(session: Session, message: OutboxMessage) -> str:
    """A row's extra headers as they are sent (its shared body's with its links, then its own)."""
    if message.body_id is None:
        return message.headers or ""
    shared = session.scalar(select(OutboxBody.headers).where(OutboxBody.id == message.body_id)) or ""
    return fill_headers(shared, message.headers, message.link, message.unsubscribe_link)


def send_out_rows(send_outs: Iterable[str]):
    """SQL condition: the outbox rows whose shared body belongs to one of ``send_outs``."""
    bodies = select(OutboxBody.id).where(OutboxBody.send_out.in_(list(send_outs)))
    return OutboxMessage.body_id.in_(bodies)
