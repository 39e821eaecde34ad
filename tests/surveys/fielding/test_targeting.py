"""The target form, the preview before sending, bad input and who may see the pages."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from panel.db import utcnow
from panel.models import OutboxMessage
from surveys.fielding import services
from surveys.fielding.models import Invitation, SurveyFielding
from surveys.models import Survey
from tests.factories import make_staff
from tests.surveys.conftest import log_in
from tests.surveys.fielding.support import (
    send_now, base, configure, invitations, make_panel, make_survey, page, post,
)


def in_a_week() -> str:
    return (utcnow() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")


def form(**fields) -> dict:
    data = {"mode": "all", "allocation": "proportional", "age_min": "", "age_max": "", "sample_size": "",
            "seed": "", "contact_limit": "", "contact_window_days": "30", "reminder_after_days": "7",
            "max_reminders": "1", "opens_at": "", "closes_at": in_a_week()}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def panel(session):
    """A panel of 16 active members over two genders, two age bands and two districts, plus some who may not."""
    make_panel(session, [(6, "kvinna", 20, "0101"), (2, "kvinna", 20, "0102"), (4, "man", 40, "0101"),
                         (4, "man", 40, "0102")])
    make_panel(session, [(1, "kvinna", 40, "0101")], status="pending")
    make_panel(session, [(2, "man", 20, "0101")], status="unsubscribed")
    session.commit()


def nothing_written(session, survey_id):
    session.expire_all()
    return (session.get(SurveyFielding, survey_id) is None and invitations(session, survey_id) == []
            and session.scalar(select(func.count(OutboxMessage.id))) == 0)


def test_committee_members_cannot_see_or_send(client, session, example_text):
    survey = make_survey(session, example_text)
    committee = make_staff(session, role="committee")
    session.commit()
    assert client.get(f"{base(survey.id)}/").status_code == 302  # to the login page
    log_in(client, committee.email)
    for path in ("/", "/target", "/preview", "/stats"):
        assert client.get(f"{base(survey.id)}{path}").status_code == 403
    token = _token(client, "/staff/")  # a page committee members may see
    for path in ("/send", "/reminders", "/close", "/schedule"):
        assert client.post(f"{base(survey.id)}{path}", data={"csrf_token": token}).status_code == 403
    assert invitations(session, survey.id) == []


def test_an_unknown_survey_is_404(analyst):
    assert analyst.get(f"{base(9999)}/").status_code == 404
    assert analyst.get(f"{base(9999)}/preview").status_code == 404


def test_the_whole_panel_is_saved_and_previewed_per_stratum(analyst, session, panel, example_text):
    survey = make_survey(session, example_text)
    session.commit()
    target = f"{base(survey.id)}/target"
    status, html = page(analyst, target)
    assert status == 200 and 'type="datetime-local"' in html and "<legend>" in html
    response = post(analyst, target, form())
    assert response.status_code == 302 and response.headers["Location"].endswith("/preview")
    status, html = page(analyst, f"{base(survey.id)}/preview")
    assert status == 200
    assert "<strong>19</strong> i panelen" in html and "<strong>16</strong> får enkäten" in html
    assert "Har inte bekräftat sin anmälan</th><td class=\"num\">1" in html
    assert "Vill inte få mejl (avregistrerade)</th><td class=\"num\">2" in html
    assert "Skicka 16 inbjudningar" in html
    saved = session.get(SurveyFielding, survey.id)
    assert saved.mode == "all" and saved.seed is not None  # a seed is recorded even when not needed yet


def test_a_filter_on_age_gender_and_district(analyst, session, panel, example_text):
    survey = make_survey(session, example_text)
    session.commit()
    response = post(analyst, f"{base(survey.id)}/target",
                    form(age_min="16", age_max="25", genders=["kvinna"], districts=["0101"]))
    assert response.status_code == 302
    result = services.preview(session, session.get(Survey, survey.id))
    assert result.invited == 6
    assert result.excluded["outside_filter"] == 10
    assert [(r.gender, r.age_group, r.district_code, r.invited) for r in result.strata] == [
        ("kvinna", "16-24", "0101", 6)]


def test_a_stratified_sample_with_a_seed_is_drawn_as_previewed(app, analyst, session, panel, example_text):
    survey = make_survey(session, example_text)
    session.commit()
    response = post(analyst, f"{base(survey.id)}/target",
                    form(mode="sample", sample_size="8", allocation="equal", seed="2024"))
    assert response.status_code == 302
    status, html = page(analyst, f"{base(survey.id)}/preview")
    assert "slumpfrö 2024" in html and "<strong>8</strong> får enkäten" in html
    result = services.preview(session, session.get(Survey, survey.id))
    assert {(r.gender, r.district_code): r.invited for r in result.strata} == {
        ("kvinna", "0101"): 2, ("kvinna", "0102"): 2, ("man", "0101"): 2, ("man", "0102"): 2}
    assert result.excluded["not_sampled"] == 8
    post(analyst, f"{base(survey.id)}/send", token_from=f"{base(survey.id)}/preview")
    first = sorted(i.member_id for i in invitations(session, survey.id))
    assert len(first) == 8
    # The same seed on a copy of the survey draws the same members.
    again = make_survey(session, example_text)
    configure(session, again, mode="sample", sample_size=8, allocation="equal", seed=2024)
    session.commit()
    send_now(app, again.id)
    assert sorted(i.member_id for i in invitations(session, again.id)) == first


_STRATUM_ROW = re.compile(r'<tr><td>([^<]*)</td><td>([^<]*)</td>\s*<td>([^<]*)</td><td class="num">(\d+)</td>'
                          r'<td class="num">(\d+)</td></tr>')


def _previewed(analyst, survey_id) -> dict[tuple[str, str], int]:
    """The preview page's "Får enkäten" per (gender, district) as the analyst reads it."""
    status, html = page(analyst, f"{base(survey_id)}/preview")
    assert status == 200
    return {(gender, district): int(invited) for gender, _age, district, _n, invited in _STRATUM_ROW.findall(html)}


