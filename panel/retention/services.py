"""Retention rules and the run that applies them.

Each ``Rule`` names what it removes, the setting that holds its period (days, or hours
for unconfirmed sign-ups) and a ``purge`` function. ``run`` applies every rule once and
records one audit event per rule that removed something (kind, rows, period — never the
removed data). Rules are idempotent: a second run right after the first removes nothing.
``surveys.retention`` registers the rules for survey data (panel does not import surveys).

Services: they take a Session and never commit; ``medborgarpanel retention run`` and the
scheduled jobs commit after each rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, delete, or_, select, update
from sqlalchemy.orm import Session

from panel import audit
from panel.db import utcnow
from panel.mail.services import purge_sent
from panel.members import services as members
from panel.models import (CodeAttempt, LoginFailure, Member, OutboxMessage, RecruitmentInvite,
                          RecruitmentWave)
from panel.models.member import RequestRecord
from panel.models.member import MemberStatus
from panel.models.outbox import OutboxStatus
from panel.models.recruitment import WaveStatus


@dataclass(frozen=True)
class Rule:
    name: str  # stable key, in the audit log
    setting: str  # the config key holding the period
    unit: str  # "days" or "hours"
    what: Any  # what is removed (lazy Swedish text, for the DPO page)
    purge: Callable[[Session, datetime, timedelta], int]

    def period(self, config: Mapping[str, Any]) -> timedelta:
        value = int(config[self.setting])
        if value < 0:
            raise ValueError(f"{self.setting} must be 0 or more")
        return timedelta(hours=value) if self.unit == "hours" else timedelta(days=value)


RULES: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    RULES[rule.name] = rule
    return rule


@dataclass(frozen=True)
class Purged:
    rule: str
    rows: int
    period: str


def run(session: Session, config: Mapping[str, Any], *, now: datetime | None = None,
        after_each: Callable[[Purged], None] | None = None) -> list[Purged]:
    """Apply every rule; ``after_each`` (e.g. commit) runs after each one."""
    now = now or utcnow()
    results = []
    for rule in RULES.values():
        period = rule.period(config)
        rows = rule.purge(session, now, period)
        result = Purged(rule=rule.name, rows=rows, period=f"{config[rule.setting]} {rule.unit}")
        if rows:
            audit.record(session, actor=None, action="retention.purge", target=("retention_rule", rule.name),
                         detail={"rule": rule.name, "rows": rows, "period": result.period})
        results.append(result)
        if after_each is not None:
            after_each(result)
    return results


# ---------------------------------------------------------------- the panel's own rules


def purge_recruitment_letters(session: Session, now: datetime, period: timedelta) -> int:
    """Waves older than the period: names, addresses and register references of the
    sampled people are erased (strata stay, so join rates still count) and the wave
    is closed, so its unused codes no longer work. Returns the invites erased."""
    old_waves = select(RecruitmentWave.id).where(RecruitmentWave.created_at < now - period)
    erased = session.execute(
        update(RecruitmentInvite)
        .where(RecruitmentInvite.wave_id.in_(old_waves),
               or_(RecruitmentInvite.name.is_not(None), RecruitmentInvite.address_line1.is_not(None),
                   RecruitmentInvite.address_line2.is_not(None), RecruitmentInvite.postcode.is_not(None),
                   RecruitmentInvite.city.is_not(None), ~RecruitmentInvite.person_ref.startswith("raderad-")))
        .values(name=None, address_line1=None, address_line2=None, postcode=None, city=None,
                person_ref="raderad-" + RecruitmentInvite.id.cast(String(64)))
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    session.execute(update(RecruitmentWave).where(RecruitmentWave.id.in_(old_waves),
                                                  RecruitmentWave.status != WaveStatus.CLOSED)
                    .values(status=WaveStatus.CLOSED).execution_options(synchronize_session=False))
    return erased


def purge_sent_mail(session: Session, now: datetime, period: timedelta) -> int:
    return purge_sent(session, older_than=period, now=now)


def purge_unconfirmed_signups(session: Session, now: datetime, period: timedelta) -> int:
    """Sign-ups never confirmed within the confirmation period (members.purge_unconfirmed)."""
    return members.purge_unconfirmed(session, now=now)


def purge_inactive_members(session: Session, now: datetime, period: timedelta) -> int:
    """Members who unsubscribed from all mail and changed nothing for the period are
    removed as if they had left (anonymous statistics row kept), without a goodbye email."""
    stale = session.scalars(select(Member).where(Member.status == MemberStatus.UNSUBSCRIBED,
                                                 Member.updated_at < now - period)).all()
    for member in stale:
        address = member.email
        members.leave(session, member, now=now)
        # leave() writes a goodbye email; someone who asked for no mail gets none.
        session.execute(delete(OutboxMessage).where(OutboxMessage.to_address == address,
                                                    OutboxMessage.kind == "left",
                                                    OutboxMessage.status == OutboxStatus.QUEUED)
                        .execution_options(synchronize_session=False))
    return len(stale)


# Rows that only count attempts per address (login, recruitment codes, sign-ups, links) for
# throttling; other packages add theirs (surveys: unknown survey links).
THROTTLE_TABLES: list = [LoginFailure, CodeAttempt, RequestRecord]


def purge_throttle_records(session: Session, now: datetime, period: timedelta) -> int:
    """Failed logins, wrong codes and counted requests (email, IP address) older than the
    period: the throttles look back minutes, not days."""
    removed = 0
    for model in THROTTLE_TABLES:
        removed += session.execute(delete(model).where(model.at < now - period)
                                   .execution_options(synchronize_session=False)).rowcount or 0
    return removed


register(Rule("recruitment_letters", "PANEL_RETAIN_RECRUITMENT_DAYS", "days",
              _l("Namn, adresser och registerreferenser i rekryteringsurval (koderna slutar gälla)"),
              purge_recruitment_letters))
register(Rule("sent_mail", "PANEL_RETAIN_SENT_MAIL_DAYS", "days",
              _l("Skickade e-postmeddelanden (adress, text och personliga länkar)"), purge_sent_mail))
register(Rule("unconfirmed_signups", "PANEL_CONFIRM_HOURS", "hours",
              _l("Anmälningar som aldrig bekräftades"), purge_unconfirmed_signups))
register(Rule("inactive_members", "PANEL_RETAIN_INACTIVE_DAYS", "days",
              _l("Medlemmar som avregistrerat sig från all e-post och inte ändrat något sedan dess"),
              purge_inactive_members))
register(Rule("throttle_records", "PANEL_RETAIN_THROTTLE_DAYS", "days",
              _l("Misslyckade inloggningar, felaktiga koder och räknade förfrågningar (e-post- och IP-adresser) för spärrar mot gissningar"),
              purge_throttle_records))
