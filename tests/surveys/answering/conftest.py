"""Fixtures of the answering tests."""

from __future__ import annotations

import pytest

from tests.surveys.answering.builders import TWO_PAGES, invite, make_survey, start


@pytest.fixture
def respondent(client, session):
    """A resident on the first page of the two-page survey; ``respondent.invitation``."""
    survey = make_survey(session, TWO_PAGES)
    client.invitation, token = invite(session, survey)
    session.commit()
    start(client, token)
    return client
