"""The publish button's hidden version number: "²" passes str.isdigit() but not int() (it was a 500)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from surveys.publication.models import PublishedReport
from tests.conftest import csrf_token
from tests.surveys.publication.conftest import field_survey


@pytest.mark.parametrize("version", ["²", "١²", "0", "-1", " "])
def test_an_odd_version_number_is_refused_and_nothing_is_published(session, analyst, client, version):
    fielded = field_survey(session, [{"park": "ja", "visits": 3, "comment": None}] * 8)
    session.commit()
    path = f"/staff/surveys/{fielded.survey.id}/publication"
    response = client.post(path + "/publish", data={"csrf_token": csrf_token(client, path), "version": version})
    assert response.status_code == 400 and "inaktuell" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(PublishedReport)) == 0
