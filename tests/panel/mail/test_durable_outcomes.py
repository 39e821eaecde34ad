"""MAIL_DURABLE_OUTCOMES: whether the dispatcher's "sent" records wait for the database's disk.

Either way every email is recorded once and the recording connection goes back to the pool
as it came (on PostgreSQL the outcomes use the driver directly, see panel.mail.dispatcher).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from panel.mail.smtp import MailSettings
from panel.models import OutboxMessage
from tests.panel.mail.conftest import make_rows


@pytest.mark.parametrize("value, durable", [
    (None, False), ("", False), ("false", False), ("0", False), ("no", False),
    ("true", True), ("1", True), ("yes", True), ("on", True), (True, True), (False, False),
])
def test_the_setting_is_read_from_the_configuration(value, durable):
    config = {"MAIL_DEFAULT_SENDER": "P <p@example.se>"}
    if value is not None:
        config["MAIL_DURABLE_OUTCOMES"] = value
    assert MailSettings.from_config(config).durable_outcomes is durable


@pytest.mark.parametrize("value, durable", [(None, False), ("true", True), ("false", False)])
def test_the_environment_sets_it(monkeypatch, value, durable):
    from panel import config

    if value is None:
        monkeypatch.delenv("MAIL_DURABLE_OUTCOMES", raising=False)
    else:
        monkeypatch.setenv("MAIL_DURABLE_OUTCOMES", value)
    assert MailSettings.from_config(config.from_environment()).durable_outcomes is durable


@pytest.mark.parametrize("durable", [False, True])
def test_every_email_is_recorded_once_with_or_without_waiting_for_the_disk(app, session, dispatch, smtp_server,
                                                                           durable):
    rows = make_rows(session, 12)
    settings = MailSettings.from_config({**app.config, "MAIL_DURABLE_OUTCOMES": durable})

    first = dispatch(settings=settings, batch_size=5)
    rest = dispatch(settings=settings, batch_size=50)

    assert (first.sent, rest.sent) == (5, 7)
    session.expire_all()
    assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}
    assert sorted(int(str(m["Message-ID"]).split(".")[1]) for m in smtp_server.messages) == [r.id for r in rows]
    # The recording connection went back to the pool with the database's own setting
    # (two at once: the claiming one and the recording one).
    engine = app.extensions["database"].kw["bind"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as one, engine.connect() as two:
            for connection in (one, two):
                now, default = connection.exec_driver_sql(
                    "SELECT setting, reset_val FROM pg_settings WHERE name = 'synchronous_commit'").one()
                assert now == default
