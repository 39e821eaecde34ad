"""The response store: a report from compacted columns (plus the responses stored since)
is the report decoded from every stored JSON answer, whatever happened in between."""

from __future__ import annotations

import math
import zlib
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, func, select

from panel.db import utcnow
from surveys.answering.models import SurveyResponse
from surveys.results import services, store
from surveys.results.models import ResponseBlock
from surveys.results.services import build_report
from tests.surveys.results.builders import make_population, make_survey, random_answers

NOW = utcnow()


@pytest.fixture(autouse=True)
def _fresh_caches():
    services.clear_caches()
    yield
    services.clear_caches()


def _same(a, b, path=""):
    """Equal documents: every field, floats to 1e-9 relative (the rows may be summed in another order)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for key in a:
            _same(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _document(session, survey):
    return build_report(session, survey, now=NOW).to_dict()


def _decoded_document(session, survey):
    """The report as it is without any block: every response decoded from its JSON."""
    session.execute(delete(ResponseBlock).where(ResponseBlock.survey_id == survey.id))
    services.clear_caches()
    return _document(session, survey)


def _add_responses(session, survey, n, seed, **answers_override):
    rng = np.random.default_rng(seed)
    for i in range(n):
        gender, band = ("kvinna", "man")[i % 2], ("16-24", "45-54", "75+")[i % 3]
        answers = random_answers(rng, gender, band) | answers_override
        session.add(SurveyResponse(survey_id=survey.id, language="sv", submitted_at=NOW - timedelta(days=1),
                                   gender=gender, age_group=band, district_code="0980R001", answers=answers))
    session.flush()


def _block(session, survey):
    return session.scalars(select(ResponseBlock).where(ResponseBlock.survey_id == survey.id)).one_or_none()


def test_report_from_the_block_equals_the_report_decoded_from_json(session):
    survey = make_survey(session, n_invited=300, seed=31)
    make_population(session)
    # numbers that are not whole or beyond a byte are stored as 8-byte floats, text as codes
    _add_responses(session, survey, 3, seed=1, antal=1000)
    _add_responses(session, survey, 2, seed=2, antal=2.5, transport="other", **{"transport-other": "Tåg"})
    before = _document(session, survey)
    assert store.compact(session, survey) == before["fielding"]["responses"]
    block = _block(session, survey)
    assert block.rows == before["fielding"]["responses"] and block.format == store.FORMAT
    services.clear_caches()
    _same(_document(session, survey), before)
    assert store.compact(session, survey) is None  # up to date: nothing decoded or written


def test_block_rows_follow_the_random_ids_not_the_order_of_answering(session):
    survey = make_survey(session, n_invited=120, seed=32)
    store.compact(session, survey)
    block = _block(session, survey)
    ids = zlib.decompress(block.ids).decode().split("\n")
    assert ids == sorted(ids) == store.response_ids(session, survey)
    stored = store.decode(block.columns, services.definition_of(survey)).data
    row_ids, decoded = services.decode_responses(session, survey)
    expected = decoded.data.iloc[np.argsort(np.array(row_ids, dtype=object), kind="stable")].reset_index(drop=True)
    pd.testing.assert_frame_equal(stored, expected)
    for name in ("gender", "transport"):
        assert stored[name].dtype == object


def test_responses_stored_after_compaction_are_decoded_alone_and_counted(session, monkeypatch):
    survey = make_survey(session, n_invited=200, seed=33)
    make_population(session)
    store.compact(session, survey)
    _add_responses(session, survey, 7, seed=3)
    decoded_ids = []
    original = store.decode_responses

    def spy(session_, survey_, *, defn=None, ids=None):
        decoded_ids.append(None if ids is None else list(ids))
        return original(session_, survey_, defn=defn, ids=ids)

    monkeypatch.setattr(store, "decode_responses", spy)
    with_tail = _document(session, survey)
    assert len(decoded_ids) == 1 and len(decoded_ids[0]) == 7  # only the new ones
    monkeypatch.setattr(store, "decode_responses", original)
    _same(with_tail, _decoded_document(session, survey))
    total = session.scalar(select(func.count()).select_from(SurveyResponse).where(SurveyResponse.survey_id == survey.id))
    assert with_tail["fielding"]["responses"] == total
    assert store.compact(session, survey) == total  # the next compaction takes them in
    services.clear_caches()
    _same(_document(session, survey), with_tail)


def test_a_replaced_response_changes_the_cached_frame_and_the_block_is_not_used(session):
    survey = make_survey(session, n_invited=200, seed=34)
    store.compact(session, survey)
    first = services.cached_response_frame(session, survey)
    gone = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id).limit(1)).one()
    session.delete(gone)
    session.flush()
    _add_responses(session, survey, 1, seed=4, betyg=1)  # same count, another response
    second = services.cached_response_frame(session, survey)  # no clear_caches: the key must change
    assert second is not first
    assert len(second.data) == len(first.data)
    row_ids, decoded = services.decode_responses(session, survey)
    assert sorted(row_ids) == store.response_ids(session, survey)
    pd.testing.assert_series_equal(second.data["betyg"].sort_values(ignore_index=True),
                                   decoded.data["betyg"].sort_values(ignore_index=True))
    with_block = _document(session, survey)
    _same(with_block, _decoded_document(session, survey))
    assert store.compact(session, survey) == len(row_ids)


def test_retention_unlinking_identified_responses_keeps_the_block_and_the_report(session):
    from surveys.fielding.models import Invitation
    from surveys.retention import unlink_identified_responses

    survey = make_survey(session, n_invited=150, seed=35, anonymous=False)
    make_population(session)
    responses = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)).all()
    invitations = session.scalars(select(Invitation).where(Invitation.survey_id == survey.id,
                                                           Invitation.completed_at.is_not(None))).all()
    for response, invitation in zip(responses, invitations, strict=False):
        response.member_id, response.invitation_id = invitation.member_id, invitation.id
    session.flush()
    store.compact(session, survey)
    before = _document(session, survey)
    assert unlink_identified_responses(session, NOW, timedelta(days=0)) > 0
    session.expire_all()
    assert store.compact(session, survey) is None  # the answers did not change: the block stands
    services.clear_caches()
    _same(_document(session, survey), before)


def test_a_survey_whose_responses_are_all_gone_loses_its_block(session):
    survey = make_survey(session, n_invited=60, seed=36)
    store.compact(session, survey)
    session.execute(delete(SurveyResponse).where(SurveyResponse.survey_id == survey.id))
    assert store.compact(session, survey) == 0
    assert _block(session, survey) is None
    assert _document(session, survey)["fielding"]["responses"] == 0


def test_a_block_of_another_layout_or_format_is_not_used(session):
    survey = make_survey(session, n_invited=100, seed=37)
    make_population(session)
    store.compact(session, survey)
    block = _block(session, survey)
    block.layout = "0" * 64
    session.flush()
    services.clear_caches()
    _same(_document(session, survey), _decoded_document(session, survey))
    store.compact(session, survey)
    block = _block(session, survey)
    block.format = store.FORMAT + 1
    session.flush()
    assert store.compact(session, survey) is not None


def test_compact_command_writes_the_blocks_then_finds_them_up_to_date(runner, session):
    survey = make_survey(session, n_invited=80, seed=38)
    session.commit()
    result = runner.invoke(args=["results", "compact"])
    assert result.exit_code == 0, result.output
    assert f"survey {survey.id}:" in result.output
    session.expire_all()
    assert _block(session, survey) is not None
    again = runner.invoke(args=["results", "compact"])
    assert again.exit_code == 0 and "up to date" in again.output
