"""What the DPO page shows, and register extracts (GDPR art. 15) made by an administrator.

Services: take a Session, never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from markdown_it import MarkdownIt
from sqlalchemy import select
from sqlalchemy.orm import Session

from panel import audit
from panel.db import utcnow
from panel.members import services as members
from panel.models import AuditEvent, JobRun, Member, StaffUser
from panel.retention.services import RULES

DEFAULT_LEGAL_BASIS = _l(
    "Samtycke (dataskyddsförordningen artikel 6.1 a): den som går med godkänner panelens villkor och "
    "kan när som helst lämna panelen, och då raderas uppgifterna om personen."
)


@dataclass(frozen=True)
class StoredData:
    what: Any
    why: Any
    kept: Any


# What the panel stores, in the order a resident meets it. The periods of the rows whose
# deletion is scheduled come from the retention rules (RetentionRow below).
STORED: tuple[StoredData, ...] = (
    StoredData(_l("Rekryteringsurval: namn, adress, kön, födelseår, område och en kod per person"),
               _l("Skicka brev med inbjudan och räkna hur många i varje grupp som gick med"),
               _l("Namn och adress raderas efter den tid som anges nedan; kön, födelseår och område finns kvar för statistiken")),
    StoredData(_l("Medlemmar: e-postadress, födelseår, kön, område, postnummer (frivilligt), språk, status"),
               _l("Skicka enkäter och vikta resultaten så att de speglar kommunens befolkning"),
               _l("Tills medlemmen lämnar panelen; den som lämnar raderas direkt och bara en anonym rad för statistik sparas")),
    StoredData(_l("Samtycken: vilken version av villkoren och när"),
               _l("Visa att medlemmen har godkänt villkoren"), _l("Lika länge som medlemmen")),
    StoredData(_l("Inbjudningar till enkäter: vem som bjöds in, öppnade, började och svarade"),
               _l("Skicka påminnelser bara till dem som inte svarat och följa svarsfrekvensen"),
               _l("Kopplingen till medlemmen försvinner när medlemmen lämnar panelen")),
    StoredData(_l("Svar på enkäter: svaren, kön och område vid svarstillfället och åldersgrupp det år inbjudan skickades"),
               _l("Analys och rapporter"),
               _l("Anonyma svar (standard) har ingen koppling till personen. Identifierade svar kopplas loss efter tiden nedan")),
    StoredData(_l("E-post: adress, text och personliga länkar i utskickskön"),
               _l("Skicka e-post och visa misslyckade utskick"), _l("Skickade meddelanden raderas efter tiden nedan")),
    StoredData(_l("Granskningslogg: personalens inloggningar och åtgärder (personalens e-postadress, IP-adress)"),
               _l("Spårbarhet och säkerhet"),
               _l("Sparas utan tidsgräns och kan inte ändras; innehåller inga uppgifter om invånare utöver id-nummer")),
)


@dataclass(frozen=True)
class RetentionRow:
    name: str
    what: Any
    value: int
    unit: str  # "days" or "hours"
    setting: str


def retention_rows(config: Mapping[str, Any]) -> list[RetentionRow]:
    return [RetentionRow(rule.name, rule.what, int(config[rule.setting]), rule.unit, rule.setting)
            for rule in RULES.values()]


@dataclass(frozen=True)
class PrivacySettings:
    controller: str
    legal_basis: str
    dpo_contact: str | None
    text_html: str | None  # the municipality's own text (PANEL_PRIVACY_TEXT_FILE), rendered
    text_problem: str | None


def settings(config: Mapping[str, Any]) -> PrivacySettings:
    text_html = problem = None
    path = config.get("PANEL_PRIVACY_TEXT_FILE")
    if path:
        try:
            source = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problem = f"{path}: {error}"
        else:
            text_html = MarkdownIt("commonmark", {"html": False}).render(source)
    return PrivacySettings(
        controller=config.get("PANEL_PRIVACY_CONTROLLER") or str(config.get("PANEL_MUNICIPALITY", "")),
        legal_basis=config.get("PANEL_PRIVACY_LEGAL_BASIS") or str(DEFAULT_LEGAL_BASIS),
        dpo_contact=config.get("PANEL_PRIVACY_DPO_CONTACT"),
        text_html=text_html,
        text_problem=problem,
    )


def recent_purges(session: Session, limit: int = 20) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "retention.purge")
                                .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)))


def retention_job(session: Session) -> JobRun | None:
    return session.get(JobRun, "retention")


def register_extract(session: Session, email: str, *, actor: StaffUser, remote_addr: str | None,
                     now: datetime | None = None) -> dict[str, Any] | None:
    """Everything stored about the member with this email (the member's own "download my
    data" export, with a header saying who made it), or None for no such member. The
    extract is recorded in the audit log with the member's id, never the address."""
    member = session.scalar(select(Member).where(Member.email == members.normalise_email(email)))
    if member is None:
        return None
    now = now or utcnow()
    data = {"extract": {"made_at": now.isoformat(), "made_by": actor.email,
                        "kind": "registerutdrag (dataskyddsförordningen artikel 15)"}}
    data.update(members.export_member_data(session, member, now=now))
    audit.record(session, actor=actor, action="privacy.register_extract", target=member, remote_addr=remote_addr)
    return data
