"""`medborgarpanel demo --seed-only` builds the demo municipality through the migrations."""

from click.testing import CliRunner
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from panel.demo import demo_command
from panel.models import District, Member, PopulationDataset, RecruitmentInvite, StaffUser


def test_demo_seeds_gotland_with_a_biased_panel(tmp_path, monkeypatch):
    monkeypatch.setenv("PANEL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)  # the demo is SQLite, even in the PostgreSQL run
    result = CliRunner().invoke(demo_command, ["--seed-only", "--members", "600"])
    assert result.exit_code == 0, result.output
    engine = create_engine(f"sqlite:///{tmp_path / 'demo.sqlite'}")
    with Session(engine) as session:
        assert session.scalar(select(func.count(District.id))) == 12  # Gotland's RegSO areas
        population = session.scalars(select(PopulationDataset)).one()
        assert population.total == 60124  # SCB, Gotland 2020-12-31
        assert session.scalar(select(func.count(Member.id))) == 600
        assert session.scalar(select(func.count(RecruitmentInvite.id))) == 1500
        wave_members = session.scalar(select(func.count(Member.id)).where(Member.source == "wave"))
        assert 0 < wave_members < 600
        women = session.scalar(select(func.count(Member.id)).where(Member.gender == "kvinna"))
        men = session.scalar(select(func.count(Member.id)).where(Member.gender == "man"))
        assert women > 1.05 * men  # the bias the demo is meant to show (population: 50.1 % women)
        assert {u.role for u in session.scalars(select(StaffUser))} == {"admin", "analyst", "committee"}
    again = CliRunner().invoke(demo_command, ["--seed-only"])
    assert again.exit_code == 0 and "already seeded" in again.output
    engine.dispose()
