"""The question pages' statements on the driver's cursor (surveys.answering.driver): the same
values as through SQLAlchemy, commits that commit, and SQLAlchemy's errors."""

from __future__ import annotations

from datetime import timezone

import pytest
from sqlalchemy import Connection, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError

from panel.db import uses_psycopg
from surveys.answering import driver, services
from surveys.answering.models import AnswerDraft
from tests.conftest import ON_POSTGRES
from tests.surveys.answering.builders import TWO_PAGES, engine_of, invite, make_survey

on_postgres = pytest.mark.skipif(not ON_POSTGRES, reason="the driver's cursor is used on PostgreSQL only")


@pytest.fixture
def started(app, session):
    """An invitation with a draft; its id."""
    survey = make_survey(session, TWO_PAGES)
    invitation, _token = invite(session, survey)
    session.add(AnswerDraft(invitation_id=invitation.id, language="sv", answers={"farg": "rod"},
                            pages_done={"p1": ["farg", "namn"]}, page_key="p2"))
    session.commit()
    return invitation.id


def test_rows_are_the_ones_sqlalchemy_gives(app, started):
    with engine_of(app).connect() as connection:
        for statement in (services._READ, services._LOCK, services._LINK):
            through_sqlalchemy = list(connection.execute(statement, {"invitation_id": started}).first())
            fast = driver.first_row(connection, statement, {"invitation_id": started}, datetimes=services._DATETIMES)
            assert list(fast) == through_sqlalchemy
            assert all(fast[i] is None or fast[i].tzinfo == timezone.utc for i in services._DATETIMES)
        assert driver.first_row(connection, services._READ, {"invitation_id": started + 1000}) is None


def test_a_stored_draft_is_committed_with_the_connection(app, started):
    with engine_of(app).connect() as connection:
        link, draft = services.respondent(connection, started, survey_id_of(app, started), now=now(),
                                          grace=grace(), lock=True)
        draft.answers, draft.page_key, draft.updated_at = {"farg": "bla", "namn": "Å \"citat\" \\ ✓"}, "p1", now()
        services.store_draft(connection, draft)
        connection.commit()
    with engine_of(app).connect() as connection:
        stored = connection.execute(select(AnswerDraft.answers, AnswerDraft.page_key)
                                    .where(AnswerDraft.invitation_id == started)).one()
        assert stored == ({"farg": "bla", "namn": "Å \"citat\" \\ ✓"}, "p1")
    with engine_of(app).connect() as connection:  # and a rollback rolls it back
        link, draft = services.respondent(connection, started, link.survey_id, now=now(), grace=grace(), lock=True)
        draft.page_key, draft.updated_at = "p2", now()
        services.store_draft(connection, draft)
        connection.rollback()
        assert connection.scalar(select(AnswerDraft.page_key).where(AnswerDraft.invitation_id == started)) == "p1"


@on_postgres
def test_errors_are_sqlalchemys_and_a_lost_connection_is_invalidated(app, started):
    engine = engine_of(app)
    with engine.connect() as connection:
        broken = update(AnswerDraft).where(AnswerDraft.invitation_id == started)
        with pytest.raises(DBAPIError):
            driver.execute(connection, broken, {"language": "x" * 100}, columns=("language",))  # too long
        connection.rollback()
    with engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
        with pytest.raises(OperationalError) as lost:
            driver.first_row(connection, services._READ, {"invitation_id": started})
        assert lost.value.connection_invalidated and connection.invalidated
        connection.rollback()
        assert driver.first_row(connection, services._READ, {"invitation_id": started}) is not None, "reconnected"


def survey_id_of(app, invitation_id: int) -> int:
    from surveys.fielding.models import Invitation

    with engine_of(app).connect() as connection:
        return connection.scalar(select(Invitation.survey_id).where(Invitation.id == invitation_id))


def now():
    from panel.db import utcnow

    return utcnow()


def grace():
    from datetime import timedelta

    return timedelta(days=30)


def test_the_driver_is_used_only_for_psycopg(app):
    with engine_of(app).connect() as connection:
        assert uses_psycopg(connection) == ON_POSTGRES
        assert isinstance(connection, Connection)
