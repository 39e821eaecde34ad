"""A member's short login, after using a magic link: kept in the signed Flask session.

The session names the member by id and creation time (an id reused after a member
left does not log anyone in) and ends after PANEL_MEMBER_SESSION_MINUTES (2 hours
unless configured).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, flash, g, redirect, session, url_for
from flask_babel import gettext as _

from panel.extensions import db
from panel.i18n import prefer_member_language
from panel.members.tokens import created_stamp
from panel.models import Member

SESSION_KEY = "member"


def log_in(member: Member) -> None:
    minutes = current_app.config.get("PANEL_MEMBER_SESSION_MINUTES", 120)
    session[SESSION_KEY] = {"id": member.id, "created": created_stamp(member),
                            "until": int(time.time()) + 60 * minutes}


def log_out() -> None:
    session.pop(SESSION_KEY, None)
    g.pop("member", None)


def current_member() -> Member | None:
    """The logged-in member of this request, or None (logged out, expired, or left)."""
    if "member" in g:
        return g.member
    member = None
    value = session.get(SESSION_KEY)
    if isinstance(value, dict) and isinstance(value.get("until"), int) and value["until"] > time.time():
        found = db.session.get(Member, value.get("id")) if isinstance(value.get("id"), int) else None
        if found is not None and created_stamp(found) == value.get("created"):
            member = found
    if member is None and value is not None:
        session.pop(SESSION_KEY, None)
    g.member = member
    return member


def member_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Views for a logged-in member; others are sent to ask for a new link."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        member = current_member()
        if member is None:
            flash(_("Du behöver en ny inloggningslänk. Skriv din e-postadress så skickar vi en."), "info")
            return redirect(url_for("members.request_link"))
        prefer_member_language(member.language)  # the member's own pages speak their language
        return view(member, *args, **kwargs)

    return wrapped
