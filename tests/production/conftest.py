"""Fixtures for the production tests: real gunicorn, dispatcher and SMTP processes on 127.0.0.1.

These tests need PostgreSQL (several processes writing at once, row locks, SKIP LOCKED):
with SQLite they are skipped with the reason. CI runs them in its PostgreSQL pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ON_POSTGRES
from tests.production.harness import FaultySMTP

ON_SQLITE_REASON = ("needs PostgreSQL: several gunicorn workers and dispatcher processes write at once "
                    "(SQLite has one writer); run with DATABASE_URL=postgresql+psycopg://...")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason=ON_SQLITE_REASON)
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.postgres_only)
            if not ON_POSTGRES:
                item.add_marker(skip)


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    folder = tmp_path / "instance"
    folder.mkdir()
    return folder


@pytest.fixture
def smtp() -> Iterator[FaultySMTP]:
    server = FaultySMTP().start()
    yield server
    server.stop()
