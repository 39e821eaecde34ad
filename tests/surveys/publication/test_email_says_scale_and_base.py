"""The results email says a mean's scale, and for a question only some got, among how many.

A survey with a 1–5 scale and a page shown only to those who want a park is answered,
published from its real responses, and the queued Swedish email is read.
"""

from __future__ import annotations

from sqlalchemy import select

from panel.models import OutboxMessage
from panel.models.outbox import OutboxBody
from surveys.publication import services
from tests.surveys.publication.conftest import field_survey

DEFINITION = {
    "languages": ["sv"],
    "title": {"sv": "Parken"},
    "pages": [
        {"key": "p1", "questions": [
            {"key": "park", "type": "single_choice", "required": True, "text": {"sv": "Vill du ha en park?"},
             "options": [{"value": "ja", "label": {"sv": "Ja"}}, {"value": "nej", "label": {"sv": "Nej"}}]},
            {"key": "trygghet", "type": "scale", "text": {"sv": "Hur trygg känner du dig?"},
             "scale": {"min": 1, "max": 5}},
        ]},
        {"key": "p2", "condition": {"question": "park", "equals": "ja"}, "questions": [
            {"key": "what", "type": "single_choice", "text": {"sv": "Vad vill du ha i parken?"},
             "options": [{"value": "banker", "label": {"sv": "Bänkar"}}, {"value": "trad", "label": {"sv": "Träd"}}]},
        ]},
    ],
}
# 30 answered: the 20 who want a park got the second page (and answered it), the 10 others did not.
ANSWERS = ([{"park": "ja", "trygghet": 4, "what": "banker"}] * 12 + [{"park": "ja", "trygghet": 3, "what": "trad"}] * 8
           + [{"park": "nej", "trygghet": 2}] * 10)


def _email(app, session) -> str:
    fielded = field_survey(session, ANSWERS)
    fielded.survey.definition = DEFINITION
    session.commit()
    with app.app_context():
        services.publish(session, session.merge(fielded.survey), by=None, expected_version=1)
    session.commit()
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "report_published")
                                   .order_by(OutboxMessage.id)).first()
    body = session.get(OutboxBody, message.body_id)
    return " ".join(body.body_text.replace("\xa0", " ").split())


def test_the_email_says_the_scale_of_a_mean_and_the_base_of_a_question_only_some_got(app, session):
    text = _email(app, session)
    assert "Hur trygg känner du dig?: i genomsnitt 3,07 på skalan 1–5 (95 % konfidensintervall" in text, text
    # 12 of the 20 who got the question chose benches: said so, not as if 12 of all 30
    assert "Vad vill du ha i parken?: 60,0 % svarade Bänkar (bland de 20 som fick frågan och svarade på den," in text
    # everyone got the first page: no such words there
    assert "Vill du ha en park?: 66,7 % svarade Ja (95 % konfidensintervall" in text
    assert text.count("som fick frågan") == 1
