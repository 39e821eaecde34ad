"""From target to answers: a stratified sample is invited over SMTP, residents answer with the
emailed links on the answering pages, the counts per stratum follow, and the reminders go
only to those who have not answered."""

from __future__ import annotations

import json
import re

from sqlalchemy import update

from panel.db import utcnow
from surveys.authoring import services as authoring
from surveys.fielding.models import Invitation
from tests.surveys.fielding.support import base, deliver, invitations, make_panel, page, post, survey_link

SHORT = {
    "languages": ["sv", "en"],
    "title": {"sv": "Kort enkät", "en": "Short survey"},
    "pages": [
        {"key": "p1", "questions": [
            {"key": "farg", "type": "single_choice", "required": True, "text": {"sv": "Färg?", "en": "Colour?"},
             "options": [{"value": "rod", "label": {"sv": "Röd", "en": "Red"}},
                         {"value": "bla", "label": {"sv": "Blå", "en": "Blue"}}]}]},
        {"key": "p2", "questions": [
            {"key": "tycker", "type": "long_text", "text": {"sv": "Vad tycker du?", "en": "What do you think?"},
             "max_length": 300}]},
    ],
}
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def token_on(html: str) -> str:
    match = CSRF.search(html)
    assert match, html[:500]
    return match.group(1) or match.group(2)


def answer(app, link: str, answers: list[dict], *, finish: bool = True) -> None:
    """A resident with their own browser: open the link, start, answer page by page."""
    resident = app.test_client()
    landing = resident.get(link)
    assert landing.status_code == 200
    started = resident.post(link, data={"csrf_token": token_on(landing.get_data(as_text=True)), "language": ""})
    assert started.status_code == 302
    path = resident.get(started.headers["Location"]).headers.get("Location", started.headers["Location"])
    for number, data in enumerate(answers):
        if number == len(answers) - 1 and not finish:
            return
        form = resident.get(path)
        assert form.status_code == 200, path
        response = resident.post(path, data={"csrf_token": token_on(form.get_data(as_text=True)), "nav": "next",
                                             **data})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        path = response.headers["Location"]
    assert "/thanks" in path


def test_sample_invite_answer_count_and_remind(app, analyst, session, smtp_server):
    make_panel(session, [(4, "kvinna", 20, "0101"), (4, "man", 70, "0102")])
    survey = authoring.import_survey(session, text=json.dumps(SHORT), format="json", title="Kort", created_by=None)
    session.commit()
    target = f"{base(survey.id)}/target"
    response = post(analyst, target, {
        "mode": "sample", "sample_size": "6", "allocation": "proportional", "seed": "11",
        "contact_window_days": "30", "reminder_after_days": "3", "max_reminders": "1",
        "closes_at": "2099-01-01T12:00"})
    assert response.status_code == 302
    assert post(analyst, f"{base(survey.id)}/send", token_from=f"{base(survey.id)}/preview").status_code == 302
    assert deliver(app).sent == 6
    links = {str(m["To"]): survey_link(m) for m in smtp_server.messages}
    addresses = sorted(links)

    answer(app, links[addresses[0]], [{"farg": "rod"}, {"tycker": "Bra."}])
    answer(app, links[addresses[1]], [{"farg": "bla"}, {"tycker": ""}])
    answer(app, links[addresses[2]], [{"farg": "bla"}, {}], finish=False)  # started, not finished
    assert app.test_client().get(links[addresses[3]]).status_code == 200  # only opened

    status, html = page(analyst, f"{base(survey.id)}/stats")
    assert "<strong>6</strong> inbjudna" in html and "<strong>4</strong> har öppnat" in html
    assert "<strong>3</strong> har börjat" in html and "<strong>2</strong> har svarat" in html
    rows = invitations(session, survey.id)
    assert sorted((r.gender, r.age_group) for r in rows) == [("kvinna", "16-24")] * 3 + [("man", "65-74")] * 3

    smtp_server.clear()
    session.execute(update(Invitation).where(Invitation.survey_id == survey.id)
                    .values(sent_at=utcnow().replace(year=utcnow().year - 1)))
    session.commit()
    assert post(analyst, f"{base(survey.id)}/reminders", token_from=f"{base(survey.id)}/").status_code == 302
    assert deliver(app).sent == 4
    reminded = sorted(str(m["To"]) for m in smtp_server.messages)
    assert reminded == addresses[2:]
    assert all(survey_link(m) == links[str(m["To"])] for m in smtp_server.messages)
