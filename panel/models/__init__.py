"""All models, imported here so that metadata (and Alembic) sees every table."""

from panel.db import Base
from panel.models.audit import AuditEvent
from panel.models.jobs import JobRun
from panel.models.district import DesoDistrict, District, PostcodeDistrict
from panel.models.member import Consent, Member, MemberToken, PanelExit
from panel.models.outbox import OutboxMessage
from panel.models.population import PopulationDataset
from panel.models.recruitment import CodeAttempt, RecruitmentInvite, RecruitmentWave
from panel.models.staff import LoginFailure, StaffUser

__all__ = [
    "AuditEvent",
    "Base",
    "CodeAttempt",
    "Consent",
    "DesoDistrict",
    "District",
    "JobRun",
    "LoginFailure",
    "Member",
    "MemberToken",
    "OutboxMessage",
    "PanelExit",
    "PopulationDataset",
    "PostcodeDistrict",
    "RecruitmentInvite",
    "RecruitmentWave",
    "StaffUser",
]
