"""Builders for recruitment tests: a wave straight from the service, without the upload page."""

from panel.recruitment.services import create_wave
from tests.panel.recruitment.conftest import SAMPLE


def make_wave(app, session, sample: str = SAMPLE, **fields):
    """Create a wave through the service (in a request context, as the upload page does) and commit."""
    from panel.extensions import db
    from panel.models import RecruitmentWave

    with app.test_request_context():
        wave = create_wave(db.session, name=fields.pop("name", "Våren 2027"), sample=sample.encode(), **fields)
        db.session.commit()
        wave_id = wave.id
    return session.get(RecruitmentWave, wave_id)
