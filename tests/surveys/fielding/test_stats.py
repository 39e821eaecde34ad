"""Invited / opened / started / completed per stratum and per margin, as they are at each reload."""

from __future__ import annotations

from sqlalchemy import update

from panel.db import utcnow
from surveys.fielding import services
from surveys.fielding.models import Invitation
from surveys.models import Survey
from tests.surveys.fielding.support import (
    as_cli, send_now, base, configure, invitations, make_panel, make_survey, page,
)


def progress(session, ids, *columns):
    session.execute(update(Invitation).where(Invitation.id.in_(ids)).values({c: utcnow() for c in columns}))
    session.commit()


def test_counts_per_stratum_and_margin(app, analyst, session, example_text):
    make_panel(session, [(3, "kvinna", 20, "0101"), (2, "man", 70, "0101"), (1, "man", 70, "0102")])
    survey = make_survey(session, example_text)
    configure(session, survey)
    session.commit()
    send_now(app, survey.id)
    rows = invitations(session, survey.id)
    women = [r.id for r in rows if r.gender == "kvinna"]
    men = [r.id for r in rows if r.gender == "man" and r.district_code == "0101"]
    progress(session, women, "opened_at")
    progress(session, women[:2], "started_at")
    progress(session, women[:1], "completed_at")
    progress(session, men[:1], "opened_at", "started_at", "completed_at")

    stats = services.fielding_stats(session, session.get(Survey, survey.id))
    assert (stats.total.invited, stats.total.opened, stats.total.started, stats.total.completed) == (6, 4, 3, 2)
    strata = {key: (t.invited, t.opened, t.started, t.completed) for key, t in stats.strata}
    assert strata == {("kvinna", "16-24", "0101"): (3, 3, 2, 1), ("man", "65-74", "0101"): (2, 1, 1, 1),
                      ("man", "65-74", "0102"): (1, 0, 0, 0)}
    assert [(k, t.completed, t.invited) for k, t in stats.by_gender] == [("kvinna", 1, 3), ("man", 1, 3)]
    assert [(k, t.invited) for k, t in stats.by_age_group] == [("16-24", 3), ("65-74", 3)]
    assert [(k, t.opened) for k, t in stats.by_district] == [("0101", 4), ("0102", 0)]

    status, html = page(analyst, f"{base(survey.id)}/stats")
    assert status == 200
    cells = '<td class="num">3</td><td class="num">3</td><td class="num">2</td>'
    assert f'<th scope="row">Kvinna</th>{cells}' in html
    assert "<th scope=\"row\">Område 0102</th><td class=\"num\">1</td><td class=\"num\">0</td>" in html
    assert "<td class=\"num\">33\xa0%</td>" in html  # 1 of 3 women answered

    # A reload shows what happened since.
    progress(session, [rows[-1].id], "opened_at", "started_at", "completed_at")
    status, html = page(analyst, f"{base(survey.id)}/stats")
    assert "<strong>3</strong> har svarat" in html


def test_members_who_leave_stay_in_the_statistics(app, session, example_text):
    from panel.members.services import leave
    from panel.models import Member

    members = make_panel(session, [(2, "kvinna", 20, "0101")])
    survey = make_survey(session, example_text)
    configure(session, survey)
    session.commit()
    send_now(app, survey.id)
    with as_cli(app) as db_session:
        leave(db_session, db_session.get(Member, members[0].id))
        db_session.commit()
    rows = invitations(session, survey.id)
    assert sorted(r.member_id is None for r in rows) == [False, True]
    assert services.fielding_stats(session, session.get(Survey, survey.id)).total.invited == 2


def test_an_unsent_survey_has_an_empty_statistics_page(analyst, session, example_text):
    survey = make_survey(session, example_text)
    session.commit()
    status, html = page(analyst, f"{base(survey.id)}/stats")
    assert status == 200 and "Inga inbjudningar är skickade ännu" in html
    status, html = page(analyst, f"{base(survey.id)}/")
    assert status == 200 and "Välj vem som får enkäten" in html