def test_a_proportional_sample_can_invite_members_of_small_strata_and_sends_as_previewed(
        app, analyst, session, panel, example_text):
    # 3 of 16 over strata of 6, 2, 4 and 4: quotas 1.125, 0.375, 0.75 and 0.75. Rounded by the largest
    # remainders the two members in kvinna/0102 could never be invited, whatever the seed.
    survey = make_survey(session, example_text)
    session.commit()
    small = ("Kvinna", "Område 0102")
    quotas = {("Kvinna", "Område 0101"): (1, 2), small: (0, 1), ("Man", "Område 0101"): (0, 1),
              ("Man", "Område 0102"): (0, 1)}
    chosen_with = None
    for seed in range(1, 31):
        assert post(analyst, f"{base(survey.id)}/target",
                    form(mode="sample", sample_size="3", seed=str(seed))).status_code == 302
        shown = _previewed(analyst, survey.id)
        assert set(shown) == set(quotas) and sum(shown.values()) == 3
        assert all(shown[key] in quotas[key] for key in quotas)  # each quota rounded down or up
        if shown[small]:
            chosen_with = seed, shown
            break
    assert chosen_with is not None, "the two members of kvinna/0102 were never invited"
    seed, shown = chosen_with
    # The same seed shows the same allocation again, and the send invites exactly what was shown.
    assert post(analyst, f"{base(survey.id)}/target",
                form(mode="sample", sample_size="3", seed=str(seed))).status_code == 302
    assert _previewed(analyst, survey.id) == shown
    post(analyst, f"{base(survey.id)}/send", token_from=f"{base(survey.id)}/preview")
    sent = Counter((i.gender.capitalize(), f"Område {i.district_code}") for i in invitations(session, survey.id))
    assert sent == Counter({key: count for key, count in shown.items() if count})


def test_contact_fatigue_counts_recent_invitations(app, analyst, session, panel, example_text):
    earlier = make_survey(session, example_text)
    configure(session, earlier, target=None)
    session.commit()
    send_now(app, earlier.id)
    # Five of them were invited long ago: those invitations no longer count.
    for invitation in invitations(session, earlier.id)[:5]:
        invitation.created_at = utcnow() - timedelta(days=45)
    session.commit()
    survey = make_survey(session, example_text)
    session.commit()
    assert post(analyst, f"{base(survey.id)}/target", form(contact_limit="1")).status_code == 302
    result = services.preview(session, session.get(Survey, survey.id))
    assert result.excluded["contact_limit"] == 11 and result.invited == 5
    status, html = page(analyst, f"{base(survey.id)}/preview")
    assert "Har redan fått för många inbjudningar under perioden</th><td class=\"num\">11" in html


