"""What the staff start page counts: members by status and by source, and the panel's composition.

Services take a Session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.targets.agebands import DEFAULT_AGE_BANDS
from panel.models import District, Member, RecruitmentWave
from panel.models.member import Gender, MemberSource, MemberStatus

# The members the composition describes: those who can be asked to answer surveys.
IN_PANEL = (MemberStatus.ACTIVE, MemberStatus.PAUSED)
NO_AGE_BAND = "-"


@dataclass(frozen=True)
class Count:
    key: str  # a status, gender, age band, district name or source
    count: int
    share: float | None  # of the table's total


@dataclass(frozen=True)
class PanelOverview:
    total: int  # every member, pending included
    in_panel: int  # active and paused
    by_status: list[Count]
    by_source: list[Count]  # "open" and each wave's name, over members in the panel
    by_gender: list[Count]
    by_age_band: list[Count]
    by_district: list[Count]


def _counts(pairs: list[tuple[str, int]]) -> list[Count]:
    total = sum(n for _, n in pairs)
    return [Count(key, n, n / total if total else None) for key, n in pairs]


def panel_overview(session: Session, *, today: date) -> PanelOverview:
    """Counts for the start page; ages are those reached in ``today``'s year, in the default bands."""
    statuses = dict(session.execute(select(Member.status, func.count()).group_by(Member.status)).all())
    in_panel = Member.status.in_(IN_PANEL)

    wave_names = dict(session.execute(select(RecruitmentWave.id, RecruitmentWave.name)).all())
    sources = session.execute(select(Member.source, Member.recruitment_wave_id, func.count())
                              .where(in_panel).group_by(Member.source, Member.recruitment_wave_id)
                              .order_by(Member.recruitment_wave_id)).all()
    by_source = [(MemberSource.OPEN, n) for source, _wave, n in sources if source == MemberSource.OPEN]
    by_source += [(wave_names.get(wave, f"#{wave}"), n) for source, wave, n in sources if source != MemberSource.OPEN]

    genders = dict(session.execute(select(Member.gender, func.count()).where(in_panel).group_by(Member.gender)).all())
    years = session.execute(select(Member.birth_year, func.count()).where(in_panel).group_by(Member.birth_year)).all()
    bands = {label: 0 for label in DEFAULT_AGE_BANDS.labels}
    for birth_year, n in years:
        label = DEFAULT_AGE_BANDS.label_for(today.year - birth_year) or NO_AGE_BAND
        bands[label] = bands.get(label, 0) + n
    districts = session.execute(
        select(District.name, func.count(Member.id))
        .outerjoin(Member, (Member.district_id == District.id) & in_panel)
        .group_by(District.id, District.name).order_by(District.name)).all()

    return PanelOverview(
        total=sum(statuses.values()),
        in_panel=sum(statuses.get(s, 0) for s in IN_PANEL),
        by_status=_counts([(status, statuses.get(status, 0)) for status in MemberStatus]),
        by_source=_counts(by_source),
        by_gender=_counts([(gender, genders.get(gender, 0)) for gender in Gender]),
        by_age_band=_counts(list(bands.items())),
        by_district=_counts([(name, n) for name, n in districts]),
    )
