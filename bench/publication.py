"""Publishing a report with the feedback email to every active member: seconds for N members.

Run by hand (not a test), from a checkout:

    .venv/bin/python bench/publication.py --members 50000
    .venv/bin/python bench/publication.py --members 50000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_publication

The tables of the named database are dropped and created again (never point this at a
database you care about; create it first with ``createdb``).

Setup, not timed: N active members (inserted in bulk), a closed survey with a few
respondents, and a small report document (the test suite's, from ``analysis``). Timed:
``surveys.publication.services.publish(..., notify_all_members=True)`` - suppress the
document, store the version, select the recipients, render the email once per language,
make N unsubscribe links and bulk-insert N outbox rows and N delivery rows - and the commit:
what the "Publicera" button does when the analyst chooses to mail every active member.

Printed: wall time and this process's CPU time (the database server's CPU is not in it),
the outbox rows, the shared bodies, and the characters of email body stored (the rows'
own bodies plus the shared bodies they point at).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select  # noqa: E402

import panel.models  # noqa: E402,F401
import surveys.models  # noqa: E402,F401
from panel.app import create_app  # noqa: E402
from panel.db import Base, utcnow  # noqa: E402
from panel.models import District, Member, OutboxMessage  # noqa: E402
from panel.models.outbox import OutboxBody  # noqa: E402
from surveys.publication import services  # noqa: E402
from tests.surveys.publication.conftest import field_survey  # noqa: E402
from tests.surveys.publication.support import document_from_answers, park_answers  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url, "PANEL_BASE_URL": "https://panel.example.se"})
    engine = app.extensions["database"].kw["bind"]
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with app.app_context():
        session = app.extensions["database"]()
        district = District(code="B1", name="Bänkarna")
        session.add(district)
        session.flush()
        now = utcnow()
        session.execute(insert(Member), [
            {"email": f"medlem{i}@example.se", "birth_year": 1970, "gender": "kvinna", "district_id": district.id,
             "status": "active", "language": "en" if i % 10 == 0 else "sv", "source": "open", "created_at": now,
             "updated_at": now} for i in range(args.members)])
        session.commit()
        fielded = field_survey(session, [{"park": "ja"}] * 12)
        session.commit()
        document = document_from_answers(park_answers(), survey_id=fielded.survey.id).to_dict()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = services.publish(session, fielded.survey, by=None, expected_version=1, notify_all_members=True,
                                  document=document)
        session.commit()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        rows = session.scalar(select(func.count()).select_from(OutboxMessage))
        own = session.scalar(select(func.coalesce(func.sum(func.length(OutboxMessage.body_text)
                                                             + func.length(OutboxMessage.body_html)), 0)))
        bodies = session.scalar(select(func.count()).select_from(OutboxBody))
        shared = session.scalar(select(func.coalesce(func.sum(func.length(OutboxBody.body_text)
                                                            + func.length(OutboxBody.body_html)), 0)))
        on_disk = ""
        if engine.dialect.name == "postgresql":
            size = session.scalar(select(func.pg_total_relation_size("outbox_message")
                                         + func.pg_total_relation_size("outbox_body")))
            on_disk = f", outbox tables {size / 1e6:.0f} MB on disk"
    print(f"{engine.dialect.name}: {result.emails} feedback emails queued with the publication in {elapsed:.2f} s "
          f"wall, {cpu:.2f} s CPU (this process); {rows} outbox rows, {bodies} shared bodies, "
          f"{own + shared:,} characters of body stored{on_disk}")


if __name__ == "__main__":
    main()
