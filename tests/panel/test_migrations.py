"""The schema is created by Alembic migrations; tests use create_all. Both must agree."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

import panel.models  # noqa: F401
from panel import migrations
from panel.db import Base
from tests.conftest import ON_POSTGRES, POSTGRES_URL

try:
    import surveys.models  # noqa: F401
except ImportError:  # pragma: no cover
    pass


@pytest.fixture
def empty_database_url(tmp_path):
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        return
    name = f"panel_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrations_build_exactly_the_models_schema(empty_database_url):
    migrations.upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == [], "models and migrations disagree; write a migration:\n" + "\n".join(map(str, diff))


def test_migrations_go_down_to_an_empty_database(empty_database_url):
    migrations.upgrade(empty_database_url)
    migrations.downgrade(empty_database_url, "base")
    engine = create_engine(empty_database_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_db_upgrade_command(runner, tmp_path, app):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    app.config["DATABASE_URL"] = url
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    assert "member" in inspect(engine).get_table_names()
    engine.dispose()
