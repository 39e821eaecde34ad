"""What residents typed reaches staff pages and published reports escaped, and free text reaches
committee members and the public only when an analyst has approved it (issue 5)."""

from __future__ import annotations

from tests.security.conftest import csrf_of
from tests.surveys.publication.conftest import field_survey

XSS = '<script>alert("fritext")</script><img src=x onerror=alert(1)>'
RAW = ("<script>alert(", "<img src=x onerror")


def test_free_text_with_markup_is_escaped_and_not_published_unapproved(app, session, clients):
    answers = [{"park": "ja" if n % 3 else "nej", "visits": n, "comment": f"{XSS} nummer {n}"} for n in range(30)]
    fielded = field_survey(session, answers)
    survey_id = fielded.survey.id
    session.commit()
    analyst, committee, public = clients["analyst"], clients["committee"], clients["anonymous"]
    base = f"/staff/surveys/{survey_id}/publication"
    free = analyst.get(base + "/free-text")
    assert free.status_code == 200 and "nummer 3" in free.get_data(as_text=True)
    for path in (base, base + "/free-text", f"/staff/surveys/{survey_id}/report"):
        page = analyst.get(path).get_data(as_text=True)
        assert not any(raw in page for raw in RAW), path
    published = analyst.post(base + "/publish", data={"csrf_token": csrf_of(analyst, base), "version": "1"})
    assert published.status_code == 302
    for client, path in ((committee, f"/committee/reports/{survey_id}"),
                         (committee, f"/committee/reports/{survey_id}/versions/1/print"),
                         (public, f"/resultat/{survey_id}")):
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert "nummer 3" not in page, f"unapproved free text on {path}"
        assert not any(raw in page for raw in RAW), path
