"""Helpers for the mail tests: outbox rows, a dispatcher bound to the test app, an app
with the development mailbox switched on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from panel.app import create_app
from panel.db import utcnow
from panel.mail import dispatcher
from panel.mail.smtp import MailSettings
from panel.models import OutboxMessage

HTML = ('<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Hej</title></head>'
        '<body><p>Hej Åsa!</p><p><a href="http://panel.test/panel/confirm/abc">Bekräfta</a></p></body></html>')


def make_row(session, n: int = 1, *, to: str | None = None, subject: str = "Välkommen till panelen – åäö",
             text: str = "Hej Åsa!\n\nBekräfta här: http://panel.test/panel/confirm/abc\n",
             headers: str = "List-Unsubscribe: <http://panel.test/u/tok>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click",
             kind: str = "confirm", **fields) -> OutboxMessage:
    row = OutboxMessage(kind=kind, to_address=to or f"boende{n}@example.se", subject=subject, body_text=text,
                        body_html=fields.pop("html", HTML), headers=headers, **fields)
    session.add(row)
    return row


def make_rows(session, count: int, **fields) -> list[OutboxMessage]:
    rows = [make_row(session, n, **fields) for n in range(count)]
    session.commit()
    return rows


class Dispatch:
    """``dispatch()`` runs one round against the test app's database and SMTP server."""

    def __init__(self, app) -> None:
        self.app = app
        self.sessions = app.extensions["database"]
        self.settings = MailSettings.from_config(app.config)

    def __call__(self, *, at: datetime | None = None, settings: MailSettings | None = None,
                 batch_size: int = 50, **kwargs) -> dispatcher.DispatchStats:
        clock: Callable[[], datetime] = (lambda: at) if at is not None else utcnow
        return dispatcher.dispatch_once(self.sessions, settings or self.settings, batch_size=batch_size,
                                        clock=clock, **kwargs)

    def later(self, **delta) -> datetime:
        return utcnow() + timedelta(**delta)


@pytest.fixture
def dispatch(app, smtp_server) -> Dispatch:
    return Dispatch(app)


@pytest.fixture
def dev_app(app, tmp_path):
    """A second app on the same database as ``app``, with PANEL_DEV_MAILBOX set
    (the /dev/mail routes are registered when the app is created)."""
    overrides = {key: app.config[key] for key in ("TESTING", "SECRET_KEY", "DATABASE_URL", "PANEL_BASE_URL",
                                                  "PANEL_MUNICIPALITY", "MAIL_SERVER", "MAIL_PORT",
                                                  "MAIL_DEFAULT_SENDER")}
    dev = create_app({**overrides, "PANEL_DEV_MAILBOX": str(tmp_path / "dev-mailbox")})
    dev.instance_path = app.instance_path
    yield dev
    dev.extensions["database"].kw["bind"].dispose()