@pytest.mark.parametrize("fields, message", [
    ({"mode": "sample", "sample_size": "17"}, "Urvalet kan inte vara större än de 16"),
    ({"mode": "sample", "sample_size": ""}, "Skriv hur många som ska ingå i urvalet"),
    ({"mode": "sample", "sample_size": "tio"}, "Skriv ett antal från 1 till 1 000 000"),
    ({"age_min": "90"}, "Ingen i panelen passar in på urvalet"),
    ({"age_min": "40", "age_max": "30"}, "Den lägsta åldern är högre än den högsta"),
    ({"districts": ["9999"]}, "Okänt val: 9999"),
    ({"closes_at": "imorgon"}, "Skriv datum och tid som 2026-05-04 18:00"),
    ({"closes_at": "2026-02-30T10:00"}, "Skriv datum och tid som 2026-05-04 18:00"),
    ({"closes_at": ""}, "Skriv när enkäten stänger"),
    ({"closes_at": "2001-01-01T10:00"}, "Stängningstiden har redan passerat"),
    ({"opens_at": (utcnow() + timedelta(days=9)).strftime("%Y-%m-%dT%H:%M")}, "måste stänga efter att den öppnar"),
    ({"mode": "alla"}, "Välj ett av alternativen"),
    ({"seed": "-1"}, "Skriv ett heltal från 0 till 2147483647"),
    ({"max_reminders": "9"}, "Skriv ett antal från 0 till 5"),
])
def test_bad_input_says_what_to_fix_and_writes_nothing(analyst, session, panel, example_text, fields, message):
    survey = make_survey(session, example_text)
    session.commit()
    response = post(analyst, f"{base(survey.id)}/target", form(**fields))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and 'class="error-summary"' in html
    assert nothing_written(session, survey.id)
    session.expire_all()
    assert session.get(Survey, survey.id).closes_at is None


def test_nul_and_huge_values_are_refused_cleanly(analyst, session, panel, example_text):
    survey = make_survey(session, example_text)
    session.commit()
    response = post(analyst, f"{base(survey.id)}/target", form(sample_size="1\x00", closes_at="9" * 10_000,
                                                                 seed="9" * 50))
    assert response.status_code == 400
    assert nothing_written(session, survey.id)


def test_a_send_refused_because_the_panel_shrank_writes_nothing(analyst, session, panel, example_text):
    survey = make_survey(session, example_text)
    configure(session, survey, mode="sample", sample_size=16)
    session.commit()
    from panel.models import Member
    session.scalars(select(Member).where(Member.status == "active")).first().status = "paused"
    session.commit()
    preview_path = f"{base(survey.id)}/preview"
    status, html = page(analyst, preview_path)
    assert "Urvalet kan inte vara större än de 15" in html and "Skicka 0" not in html
    response = post(analyst, f"{base(survey.id)}/send", {"csrf_token": _token(analyst, f"{base(survey.id)}/target")})
    assert response.status_code == 400
    assert "Urvalet kan inte vara större än de 15" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(SurveyFielding, survey.id).sent_at is None
    assert invitations(session, survey.id) == [] and session.get(Survey, survey.id).status == "draft"


def test_settings_cannot_change_after_sending(analyst, session, panel, example_text):
    survey = make_survey(session, example_text)
    configure(session, survey)
    session.commit()
    post(analyst, f"{base(survey.id)}/send", token_from=f"{base(survey.id)}/preview")
    response = analyst.get(f"{base(survey.id)}/target")
    assert response.status_code == 302
    response = analyst.post(f"{base(survey.id)}/target", data=form(mode="sample", sample_size="2",
                                                                   csrf_token=_token(analyst, f"{base(survey.id)}/")))
    assert response.status_code == 302
    session.expire_all()
    assert session.get(SurveyFielding, survey.id).mode == "all"
    assert session.scalar(select(func.count(Invitation.id))) == 16


def _token(client, path):
    from tests.conftest import csrf_token
    return csrf_token(client, path)
